"""Before and after a change (R4.7): each metric the change declared that names a KPI of the active definitions,
and any KPI a reader adds, over two matched windows of daily points — the ``days`` days after the change's local
day and as many days before it — with the difference, its 95% confidence interval and a verdict.

- The change's own day is in neither window (it is half before, half after).
- Both windows hold each weekday equally often: with whole weeks (the default, 21 days) the before window is the
  days right before the change day; otherwise it moves back to start on the after window's weekday.
- A rate is pooled over each window's rows (Newcombe's interval); a mean too (Welch's, every row an observation);
  the rows of a window whose days scatter more than its rows would count for less (``stats.rate_dispersion``,
  ``stats.mean_dispersion``). A quantile (p50, p90) is only kept per day, so each window's value is its daily values
  weighted by the day's rows, with a bootstrap over days; a count is a mean per day (Welch's over days).
- A window is compared only once complete. A rate with a horizon (conversion within 21 days) also waits until the
  after window's youngest cohort is that old: until then its row says on which day it will be ready.
- The interval decides the verdict: wholly on the KPI's good side is better, wholly on the other worse, across
  zero unclear. Declared metrics that are no KPI are listed as not monitored.

Monitoring is company-level: admin, sales ops, auditors and supervisors read it; reps do not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Invalid
from evenhand.i18n import N_
from evenhand.kit.clock import local, utcnow
from evenhand.models import ChangeEntry
from evenhand.monitor import changes, service
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import Series, day_number
from evenhand.monitor.stats import (
    Difference,
    Moments,
    bootstrap_difference,
    discounted,
    mean_dispersion,
    newcombe_difference,
    rate_dispersion,
    welch_difference,
)

DAYS = 21
MIN_DAYS, MAX_DAYS = 7, 91
MAX_ADDED = 20  # KPIs a reader may add to one board

COMPARED, PENDING, NO_DATA, NOT_MONITORED = "compared", "pending", "no_data", "not_monitored"
BETTER, WORSE, UNCLEAR = "better", "worse", "unclear"
METHODS = {"rate": "newcombe", "mean": "welch", "quantile": "bootstrap", "count": "welch_daily"}


@dataclass(frozen=True)
class Windows:
    """The change's local day and the two windows compared, first and last day each (both included)."""

    change_day: date
    before: tuple[date, date]
    after: tuple[date, date]

    @property
    def days(self) -> int:
        return (self.after[1] - self.after[0]).days + 1

    @property
    def gap(self) -> int:
        """Days left out between the before window and the change day (only when the length is no whole weeks)."""
        return (self.change_day - self.before[1]).days - 1


@dataclass(frozen=True)
class Row:
    """One metric on the board. ``kpi`` is None for a declared metric that is no KPI (``not_monitored``);
    ``difference`` is set only when ``status`` is ``compared``; ``ready_on`` only when ``pending``."""

    metric: str
    declared: bool
    kpi: Kpi | None
    status: str
    difference: Difference | None = None
    n_before: float = 0.0
    n_after: float = 0.0
    ready_on: date | None = None

    @property
    def method(self) -> str | None:
        return None if self.kpi is None else METHODS[self.kpi.kind]

    @property
    def relative(self) -> float | None:
        """The difference as a share of the before value (None when that is zero)."""
        d = self.difference
        return None if d is None or d.before == 0 else d.estimate / d.before

    @property
    def verdict(self) -> str | None:
        d = self.difference
        if d is None or self.kpi is None:
            return None
        if not d.excludes_zero:
            return UNCLEAR
        return BETTER if (d.estimate > 0) == (self.kpi.good == "up") else WORSE


@dataclass(frozen=True)
class Impact:
    change: ChangeEntry
    windows: Windows
    known: date  # the last whole day the figures reach
    rows: tuple[Row, ...]
    available: tuple[Kpi, ...]  # every KPI of the active definitions (what may be added)


def windows(change_day: date, days: int) -> Windows:
    """The after window is the ``days`` days after the change day; the before window the latest as long ending
    before it whose weekdays are the after window's (the days right before it, when ``days`` is whole weeks)."""
    gap = 0 if days % 7 == 0 else (-days - 1) % 7
    before_last = change_day - timedelta(days=1 + gap)
    return Windows(change_day, (before_last - timedelta(days=days - 1), before_last),
                   (change_day + timedelta(days=1), change_day + timedelta(days=days)))


