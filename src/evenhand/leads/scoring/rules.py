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
from typing import NamedTuple

from evenhand.leads.scoring.compiled import AGE_MAX, DAY, MICRO, CompiledModel
from evenhand.leads.scoring.compiler import compile
from evenhand.leads.scoring.schema import ScoringModel

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


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


class Line(NamedTuple):
    """One line of the explanation; ``points`` are after decay, summed over the rule's events.

    A named tuple rather than a frozen dataclass: building one is three times cheaper, and a score
    builds ten of them.
    """

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
    """Score one lead at ``now``. Pass a ``CompiledModel``: compiling per call costs milliseconds.

    Events later than ``now`` count as new (clock skew between trackers and the server); a replay as of
    some moment passes only the events that existed then.
    """
    compiled = model if isinstance(model, CompiledModel) else compile(model)
    if probability is not None and not 0.0 <= probability <= 1.0:
        raise ValueError("probability must lie within 0..1")
    acc: dict[int, int] = {}
    _fit(facts, compiled, acc)
    views = _events(facts.events, compiled, epoch_seconds(now), acc) if facts.events else []
    if compiled.visits:
        _visits(views, compiled, acc)  # also without views: a band may start at 0 visits
    return _finish(acc, compiled, probability)


def _fit(facts: LeadFacts, compiled: CompiledModel, acc: dict[int, int]) -> None:
    for attribute in compiled.matchers:
        for col, points in compiled.hits(attribute, getattr(facts, attribute)):
            acc[col] = acc.get(col, 0) + points


def _events(events: tuple[Event, ...], compiled: CompiledModel, now_s: int,
            acc: dict[int, int]) -> list[tuple[int, int]]:
    """Adds every event rule's points; returns (age, day) of page views when the model counts visits.

    The hot loop of the scorer, hence inlined rather than split further.
    """
    by_kind = compiled.events
    views: list[tuple[int, int]] | None = [] if compiled.visits else None
    for event in events:
        rules = by_kind.get(event.kind)
        if rules is None and (views is None or event.kind != "page_view"):
            continue
        occurred = epoch_seconds(event.occurred_at)
        age = now_s - occurred
        age = 0 if age < 0 else AGE_MAX if age > AGE_MAX else age
        if views is not None and event.kind == "page_view":
            views.append((age, occurred // DAY))
        for rule in rules or ():
            base = rule.points if rule.dwell is None else rule.base(event.dwell_seconds)
            if base and rule.decay is not None:
                base = round(base * rule.decay.factor(age))
            if base:
                acc[rule.col] = acc.get(rule.col, 0) + base
    return views or []


def _visits(views: list[tuple[int, int]], compiled: CompiledModel, acc: dict[int, int]) -> None:
    for visits in compiled.visits:
        i = visits.bands.index(len({day for age, day in views if age <= visits.window_seconds}))
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
    subtotals = [0] * (len(compiled.groups) + 1)
    for col, points in acc.items():
        subtotals[compiled.group_of[col]] += points
    capped: dict[str, str] = {}
    for group, subtotal in zip(compiled.groups, subtotals, strict=False):
        if group.cap is not None and group.cap_col is not None and subtotal > group.cap:
            acc[group.cap_col] = group.cap - subtotal
            capped[group.name] = compiled.columns[group.cap_col].rule_id
    return capped


def _line(compiled: CompiledModel, col: int, points: int, capped: dict[str, str]) -> Line:
    column = compiled.columns[col]
    cut = capped.get(column.group) if column.kind == "rule" and points > 0 else None
    return Line(column.rule_id, column.group, column.label, points / MICRO, column.kind, cut)
