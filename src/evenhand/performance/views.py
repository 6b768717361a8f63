"""What a scorecard shows, live or frozen: the one shape pages, exports, the API and the CLI read."""

from __future__ import annotations

from dataclasses import dataclass

from evenhand.models import Level
from evenhand.performance.scoring import MetricScore


@dataclass(frozen=True)
class CardView:
    """One rep's card for a period. ``revision`` 0 is a live card (computed now, provisional, ``frozen`` False);
    a closed period's cards carry the revision they were frozen in. ``total`` is None when the scored metrics carry
    less than the template's minimum coverage; ``gate`` names the metric whose gate capped it; ``tier`` is the key
    of the tier it reached, if any."""

    user_id: int
    name: str
    team_id: int | None
    team: str | None
    department: str | None  # the department's code
    level: Level
    period: str  # 2026-09 or 2026-Q3
    revision: int
    frozen: bool
    template: str  # the template's key
    template_label: dict[str, str]  # {"zh-CN": ..., "en": ...}
    total: float | None
    coverage: float
    gate: str | None
    tier: str | None
    metrics: list[MetricScore]
