"""Scoring a rep's period (R3.2): pure, from the measures, the targets and the templates.

Each weighted metric is normalised to points: its ``target`` scores 100 and its ``zero`` scores 0, linear between
and beyond, floored at 0 and capped at the metric's ``cap``. A metric with fewer observations than its minimum
sample is "not enough data": it scores nothing and its weight is left out. The total is the weighted mean of the
points that could be scored, at most 100, and is given only when the scored metrics carry at least
``min_coverage`` % of the weight. A gate that holds caps the total, so volume cannot hide poor quality. The tier
is the first whose minimum the (gated) total reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evenhand.models import Level
from evenhand.performance.metrics import CATALOG, Measure
from evenhand.performance.template import QUOTA, RepFacts, Scale, Templates, Tier, template_for


@dataclass(frozen=True)
class MetricScore:
    metric: str
    value: float | None
    sample: int
    enough: bool
    target: float
    zero: float
    cap: float
    weight: float
    points: float | None  # None: not enough data


@dataclass(frozen=True)
class Card:
    user_id: int
    template: str
    level: Level
    total: float | None  # None: the scored metrics carry less than min_coverage of the weight
    coverage: float  # share of the weight scored, in %
    gate: str | None  # the metric whose gate capped the total
    tier: str | None
    metrics: tuple[MetricScore, ...]


def points(value: float, scale: Scale, target: float) -> float:
    """``target`` scores 100, ``scale.zero`` scores 0, linear; floored at 0 and capped at ``scale.cap``."""
    raw = 100 * (value - scale.zero) / (target - scale.zero)
    return max(0.0, min(scale.cap, raw))


def target_of(metric: str, scale: Scale, rep: RepFacts, months: int, targets: Mapping[str, float]) -> float:
    """A target set for the period (the rep's, else the team's, else the company's, resolved by the caller)
    wins over the template's; ``quota`` is the rep's monthly quota times the period's months."""
    if metric in targets:
        return targets[metric]
    return rep.monthly_quota * months if scale.target == QUOTA else float(scale.target)


def score(doc: Templates, rep: RepFacts, measures: Mapping[str, Measure], *, months: int,
          targets: Mapping[str, float] | None = None) -> Card:
    """The rep's card for a period of ``months`` months."""
    template = template_for(doc, rep)
    weights = template.weights.get(rep.level) or next(iter(template.weights.values()))
    scored = tuple(_metric(doc, rep, key, weight, measures.get(key, Measure(None, 0)), months, targets or {})
                   for key, weight in weights.items() if weight > 0)
    total, coverage = _total(scored)
    if total is not None and coverage < doc.min_coverage:
        total = None
    holding = [g for g in template.gates if g.holds(_value(scored, measures, g.metric))]
    gate = min(holding, key=lambda g: g.cap, default=None)  # the lowest cap of those that hold
    if total is None or gate is None or total <= gate.cap:
        gate = None  # named only when it capped the total
    else:
        total = gate.cap
    return Card(rep.user_id, template.key, rep.level, total, coverage, gate.metric if gate else None,
                tier_of(doc.tiers, total), scored)


def _metric(doc: Templates, rep: RepFacts, key: str, weight: float, measure: Measure, months: int,
            targets: Mapping[str, float]) -> MetricScore:
    scale = doc.metrics[key]
    target = target_of(key, scale, rep, months, targets)
    enough = measure.value is not None and measure.sample >= CATALOG[key].min_sample and target != scale.zero
    earned = points(measure.value, scale, target) if enough and measure.value is not None else None
    return MetricScore(key, measure.value, measure.sample, enough, target, scale.zero, scale.cap, weight, earned)


def _total(scored: tuple[MetricScore, ...]) -> tuple[float | None, float]:
    weight = sum(m.weight for m in scored)
    counted = [m for m in scored if m.points is not None]
    covered = sum(m.weight for m in counted)
    coverage = 100 * covered / weight if weight else 0.0
    if not covered:
        return None, coverage
    return min(100.0, sum(m.weight * (m.points or 0) for m in counted) / covered), coverage


def _value(scored: tuple[MetricScore, ...], measures: Mapping[str, Measure], metric: str) -> float | None:
    """A gate reads a metric whether or not it is weighted, and only when there is enough data for it."""
    found = next((m for m in scored if m.metric == metric), None)
    if found is not None:
        return found.value if found.enough else None
    measure = measures.get(metric)
    if measure is None or measure.value is None or measure.sample < CATALOG[metric].min_sample:
        return None
    return measure.value


def tier_of(tiers: list[Tier], total: float | None) -> str | None:
    if total is None:
        return None
    return next((t.key for t in tiers if total >= t.min), None)
