"""How a scorecard is written, the same on the pages, the home tile, the exports and the command (R3.6).

The block is two lines: ``张伟 | 大客户部 | Q3考核得分:87.6`` then the highest-weighted result, process and quality
metric of the rep's template, ``回款达成率:92% | 方案通过率:78% | 客户投诉数:0``. A metric whose target is the
rep's quota (cash collected, revenue) is written as its attainment, the value over the target; a metric without
enough data is written "—". Pure: the caller passes the translator and the department names by code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evenhand.i18n import N_
from evenhand.performance.metrics import CATALOG, GROUP_LABELS, Group, Unit
from evenhand.performance.period import parse
from evenhand.performance.scoring import MetricScore
from evenhand.performance.views import CardView

Tr = Callable[..., str]
DASH = "—"
ATTAINMENT = {"cash_collected": N_("Cash collection attainment"), "revenue": N_("Revenue attainment")}
SCORE = N_("{period} score: {total}")
PAIR = N_("{label}: {value}")
NOT_ENOUGH = N_("not enough data")
CAPPED = N_("Capped at {cap} by {metric}")


def period_label(key: str) -> str:
    """``Q3`` for a quarter (as the block names it), the month's key otherwise."""
    return key[5:] if parse(key).is_quarter else key


def total_text(total: float | None) -> str:
    return DASH if total is None else f"{total:.1f}"


def value_text(metric: str, value: float | None, tr: Tr) -> str:
    """A metric's value in its unit: money with thousands, shares in %, hours, a survey score, NPS points."""
    if value is None:
        return DASH
    unit = CATALOG[metric].unit
    if unit is Unit.CURRENCY:
        return f"{value:,.0f}"
    if unit is Unit.PERCENT:
        return f"{value:.0f}%"
    if unit is Unit.HOURS:
        return tr("{hours} h", hours=f"{value:.1f}")
    return f"{value:.2f}" if unit is Unit.SCORE else f"{value:g}"


def target_text(score: MetricScore, tr: Tr) -> str:
    return value_text(score.metric, score.target, tr)


def headline(card: CardView) -> list[MetricScore]:
    """The highest-weighted metric of each group that the template weighs (the first listed among equals)."""
    out = []
    for group in Group:
        weighed = [m for m in card.metrics if CATALOG[m.metric].group is group]
        if weighed:
            out.append(max(weighed, key=lambda m: m.weight))  # max keeps the first of equals
    return out


def headline_text(score: MetricScore, tr: Tr) -> str:
    if score.metric in ATTAINMENT:
        shown = DASH if not score.enough or not score.target or score.value is None else \
            f"{100 * score.value / score.target:.0f}%"
        return tr(PAIR, label=tr(ATTAINMENT[score.metric]), value=shown)
    shown = value_text(score.metric, score.value if score.enough else None, tr)
    return tr(PAIR, label=tr(CATALOG[score.metric].label), value=shown)


def where(card: CardView, departments: Mapping[str, str]) -> str:
    """The department's name (the team's when the rep has no department)."""
    if card.department is not None:
        return departments.get(card.department, card.department)
    return card.team or DASH


def block(card: CardView, departments: Mapping[str, str], tr: Tr) -> tuple[str, str]:
    """The two lines of the R3.6 block."""
    score = tr(SCORE, period=period_label(card.period), total=total_text(card.total))
    first = " | ".join((card.name, where(card, departments), score))
    return first, " | ".join(headline_text(m, tr) for m in headline(card))


def group_scores(card: CardView) -> dict[Group, float | None]:
    """Each group's points, weighted within the group over the metrics that could be scored."""
    out: dict[Group, float | None] = {}
    for group in Group:
        scored = [m for m in card.metrics if CATALOG[m.metric].group is group and m.points is not None]
        weight = sum(m.weight for m in scored)
        out[group] = sum(m.weight * (m.points or 0) for m in scored) / weight if weight else None
    return out


def gate_text(card: CardView, tr: Tr) -> str:
    if card.gate is None:
        return ""
    return tr(CAPPED, cap=total_text(card.total), metric=tr(CATALOG[card.gate].label))


def metric_row(score: MetricScore, tr: Tr) -> dict[str, Any]:
    """One metric explained: what was measured, against what, the points and the weight they carry."""
    return {"metric": score.metric, "label": tr(CATALOG[score.metric].label),
            "group": tr(GROUP_LABELS[CATALOG[score.metric].group]), "value": value_text(score.metric, score.value, tr),
            "target": target_text(score, tr), "zero": value_text(score.metric, score.zero, tr),
            "points": tr(NOT_ENOUGH) if score.points is None else f"{score.points:.1f}",
            "weight": f"{score.weight:g}", "sample": score.sample, "enough": score.enough}


def card_record(card: CardView, departments: Mapping[str, str]) -> dict[str, Any]:
    """A card as plain data (the command's ``--json``), figures as numbers."""
    groups = group_scores(card)
    return {"user_id": card.user_id, "name": card.name, "team": card.team, "department": where(card, departments),
            "period": card.period, "revision": card.revision, "frozen": card.frozen, "template": card.template,
            "total": card.total, "coverage": round(card.coverage, 1), "gate": card.gate, "tier": card.tier,
            "groups": {g.value: None if v is None else round(v, 1) for g, v in groups.items()},
            "metrics": [{"metric": m.metric, "value": m.value, "sample": m.sample, "enough": m.enough,
                         "target": m.target, "zero": m.zero, "weight": m.weight, "points": m.points}
                        for m in card.metrics]}