def ready_on(kpi: Kpi, w: Windows) -> date:
    """The first day the after window is complete: its last day is over and, for a rate with a horizon, its
    youngest cohort has had the whole horizon."""
    return w.after[1] + timedelta(days=(kpi.horizon_days or 0) + 1)


def compare(kpi: Kpi, series: Series, w: Windows, known: date, *, declared: bool) -> Row:
    """One KPI's row from its daily points (``series`` covering both windows); ``known`` is the last whole day."""
    ready = ready_on(kpi, w)
    if ready > known + timedelta(days=1):
        return Row(kpi.id, declared, kpi, PENDING, ready_on=ready)
    before, after = _window(series, w.before), _window(series, w.after)
    n_before, n_after = float(series.n[before].sum()), float(series.n[after].sum())
    found = DIFFERENCES[kpi.kind](series, before, after)
    return Row(kpi.id, declared, kpi, COMPARED if found else NO_DATA, found, n_before, n_after)


def _window(series: Series, days: tuple[date, date]) -> np.ndarray:
    first, last = (day_number(d) for d in days)
    return np.asarray((series.days >= first) & (series.days <= last))


def _rate(series: Series, before: np.ndarray, after: np.ndarray) -> Difference | None:
    """Every row of the window pooled, each counting for less when the window's days scatter more than its rows
    would (``stats.rate_dispersion``); a window without rows says nothing."""
    n0, n1 = series.n[before].sum(), series.n[after].sum()
    if n0 == 0 or n1 == 0:
        return None
    d0, d1 = (rate_dispersion(series.x[days], series.n[days]) for days in (before, after))
    return newcombe_difference(float(series.x[before].sum()) / d0, float(n0) / d0,
                               float(series.x[after].sum()) / d1, float(n1) / d1)


def _moments(series: Series, days: np.ndarray) -> Moments:
    """The window's rows, each counting for less when its days' means scatter more than its rows would
    (``stats.mean_dispersion``)."""
    pooled = Moments(float(series.n[days].sum()), float(series.x[days].sum()), float(series.x2[days].sum()))
    return discounted(pooled, mean_dispersion(series.n[days], series.x[days], series.x2[days]))


def _mean(series: Series, before: np.ndarray, after: np.ndarray) -> Difference | None:
    first, second = _moments(series, before), _moments(series, after)
    return welch_difference(first, second) if first.n >= 2 and second.n >= 2 else None


def _quantile(series: Series, before: np.ndarray, after: np.ndarray) -> Difference | None:
    """Days whose value is known (enough rows that day), each weighted by its rows."""
    first, second = before & np.isfinite(series.v), after & np.isfinite(series.v)
    if first.sum() < 2 or second.sum() < 2:
        return None
    return bootstrap_difference(series.v[first], series.v[second], before_weights=series.n[first],
                                after_weights=series.n[second])


def _count(series: Series, before: np.ndarray, after: np.ndarray) -> Difference | None:
    """Each day one observation: the count per day (days without rows count 0)."""
    first, second = (Moments(float(d.sum()), float(series.x[d].sum()), float((series.x[d] ** 2).sum()))
                     for d in (before, after))
    return welch_difference(first, second) if first.n >= 2 and second.n >= 2 else None


DIFFERENCES: dict[str, Callable[[Series, np.ndarray, np.ndarray], Difference | None]] = {
    "rate": _rate, "mean": _mean, "quantile": _quantile, "count": _count}


# --- the board ------------------------------------------------------------------------------------------------------


def check_days(days: int) -> None:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise Invalid("A window is {low} to {high} days long.", field="days", low=MIN_DAYS, high=MAX_DAYS)


def metrics(change: ChangeEntry, added: Sequence[str]) -> list[tuple[str, bool]]:
    """The change's declared metrics in their order, then the added KPIs it did not declare; each once."""
    declared = list(dict.fromkeys(str(m) for m in change.affected_metrics or []))
    return [(m, True) for m in declared] + [(k, False) for k in dict.fromkeys(added) if k not in declared]


def known_day(session: Session, zone: ZoneInfo, now: datetime | None = None) -> date:
    """The last whole day the figures reach: the last day the series have points for, and never today (the day
    is still running)."""
    yesterday = local(now or utcnow(), zone).date() - timedelta(days=1)
    last = service.last_day(session)
    return yesterday if last is None else min(last, yesterday)


