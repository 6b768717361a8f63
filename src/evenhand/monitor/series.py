"""A KPI's daily points from its source's facts, by numpy alone: grouped by day and by each dimension's values.

For each day and cell (the whole company: dimension "" and value ""; and each value of each of the KPI's
dimensions) a point holds:

- ``n``: the rows counted (for a mean or quantile, the rows whose measure is known);
- ``x``: a rate's numerator (rows where it holds — within the horizon when the KPI has one), the measure's sum
  (mean, quantile) or the rows (count); ``x2`` the sum of squares of the same per-row quantity;
- ``v``: the day's value — a rate x/n, the mean, the quantile of the rows (numpy's linear interpolation), or the
  count — missing (NaN) when ``n`` is below the KPI's ``min_n`` (a count always has one);
- ``by_age``: for a rate with a horizon of H days, the numerator known 0, 1, …, H days after the cohort day
  (cumulative; the event's local day minus the cohort day, an event before its cohort day counting at age 0), so a
  young cohort can be compared with older ones at the same age.

Days are local day numbers (days since 1970-01-01 in the company's zone).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Day numbers (days since 1970-01-01), which the monitor's series and the demo count in, imported from here.
from evenhand.kit.clock import day_date as day_date
from evenhand.kit.clock import day_number as day_number
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.sources import Facts

TOTAL = ("", "")  # the whole company's cell: dimension "" and value ""


@dataclass(frozen=True)
class DaysOff:
    """The days the company does not work: its holidays (day numbers) and the weekdays it takes off every week
    (0 = Monday), but its make-up working days (调休: a Saturday worked to make up for a holiday, day numbers)."""

    holidays: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    workdays: frozenset[int] = frozenset()

    def of(self, days: np.ndarray) -> np.ndarray:
        """Which of ``days`` (day numbers) are off."""
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        off = np.isin(days, _numbers(self.holidays)) | np.isin(weekday, _numbers(self.weekdays))
        return off & ~np.isin(days, _numbers(self.workdays))


def _numbers(values: frozenset[int]) -> np.ndarray:
    return np.fromiter(values, np.int64, len(values))


NO_DAYS_OFF = DaysOff()


@dataclass(frozen=True)
class DaysWorked:
    """The days worked counted from day ``first``: a cohort's age in days worked.

    A rate's horizon is in calendar days, and a cohort's numerator is stored by calendar age (``Series.by_age``).
    Deals are decided on the days people work: the leads that arrived before a weekend or a holiday week have worked
    fewer days by a given calendar age, so a young cohort is compared with older ones at as many days worked: its
    own days worked by the day judged (``age``), and the others' numerators where they had worked that many
    (``aligned``). With no day off a day worked is a day."""

    first: int
    count: np.ndarray  # count[i]: the days worked in first … first + i

    @classmethod
    def over(cls, first: int, last: int, off: DaysOff = NO_DAYS_OFF) -> DaysWorked:
        return cls(first, np.cumsum(~off.of(np.arange(first, last + 1, dtype=np.int64))))

    def age(self, cohort: np.ndarray, calendar: np.ndarray) -> np.ndarray:
        """The days worked after each cohort day by ``calendar`` days after it (broadcast together)."""
        at = np.asarray(cohort) - self.first
        return self.count[at + calendar] - self.count[at]

    def aligned(self, cohort: np.ndarray, by_age: np.ndarray) -> np.ndarray:
        """Each cohort's numerator by 0 … H days worked after it: ``by_age`` (by calendar age) read where the cohort
        had first worked that many days, and at its horizon's last day where it had not."""
        h = by_age.shape[1] - 1
        at = np.asarray(cohort) - self.first
        reached = np.searchsorted(self.count, self.count[at, None] + np.arange(h + 1), side="left") - at[:, None]
        return np.take_along_axis(by_age, np.clip(reached, 0, h), axis=1)


@dataclass(frozen=True)
class Series:
    """One cell of a KPI over consecutive days; a day without rows has n = 0 and no value (a count's value is 0)."""

    days: np.ndarray
    n: np.ndarray
    x: np.ndarray
    x2: np.ndarray
    v: np.ndarray
    by_age: np.ndarray | None  # shape (days, H + 1) for a rate with a horizon

    def __len__(self) -> int:
        return len(self.days)


def filled(kpi: Kpi, first: int, last: int, day: np.ndarray, n: np.ndarray, x: np.ndarray, x2: np.ndarray,
           v: np.ndarray, by_age: np.ndarray | None) -> Series:
    """The cell's points (``day`` ascending, within [first, last]) spread over every day of [first, last]."""
    days = np.arange(first, last + 1, dtype=np.int64)
    at = np.asarray(day, np.int64) - first
    out = [np.zeros(len(days)) for _ in range(3)]
    for column, given in zip(out, (n, x, x2), strict=True):
        column[at] = given
    value = np.zeros(len(days)) if kpi.kind == "count" else np.full(len(days), np.nan)
    value[at] = v
    ages = None
    if kpi.horizon_days is not None and kpi.kind == "rate":
        ages = np.zeros((len(days), kpi.horizon_days + 1), np.int64)
        if by_age is not None and len(at):
            ages[at] = by_age
    return Series(days, out[0], out[1], out[2], value, ages)


