"""Score distribution per source channel per week (R4.1): is a channel sending worse leads?"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

BANDS = ((0, 40, "low"), (40, 80, "medium"), (80, 101, "high"))


@dataclass(frozen=True)
class WeekOfSource:
    source: str
    week: date  # the Monday, in the organisation's zone
    leads: int
    scored: int
    mean: float | None
    p25: float | None
    median: float | None
    p75: float | None
    bands: dict[str, int]


def week_start(at: datetime, zone: ZoneInfo) -> date:
    day = at.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def summarise(rows: Iterable[tuple[str, datetime, int | None]], zone: ZoneInfo) -> list[WeekOfSource]:
    """Rows are (source, created_at, score); unscored leads count in ``leads`` but not in the figures."""
    groups: dict[tuple[str, date], list[int | None]] = defaultdict(list)
    for source, created, score in rows:
        groups[(source, week_start(created, zone))].append(score)
    return [_week(source, week, scores) for (source, week), scores in sorted(groups.items())]


def _week(source: str, week: date, scores: list[int | None]) -> WeekOfSource:
    known = np.array([s for s in scores if s is not None], dtype=float)
    bands = {name: int(((known >= lo) & (known < hi)).sum()) for lo, hi, name in BANDS}
    if not known.size:
        return WeekOfSource(source, week, len(scores), 0, None, None, None, None, bands)
    p25, median, p75 = (float(v) for v in np.percentile(known, [25, 50, 75]))
    return WeekOfSource(source, week, len(scores), int(known.size), round(float(known.mean()), 2), p25, median, p75,
                        bands)
