"""Vectorised rescoring: many leads at once from columns, with the same totals as ``rules.score``.

Exactness comes from sharing, not from re-implementing: categorical and numeric attributes are
factorised and each distinct value goes through the compiled model's own matcher; events use the
same dwell bands and decay tables; all sums are integer micro-points (see ``compiled.py``).

Inputs are plain numpy arrays (a polars or SQL reader converts at the edge):
- ``LeadTable``: one row per lead; string columns as sequences/object arrays of ``str | None``, or
  ``Coded`` (dictionary-encoded: codes into a list of values, as databases and polars categoricals
  hand them out); ``company_size`` as float64 with NaN for unknown.
- ``EventTable``: one row per event: ``lead`` (row in the LeadTable), ``kind`` (strings, or int codes
  into ``EVENT_KINDS``), ``occurred_at`` (int64 epoch seconds, UTC), ``dwell_seconds`` (float64, NaN
  when not measured).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evenhand.leads.scoring.compiled import (
    AGE_MAX,
    DAY,
    MICRO,
    BandTable,
    Column,
    CompiledEventRule,
    CompiledModel,
    Hit,
)
from evenhand.leads.scoring.compiler import compile
from evenhand.leads.scoring.rules import Line, epoch_seconds
from evenhand.leads.scoring.schema import EVENT_KINDS, ScoringModel

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_KIND_CODE = {kind: i for i, kind in enumerate(EVENT_KINDS)}


@dataclass(frozen=True)
class Coded:
    """A dictionary-encoded string column: ``values[codes[i]]`` is row i; a negative code means missing."""

    codes: NDArray[np.integer[Any]]
    values: Sequence[str | None]


StrColumn = Sequence[str | None] | NDArray[Any] | Coded


@dataclass(frozen=True)
class LeadTable:
    industry: StrColumn
    company_size: F64
    region: StrColumn
    title: StrColumn
    source: StrColumn
    email: StrColumn
    phone: StrColumn

    def __len__(self) -> int:
        return len(self.company_size)


@dataclass(frozen=True)
class EventTable:
    lead: I64
    kind: NDArray[Any]
    occurred_at: I64
    dwell_seconds: F64

    def __len__(self) -> int:
        return len(self.lead)


@dataclass(frozen=True)
class TableScores:
    """``totals[i]`` is lead i's score; ``points[i, j]`` its points on ``columns[j]`` (float32, None if not asked)."""

    totals: NDArray[np.int16]
    rule_totals: F64
    points: NDArray[np.float32] | None
    columns: tuple[Column, ...]


def score_table(leads: LeadTable, events: EventTable, model: CompiledModel | ScoringModel, now: datetime | I64, *,
                probability: F64 | None = None, explain: bool = True) -> TableScores:
    """Score every lead at ``now``; ``probability`` (NaN = none for that lead) is blended as in ``rules.blend``.

    ``now`` may instead be int64 epoch seconds per lead, to score each lead as of its own moment (at
    intake, for replays and distributions over time). Events after a lead's ``now`` count as new, as in
    the pure scorer: a replay passes only the events that existed then.

    Memory: the explanation matrix is ``len(leads) * len(columns) * 4`` bytes (~160 MB for a million
    leads and the default model's 41 columns); pass ``explain=False`` when only totals are wanted.
    """
    compiled = model if isinstance(model, CompiledModel) else compile(model)
    n = len(leads)
    if len(events) and (events.lead.min() < 0 or events.lead.max() >= n):
        raise ValueError("events.lead must index rows of the lead table")
    acc: dict[int, I64] = {}
    _fit(leads, compiled, acc, n)
    if len(events) or compiled.visits:  # a visits band may start at 0 visits
        now_s = epoch_seconds(now) if isinstance(now, datetime) else np.asarray(now, dtype=np.int64)[events.lead]
        _events(events, compiled, now_s, acc, n)
    return _finish(acc, compiled, n, probability, explain)