@dataclass(frozen=True)
class Points:
    """A KPI's points as columns, one entry per (cell, day) that had rows."""

    kpi: str
    dimension: np.ndarray
    value: np.ndarray
    day: np.ndarray
    n: np.ndarray
    x: np.ndarray
    x2: np.ndarray
    v: np.ndarray  # NaN: no value
    by_age: np.ndarray | None

    def __len__(self) -> int:
        return len(self.day)

    def rows(self) -> Iterator[tuple[str, str, int, float, float, float, float | None, list[int] | None]]:
        """(dimension, value, day, n, x, x2, v or None, by_age or None) per point."""
        ages = self.by_age.tolist() if self.by_age is not None else [None] * len(self)
        for d, val, day, n, x, x2, v, age in zip(self.dimension.tolist(), self.value.tolist(), self.day.tolist(),
                                                  self.n.tolist(), self.x.tolist(), self.x2.tolist(),
                                                  self.v.tolist(), ages, strict=True):
            yield d, val, day, n, x, x2, None if v != v else v, age

    def cell(self, kpi: Kpi, first: int, last: int, dimension: str = "", value: str = "") -> Series:
        """One cell's series over [first, last]."""
        keep = (self.dimension == dimension) & (self.value == value) & (self.day >= first) & (self.day <= last)
        return filled(kpi, first, last, self.day[keep], self.n[keep], self.x[keep], self.x2[keep], self.v[keep],
                      self.by_age[keep] if self.by_age is not None else None)


def points(kpi: Kpi, facts: Facts, first: int, last: int) -> Points:
    """The KPI's points on the days [first, last] from its source's ``facts`` (rows outside those days, and rows its
    ``where`` leaves out, are not counted)."""
    keep = (facts.day >= first) & (facts.day <= last)
    for column, allowed in kpi.where.items():
        keep &= np.isin(facts.columns[column], np.array(allowed, dtype=object))
    if kpi.measure is not None:
        keep &= ~np.isnan(facts.columns[kpi.measure])
    rows = facts.take(keep)
    weight, age = _quantity(kpi, rows)
    cells = [("", np.full(len(rows), "", dtype=object))] + [(d, rows.columns[d]) for d in kpi.dimensions]
    parts = [_cell(kpi, dimension, labels, rows.day, (first, last), weight, age) for dimension, labels in cells]
    dimension, value, day, n, x, x2, v = (np.concatenate([p[i] for p in parts]) for i in range(7))
    by_age = np.concatenate([p[7] for p in parts]) if parts[0][7] is not None else None
    return Points(kpi.id, dimension, value, day, n, x, x2, v, by_age)


def _quantity(kpi: Kpi, rows: Facts) -> tuple[np.ndarray, np.ndarray | None]:
    """Each row's quantity (the numerator as 0/1, the measure, or 1 for a count) and, for a rate with a horizon, the
    age at which its numerator happened (H + 1 where it did not, or only after the horizon)."""
    if kpi.kind == "count":
        return np.ones(len(rows)), None
    if kpi.kind != "rate":
        return rows.columns[str(kpi.measure)], None
    happened = rows.columns[str(kpi.numerator)]
    if kpi.horizon_days is None:
        return happened.astype(np.float64), None
    horizon = kpi.horizon_days
    late = rows.columns[f"{kpi.numerator}_day"] - rows.day
    within = happened & ~np.isnan(late) & (np.nan_to_num(late, nan=horizon + 1) <= horizon)
    age = np.where(within, np.clip(np.nan_to_num(late), 0, horizon), horizon + 1).astype(np.int64)
    return within.astype(np.float64), age


def _cell(kpi: Kpi, dimension: str, labels: np.ndarray, day: np.ndarray, days: tuple[int, int], weight: np.ndarray,
          age: np.ndarray | None) -> tuple[Any, ...]:
    """The points of one dimension: a group per (value, day)."""
    first, span = days[0], days[1] - days[0] + 1
    values, which = _factorize(labels)
    groups, group = np.unique(which * span + (day - first), return_inverse=True)
    n = np.bincount(group, minlength=len(groups)).astype(np.float64)
    x = np.bincount(group, weights=weight, minlength=len(groups))
    x2 = np.bincount(group, weights=weight * weight, minlength=len(groups))
    v = _values(kpi, group, weight, n, x)
    by_age = _by_age(group, len(groups), age, kpi.horizon_days) if age is not None else None
    return (np.full(len(groups), dimension, dtype=object), values[groups // span], groups % span + first, n, x, x2, v,
            by_age)


def _factorize(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct labels, sorted, and each row's index among them (a dictionary: sorting the text is slower)."""
    distinct = sorted(set(labels.tolist()))
    index = {v: i for i, v in enumerate(distinct)}
    return np.array(distinct, dtype=object), np.fromiter(map(index.__getitem__, labels.tolist()), np.int64,
                                                         len(labels))


def _values(kpi: Kpi, group: np.ndarray, weight: np.ndarray, n: np.ndarray, x: np.ndarray) -> np.ndarray:
    if kpi.kind == "count":
        return n.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        v = _quantiles(group, weight, len(n), float(kpi.q or 0.5)) if kpi.kind == "quantile" else x / n
    return np.where(n >= kpi.min_n, v, np.nan)


def _quantiles(group: np.ndarray, value: np.ndarray, groups: int, q: float) -> np.ndarray:
    """The q-quantile of each group's values, interpolated as numpy's default ("linear") method does."""
    order = np.lexsort((value, group))
    ordered = value[order]
    counts = np.bincount(group, minlength=groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    h = (counts - 1) * q
    low = np.floor(h).astype(np.int64)
    t = h - low
    a = ordered[np.minimum(starts + low, len(ordered) - 1)]
    b = ordered[np.minimum(starts + np.minimum(low + 1, counts - 1), len(ordered) - 1)]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _by_age(group: np.ndarray, groups: int, age: np.ndarray, horizon: int | None) -> np.ndarray:
    """Per group, the numerator known 0 … H days after the cohort day (cumulative)."""
    width = int(horizon or 0) + 1
    within = age < width
    counts = np.bincount(group[within] * width + age[within], minlength=groups * width)
    return np.cumsum(counts.reshape(groups, width), axis=1)
