"""The pure rule scorer: one lead's facts and a compiled model in, a total and its explanation out.

How a score is built (all sums in exact micro-points, see ``compiled.py``):
1. Every rule that fires adds its points to its line; event rules add per event, each event decayed
   by its group's half-life: ``points * 0.5 ** (age_days / half_life_days)``, rounded to a
   micro-point.
2. A group whose lines add up to more than its ``cap`` gets one extra line, ``<group>.cap``, with the
   negative difference; its positive lines carry ``capped_by = "<group>.cap"``. Nothing is scaled.
3. The sum is clamped to 0–100 the same way, by a ``total.clamp`` line.
   So ``rule_total`` is always the exact sum of the lines.
4. ``total`` rounds half up: ``floor(x + 0.5)`` of ``x = rule_total``, or with a predictive
   probability p and weight w of ``x = (1 - w) * rule_total + w * 100 * p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evenhand.leads.scoring.compiled import AGE_MAX, DAY, MICRO, CompiledModel, compile
from evenhand.leads.scoring.schema import ScoringModel

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_FIT = ("industry", "company_size", "region", "title", "source", "email", "phone")


@dataclass(frozen=True, slots=True)
class Event:
    """One behaviour event; ``kind`` is an ``EventKind`` value; unknown kinds score nothing."""

    kind: str
    occurred_at: datetime  # time-zone aware
    dwell_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class LeadFacts:
    industry: str | None = None
    company_size: int | None = None
    region: str | None = None
    title: str | None = None
    source: str | None = None
    email: str | None = None
    phone: str | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the explanation; ``points`` are after decay, summed over the rule's events."""

    rule_id: str
    group: str
    label: str
    points: float
    kind: str = "rule"  # "rule" | "cap" | "clamp"
    capped_by: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    total: int
    rule_total: float
    lines: tuple[Line, ...]
    probability: float | None = None


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since 1970 (floored); a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("scoring needs time-zone aware datetimes")
    return (moment - _EPOCH) // _SECOND


def blend(rule_total: float, probability: float | None, weight: float) -> int:
    """Round half up; with a probability, ``(1 - w) * rule_total + w * 100 * p`` (kept within 0–100)."""
    x = rule_total if probability is None else (1 - weight) * rule_total + weight * 100 * probability
    return min(max(math.floor(x + 0.5), 0), 100)


def score(facts: LeadFacts, model: CompiledModel | ScoringModel, now: datetime,
          probability: float | None = None) -> ScoreResult:
    """Score one lead at ``now``. Pass a ``CompiledModel``: compiling per call costs milliseconds."""
    compiled = model if isinstance(model, CompiledModel) else compile(model)
    if probability is not None and not 0.0 <= probability <= 1.0:
        raise ValueError("probability must lie within 0..1")
    acc: dict[int, int] = {}
    _fit(facts, compiled, acc)
    if facts.events:
        now_s = epoch_seconds(now)
        _events(facts.events, compiled, now_s, acc)
        if compiled.visits:
            _visits(facts.events, compiled, now_s, acc)
    return _finish(acc, compiled, probability)


def _fit(facts: LeadFacts, compiled: CompiledModel, acc: dict[int, int]) -> None:
    for attribute in _FIT:
        for col, points in compiled.hits(attribute, getattr(facts, attribute)):
            acc[col] = acc.get(col, 0) + points


def _events(events: tuple[Event, ...], compiled: CompiledModel, now_s: int, acc: dict[int, int]) -> None:
    by_kind = compiled.events
    for event in events:
        rules = by_kind.get(event.kind)
        if rules is None:
            continue
        age = min(max(now_s - epoch_seconds(event.occurred_at), 0), AGE_MAX)
        for rule in rules:
            base = rule.base(event.dwell_seconds)
            if base:
                acc[rule.col] = acc.get(rule.col, 0) + rule.decayed(base, age)


def _visits(events: tuple[Event, ...], compiled: CompiledModel, now_s: int, acc: dict[int, int]) -> None:
    views = [(min(max(now_s - s, 0), AGE_MAX), s // DAY)
             for s in (epoch_seconds(e.occurred_at) for e in events if e.kind == "page_view")]
    for visits in compiled.visits:
        days = len({day for age, day in views if age <= visits.window_seconds})
        i = visits.bands.index(days)
        if i >= 0:
            col = visits.bands.cols[i]
            acc[col] = acc.get(col, 0) + visits.bands.micros[i]


def _finish(acc: dict[int, int], compiled: CompiledModel, probability: float | None) -> ScoreResult:
    capped = _apply_caps(acc, compiled)
    total = sum(acc.values())
    clamped = min(max(total, 0), 100 * MICRO)
    if clamped != total:
        acc[compiled.clamp_col] = clamped - total
    lines = tuple(_line(compiled, col, points, capped) for col, points in sorted(acc.items()) if points)
    rule_total = clamped / MICRO
    return ScoreResult(blend(rule_total, probability, compiled.weight), rule_total, lines, probability)


def _apply_caps(acc: dict[int, int], compiled: CompiledModel) -> dict[str, str]:
    """Adds a cap line to every group over its cap; returns group → cap line id for those groups."""
    capped: dict[str, str] = {}
    for group in compiled.groups:
        if group.cap is None or group.cap_col is None:
            continue
        subtotal = sum(acc.get(col, 0) for col in group.cols)
        if subtotal > group.cap:
            acc[group.cap_col] = group.cap - subtotal
            capped[group.name] = compiled.columns[group.cap_col].rule_id
    return capped


def _line(compiled: CompiledModel, col: int, points: int, capped: dict[str, str]) -> Line:
    column = compiled.columns[col]
    cut = capped.get(column.group) if column.kind == "rule" and points > 0 else None
    return Line(column.rule_id, column.group, column.label, points / MICRO, column.kind, cut)