def _add(acc: dict[int, I64], col: int, points: I64) -> None:
    if col in acc:
        acc[col] += points
    else:
        acc[col] = points.astype(np.int64, copy=True)


# --- fit -------------------------------------------------------------------------------------------


def _fit(leads: LeadTable, compiled: CompiledModel, acc: dict[int, I64], n: int) -> None:
    for attribute, matcher in compiled.matchers.items():
        column = getattr(leads, attribute)
        if matcher.key is None or isinstance(column, Coded):
            _fit_attribute(matcher, *factorise(column), acc)
        else:
            key = matcher.key
            items = column.tolist() if isinstance(column, np.ndarray) else column
            _fit_attribute(matcher.match_key, *factorise([key(v) for v in items]), acc)


def _fit_attribute(matcher: Callable[[Any], tuple[Hit, ...]], codes: I64, values: Sequence[Any],
                   acc: dict[int, I64]) -> None:
    """Match each distinct value once, then gather per lead; code -1 (missing) reads the extra last slot."""
    hits: dict[int, tuple[list[int], list[int]]] = {}
    for u, value in enumerate([*values, None]):
        for col, points in matcher(value):
            where, what = hits.setdefault(col, ([], []))
            where.append(u)
            what.append(points)
    for col, (where, what) in hits.items():
        table = np.zeros(len(values) + 1, dtype=np.int64)
        np.add.at(table, where, what)
        _add(acc, col, table[codes])


def factorise(column: StrColumn | F64) -> tuple[I64, list[Any]]:
    """Codes and distinct values; missing entries get code -1. Numeric NaN counts as missing."""
    if isinstance(column, Coded):
        codes = np.asarray(column.codes, dtype=np.int64)
        return np.where(codes < 0, -1, codes), list(column.values)
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        values, codes = np.unique(column, return_inverse=True)
        known = ~np.isnan(values)
        return np.where(known[codes], codes, -1).astype(np.int64), values.tolist()
    items = column.tolist() if isinstance(column, np.ndarray) else column
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in items), dtype=np.int64, count=len(items))
    return codes, list(index)


# --- events ----------------------------------------------------------------------------------------


def kind_codes(kind: NDArray[Any]) -> NDArray[np.int8]:
    """Event kinds as indices into ``EVENT_KINDS`` (-1 for kinds the scorer does not know)."""
    if kind.dtype.kind in "iu":
        return np.where((kind >= 0) & (kind < len(EVENT_KINDS)), kind, -1).astype(np.int8)
    return np.fromiter(map(_KIND_CODE.get, kind.tolist(), repeat(-1)), dtype=np.int8, count=len(kind))


def _events(events: EventTable, compiled: CompiledModel, now_s: int | I64, acc: dict[int, I64], n: int) -> None:
    """``now_s`` is one instant or one per event."""
    codes = kind_codes(np.asarray(events.kind))
    age = np.clip(now_s - np.asarray(events.occurred_at, dtype=np.int64), 0, AGE_MAX)
    dwell = np.nan_to_num(np.asarray(events.dwell_seconds, dtype=np.float64), nan=0.0)
    for kind, rules in compiled.events.items():
        idx = np.flatnonzero(codes == EVENT_KINDS.index(kind))
        if len(idx):
            lead = events.lead[idx]
            for rule in rules:
                _add(acc, rule.col, _per_lead(lead, _event_points(rule, dwell[idx], age[idx]), n))
    if compiled.visits:
        _visits(events, codes, age, compiled, acc, n)


def _event_points(rule: CompiledEventRule, dwell: F64, age: I64) -> F64:
    """Micro-points per event as integral floats, rounded half-even exactly like ``round`` in Python."""
    base = np.full(len(age), float(rule.points)) if rule.dwell is None else _band_points(rule.dwell, dwell)
    return base if rule.decay is None else np.rint(base * rule.decay.factors(age))


