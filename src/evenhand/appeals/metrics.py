"""Appeal metrics: how many, how many still open, how long a ruling takes, and how rulings come out.

Pure: plain facts in, figures out. An appeal counts as *decided* once a supervisor ruled on it
(upheld, re-scored or reassigned); a withdrawn appeal is counted but is neither open nor decided.
Hours to decision run from filing to ruling; outcome shares are shares of the decided appeals (None
while nothing is decided).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean, median

OUTCOMES = ("upheld", "rescored", "reassigned")


@dataclass(frozen=True, slots=True)
class AppealFact:
    team_id: int | None
    status: str
    created_at: datetime
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    count: int
    open: int
    decided: int
    withdrawn: int
    median_hours: float | None
    mean_hours: float | None
    outcomes: dict[str, float | None]


def figures(facts: Iterable[AppealFact]) -> Figures:
    items = list(facts)
    ruled = [f for f in items if f.status in OUTCOMES]
    hours = [(f.decided_at - f.created_at).total_seconds() / 3600 for f in ruled if f.decided_at is not None]
    shares = {o: (sum(1 for f in ruled if f.status == o) / len(ruled) if ruled else None) for o in OUTCOMES}
    return Figures(count=len(items), open=sum(1 for f in items if f.status == "open"), decided=len(ruled),
                   withdrawn=sum(1 for f in items if f.status == "withdrawn"),
                   median_hours=median(hours) if hours else None, mean_hours=fmean(hours) if hours else None,
                   outcomes=shares)


def by_team(facts: Sequence[AppealFact]) -> dict[int | None, Figures]:
    """Figures per team the appellant belonged to when filing, teams in id order (no team last)."""
    teams = sorted({f.team_id for f in facts}, key=lambda t: (t is None, t or 0))
    return {team: figures(f for f in facts if f.team_id == team) for team in teams}