def board(session: Session, principal: Principal, change_id: int, *, zone: ZoneInfo, days: int = DAYS,
          added: Sequence[str] = (), now: datetime | None = None) -> Impact:
    """The before/after board of one change (``added``: KPI ids to show besides the declared metrics)."""
    changes.check_reader(principal)
    check_days(days)
    change = changes.get(session, principal, change_id)
    available = tuple(service.active_kpis(session).kpis)
    kpis = _added_checked(available, added)
    w = windows(local(change.effective_at, zone).date(), days)
    known = known_day(session, zone, now)
    rows = tuple(_row(session, kpis.get(m), m, declared, w, known) for m, declared in metrics(change, added))
    return Impact(change, w, known, rows, available)


def _added_checked(kpis: Sequence[Kpi], added: Sequence[str]) -> dict[str, Kpi]:
    defined = {k.id: k for k in kpis}
    if len(added) > MAX_ADDED:
        raise Invalid("At most {count} KPIs can be added to a board.", field="kpi", count=MAX_ADDED)
    for kpi_id in added:
        if kpi_id not in defined:
            raise Invalid("No KPI {kpi} in the active definitions.", field="kpi", kpi=kpi_id)
    return defined


def _row(session: Session, kpi: Kpi | None, metric: str, declared: bool, w: Windows, known: date) -> Row:
    if kpi is None:
        return Row(metric, declared, None, NOT_MONITORED)
    return compare(kpi, service.series(session, kpi, w.before[0], w.after[1]), w, known, declared=declared)


def as_dict(found: Impact, locale: str) -> dict[str, Any]:
    """The board as plain data (the API's answer, ``--json``), KPI names in ``locale``."""
    c, w = found.change, found.windows
    return {"change_id": c.id, "title": c.title, "kind": c.kind, "system": c.system, "status": c.status.value,
            "effective_at": c.effective_at, "change_day": w.change_day, "days": w.days,
            "before": {"first": w.before[0], "last": w.before[1]}, "after": {"first": w.after[0], "last": w.after[1]},
            "known": found.known, "metrics": [_plain(r, locale) for r in found.rows]}


def _plain(row: Row, locale: str) -> dict[str, Any]:
    k, d = row.kpi, row.difference
    return {"metric": row.metric, "declared": row.declared, "status": row.status,
            "name": k.label(locale) if k else None, "kind": k.kind if k else None, "unit": k.unit if k else None,
            "good": k.good if k else None, "method": row.method, "before": d.before if d else None,
            "after": d.after if d else None, "difference": d.estimate if d else None, "relative": row.relative,
            "low": d.low if d else None, "high": d.high if d else None,
            "excludes_zero": d.excludes_zero if d else None, "verdict": row.verdict, "n_before": row.n_before,
            "n_after": row.n_after, "ready_on": row.ready_on}


# --- words every door shows the same ---------------------------------------------------------------------------------

VERDICTS = {BETTER: N_("Better"), WORSE: N_("Worse"), UNCLEAR: N_("No clear change")}
STATUSES = {PENDING: N_("Not enough data yet, ready on {day}"),
            NO_DATA: N_("Too few figures in a window to compare"),
            NOT_MONITORED: N_("Not monitored: no KPI of the active definitions has this id")}
UNITS = {"hours": N_("{value} h"), "minutes": N_("{value} min"), "days": N_("{value} d"), "ms": N_("{value} ms")}


def figure(value: float | None, unit: str, tr: Callable[..., str], *, signed: bool = False) -> str:
    """A value in its unit (a share as a percentage; as a difference, in percentage points)."""
    if value is None:
        return "—"
    sign = "+" if signed else ""
    if unit == "share":
        return tr("{value} pp", value=f"{100 * value:{sign}.1f}") if signed else f"{100 * value:.1f}%"
    text = f"{value:{sign}.2f}" if unit in UNITS else f"{value:{sign},.1f}"
    return tr(UNITS[unit], value=text) if unit in UNITS else text


def relative(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.0f}%"


def moved(estimate: float | None, share: float | None, unit: str, tr: Callable[..., str]) -> str:
    """The difference in its unit, then relative to before: "-4.00 h (-67%)"."""
    return "—" if estimate is None else f"{figure(estimate, unit, tr, signed=True)} ({relative(share)})"


def interval(low: float, high: float, unit: str, tr: Callable[..., str]) -> str:
    return f"{figure(low, unit, tr, signed=True)} … {figure(high, unit, tr, signed=True)}"


def status_text(status: str, verdict: str | None, ready: date | None, tr: Callable[..., str]) -> str:
    """A row's verdict, or what it says in place of figures."""
    if status == COMPARED:
        return tr(VERDICTS[verdict or UNCLEAR])
    return tr(STATUSES[status], day=ready.isoformat() if ready else "")