def _band_points(bands: BandTable, x: F64) -> F64:
    i = bands.indices(x)
    micros = np.asarray(bands.micros, dtype=np.float64)
    return np.where(i >= 0, micros[np.maximum(i, 0)], 0.0)


def _per_lead(lead: I64, points: F64, n: int) -> I64:
    """Sums are of integral floats below 2**53, hence exact in any order."""
    return np.bincount(lead, weights=points, minlength=n).astype(np.int64)


def _visits(events: EventTable, codes: NDArray[np.int8], age: I64, compiled: CompiledModel,
            acc: dict[int, I64], n: int) -> None:
    views = codes == EVENT_KINDS.index("page_view")
    for visits in compiled.visits:
        keep = views & (age <= visits.window_seconds)
        count = _distinct_days(events.lead[keep], np.asarray(events.occurred_at)[keep] // DAY, n)
        i = visits.bands.indices(count.astype(np.float64))
        for band, col in enumerate(visits.bands.cols):
            _add(acc, col, np.where(i == band, visits.bands.micros[band], 0))


def _distinct_days(lead: I64, day: I64, n: int) -> I64:
    if not len(lead):
        return np.zeros(n, dtype=np.int64)
    first = day.min()
    span = int(day.max() - first) + 1
    keys = np.unique(lead.astype(np.int64) * span + (day - first))
    return np.bincount(keys // span, minlength=n).astype(np.int64)


# --- totals ----------------------------------------------------------------------------------------


def _finish(acc: dict[int, I64], compiled: CompiledModel, n: int, probability: F64 | None,
            explain: bool) -> TableScores:
    zero = np.zeros(n, dtype=np.int64)
    for group in compiled.groups:
        if group.cap is not None and group.cap_col is not None:
            subtotal = sum((acc[c] for c in group.cols if c in acc), zero)
            _add(acc, group.cap_col, np.minimum(subtotal, group.cap) - subtotal)
    total = sum(acc.values(), zero)
    clamped = np.clip(total, 0, 100 * MICRO)
    acc[compiled.clamp_col] = clamped - total
    rule_totals = clamped / MICRO
    totals = blend_many(rule_totals, probability, compiled.weight)
    return TableScores(totals, rule_totals, _matrix(acc, compiled, n) if explain else None, compiled.columns)


def blend_many(rule_totals: F64, probability: F64 | None, weight: float) -> NDArray[np.int16]:
    """``rules.blend`` element-wise, with the same operations in the same order."""
    x = rule_totals
    if probability is not None:
        p = np.asarray(probability, dtype=np.float64)
        if ((p < 0) | (p > 1)).any():
            raise ValueError("probabilities must lie within 0..1 (NaN for none)")
        x = np.where(np.isnan(p), rule_totals, (1 - weight) * rule_totals + weight * 100 * p)
    return np.clip(np.floor(x + 0.5), 0, 100).astype(np.int16)


def _matrix(acc: dict[int, I64], compiled: CompiledModel, n: int) -> NDArray[np.float32]:
    """Filled column by column in a column-major buffer (contiguous writes); the result is its transpose.

    Each value is ``float32(micro / 1e6)``: divided in float64 first, so it equals the pure scorer's
    ``Line.points`` converted to float32.
    """
    by_column = np.zeros((len(compiled.columns), n), dtype=np.float32)
    for col, values in acc.items():
        if values.any():
            by_column[col] = values / MICRO
    return by_column.T


def row_lines(compiled: CompiledModel, row: NDArray[np.float32]) -> tuple[Line, ...]:
    """The explanation lines of one stored matrix row (points at float32 precision)."""
    capped = {compiled.columns[g.cap_col].group for g in compiled.groups
              if g.cap_col is not None and row[g.cap_col] != 0}
    return tuple(Line(c.rule_id, c.group, c.label, float(row[j]), c.kind,
                      f"{c.group}.cap" if c.kind == "rule" and c.group in capped and row[j] > 0 else None)
                 for j, c in enumerate(compiled.columns) if row[j] != 0)
