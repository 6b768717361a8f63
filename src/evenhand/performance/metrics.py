"""The metric catalog (R3.1): every metric a scorecard can weigh, defined once.

A metric has a group (results, process, quality), a unit, the direction in which it is better, and the least
sample below which it is shown as "not enough data" rather than scored. How each is computed over evenhand's data
lives in ``repository.measure``; what a template makes of it (target, the value that scores zero, the cap, the
weight) lives in the template (``template.py``).

| key | what | sample |
|---|---|---|
| cash_collected | 回款额: payments received in the period on contracts the rep owns | payments |
| new_contracts | new contracts signed in the period | contracts |
| revenue | contract value signed in the period (new and renewal) | contracts |
| discount | mean discount on the deals won in the period, in % (lower is better) | won deals |
| effective_visits | visits and meetings held with customers in the period | activities |
| proposal_rate | deals that reached needs analysis in the period: share that went on to a proposal, % | deals |
| compliance | share of stage-standard checks due in the period met on time, in % | checks |
| first_response | median hours to first response of leads assigned in the period (lower is better) | leads |
| csat | mean customer-satisfaction score (1–5) of responses in the period | responses |
| nps | net promoter score of responses in the period (promoters 9–10 minus detractors 0–6, in points) | responses |
| complaints | complaints received in the period (lower is better) | always enough |
| renewal_rate | of the rep's contracts ending in the period with a known outcome, the share renewed, in % | contracts |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from evenhand.i18n import N_


class Group(enum.StrEnum):
    RESULTS = "results"
    PROCESS = "process"
    QUALITY = "quality"


class Unit(enum.StrEnum):
    CURRENCY = "currency"
    COUNT = "count"
    PERCENT = "percent"
    HOURS = "hours"
    SCORE = "score"  # a survey's scale
    POINTS = "points"  # NPS, -100..100


@dataclass(frozen=True)
class Metric:
    key: str
    label: str  # English source text, N_-marked; shown through tr()
    group: Group
    unit: Unit
    higher_is_better: bool
    min_sample: int  # fewer observations than this: "not enough data"


@dataclass(frozen=True)
class Measure:
    """One rep's value of one metric over a period: ``value`` is None when nothing was observed; ``sample`` counts
    the observations behind it; ``inputs`` are the figures it was computed from, kept as evidence."""

    value: float | None
    sample: int
    inputs: dict[str, Any] = field(default_factory=dict)


CATALOG: dict[str, Metric] = {m.key: m for m in (
    Metric("cash_collected", N_("Cash collected"), Group.RESULTS, Unit.CURRENCY, True, 0),
    Metric("new_contracts", N_("New contracts"), Group.RESULTS, Unit.COUNT, True, 0),
    Metric("revenue", N_("Revenue signed"), Group.RESULTS, Unit.CURRENCY, True, 0),
    Metric("discount", N_("Average discount"), Group.RESULTS, Unit.PERCENT, False, 3),
    Metric("effective_visits", N_("Effective visits"), Group.PROCESS, Unit.COUNT, True, 0),
    Metric("proposal_rate", N_("Proposal rate"), Group.PROCESS, Unit.PERCENT, True, 3),
    Metric("compliance", N_("Standard compliance"), Group.PROCESS, Unit.PERCENT, True, 5),
    Metric("first_response", N_("First response"), Group.PROCESS, Unit.HOURS, False, 5),
    Metric("csat", N_("Customer satisfaction"), Group.QUALITY, Unit.SCORE, True, 3),
    Metric("nps", N_("NPS"), Group.QUALITY, Unit.POINTS, True, 5),
    Metric("complaints", N_("Complaints"), Group.QUALITY, Unit.COUNT, False, 0),
    Metric("renewal_rate", N_("Renewal rate"), Group.QUALITY, Unit.PERCENT, True, 3),
)}
GROUP_LABELS = {Group.RESULTS: N_("Results"), Group.PROCESS: N_("Process"), Group.QUALITY: N_("Quality")}
