"""What the monitoring pages, the home tile and the anomaly endpoints read: each KPI's tile (its latest window beside
the one before, a sparkline, its alert line, the open anomaly), a KPI's chart with its anomaly bands and its top
dimension values, the anomaly list, one anomaly's drill-down (windows, ranked explanations, funnel trace, linked
changes), and the change markers every chart draws.

Monitoring is company-level: admin, sales ops, auditors and supervisors read it (``Principal.sees_team_figures``),
reps do not. A KPI's line is its trailing ``window_days`` value, pooled (a rate or mean over the window's rows; a
daily quantile weighted by each day's rows, an approximation; a count per day). A rate with a horizon (conversion
within 21 days) is only known once its cohorts are ``horizon_days`` old: its tile compares the newest mature windows,
and its line marks the days still maturing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.kit.clock import local, utcnow
from evenhand.models import Anomaly, AnomalyStatus, ChangeEntry, ChangeStatus, KpiPoint
from evenhand.monitor import repository, service
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import Series, day_date, day_number

SPARK_DAYS = 90
AROUND_DAYS = 14  # a drill-down's chart reaches this far either side of the anomaly's windows
TOP_VALUES = 5  # the dimension values a KPI's chart draws, the largest first


# --- lines ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A KPI over consecutive days: each day's own value and the trailing window's; the first ``mature`` days are
    final, the rest (a horizon rate's young cohorts) may still rise."""

    days: tuple[date, ...]
    daily: tuple[float | None, ...]
    rolling: tuple[float | None, ...]
    mature: int


def _optional(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if not np.isfinite(v) else float(v) for v in values)


def _trailing(values: np.ndarray, width: int) -> np.ndarray:
    """Sum of each day and the ``width - 1`` days before it."""
    total = np.cumsum(np.concatenate([[0.0], values]))
    return total[1:] - total[np.maximum(np.arange(1, len(values) + 1) - width, 0)]


def pooled(kpi: Kpi, series: Series, width: int) -> np.ndarray:
    """The KPI over each day's trailing ``width`` days (NaN where fewer than ``min_n`` rows)."""
    n = _trailing(series.n, width)
    with np.errstate(invalid="ignore", divide="ignore"):
        if kpi.kind == "count":
            return _trailing(series.x, width) / np.minimum(np.arange(1, len(n) + 1), width)
        if kpi.kind == "quantile":
            known = np.isfinite(series.v)
            weighted = _trailing(np.where(known, series.v * series.n, 0.0), width)
            value = weighted / _trailing(np.where(known, series.n, 0.0), width)
        else:
            value = _trailing(series.x, width) / n
    return np.where(n >= kpi.min_n, value, np.nan)


def line(kpi: Kpi, series: Series, *, shown_from: date, as_of: date) -> Line:
    """The series (read from ``window_days`` before ``shown_from`` so the first rolling value is whole) cut to the
    days shown."""
    rolling = pooled(kpi, series, kpi.window_days)
    keep = series.days >= day_number(shown_from)
    days = tuple(day_date(int(d)) for d in series.days[keep])
    mature_until = day_number(as_of) - (kpi.horizon_days or 0)
    return Line(days, _optional(series.v[keep]), _optional(rolling[keep]),
                int(np.sum(series.days[keep] <= mature_until)))


def _read(session: Session, kpi: Kpi, first: date, last: date, dimension: str = "", value: str = "") -> Series:
    return repository.series(session, kpi, first - timedelta(days=kpi.window_days - 1), last, dimension, value)


# --- the KPI definitions and the day the figures reach ---------------------------------------------------------------


def definitions(session: Session) -> dict[str, Kpi]:
    """The active KPI definitions by id, in their document's order."""
    return {k.id: k for k in service.active_kpis(session).kpis}


def as_of(session: Session, zone: ZoneInfo) -> date:
    """The last day the company's series reach (yesterday at the latest: a day still running is not a figure yet):
    the figures stop where the facts stop."""
    last = session.scalar(select(func.max(KpiPoint.day)).where(KpiPoint.dimension == "", KpiPoint.n > 0))
    yesterday = local(utcnow(), zone).date() - timedelta(days=1)
    return yesterday if last is None else min(last, yesterday)


# --- change markers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A change drawn on a chart on the local day it took effect."""

    id: int
    title: str
    kind: str
    system: str
    day: date
    status: str


def _moment(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def markers(session: Session, first: date, last: date, zone: ZoneInfo) -> tuple[Marker, ...]:
    """Changes that took effect from ``first`` to ``last``: released ones and those rolled back since (a planned
    change has changed nothing yet)."""
    found = session.scalars(select(ChangeEntry).where(
        ChangeEntry.effective_at >= _moment(first, zone), ChangeEntry.effective_at < _moment(last + timedelta(1), zone),
        ChangeEntry.status != ChangeStatus.PLANNED).order_by(ChangeEntry.effective_at, ChangeEntry.id))
    return tuple(Marker(c.id, c.title, c.kind, c.system, local(c.effective_at, zone).date(), c.status.value)
                 for c in found)


# --- anomalies ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRef:
    id: int
    title: str


@dataclass(frozen=True)
class Top:
    """The explanation ranked first: a dimension's value and the share of the shift it accounts for."""

    dimension: str
    value: str
    power: float


@dataclass(frozen=True)
class AnomalyRow:
    id: int
    kpi_id: str
    kpi: Kpi | None  # None once the KPI is no longer defined
    kind: str
    method: str
    direction: str
    started: date
    detected: date
    last: date
    ended: date | None
    baseline: float | None
    observed: float | None
    effect: float | None
    p_value: float | None
    status: str
    top: Top | None
    changes: tuple[ChangeRef, ...]

    @property
    def delay(self) -> int:
        """Days from the shift's start to its detection."""
        return (self.detected - self.started).days

    @property
    def harmful(self) -> bool | None:
        """Whether it moved the KPI against its good direction (None when the KPI is gone)."""
        return None if self.kpi is None else self.direction != self.kpi.good


def _top(explanation: dict[str, Any]) -> Top | None:
    for dimension in explanation.get("dimensions") or []:
        for element in dimension.get("elements") or []:
            return Top(str(dimension.get("dimension", "")), str(element.get("value", "")),
                       float(element.get("explanatory_power") or 0.0))
    return None


def _titles(session: Session, ids: Iterable[int]) -> dict[int, ChangeEntry]:
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    return {c.id: c for c in session.scalars(select(ChangeEntry).where(ChangeEntry.id.in_(wanted)))}


def _row(anomaly: Anomaly, kpis: dict[str, Kpi], changes: dict[int, ChangeEntry]) -> AnomalyRow:
    refs = tuple(ChangeRef(i, changes[i].title) for i in (int(c) for c in anomaly.change_ids) if i in changes)
    return AnomalyRow(anomaly.id, anomaly.kpi, kpis.get(anomaly.kpi), anomaly.kind, anomaly.method,
                      anomaly.direction, anomaly.started_on, anomaly.detected_on, anomaly.last_on, anomaly.ended_on,
                      anomaly.baseline, anomaly.observed, anomaly.effect, anomaly.p_value, anomaly.status.value,
                      _top(anomaly.explanation or {}), refs)


def anomalies(session: Session, kpis: dict[str, Kpi], *, status: AnomalyStatus | None = None, kpi: str | None = None,
              limit: int = 200) -> list[AnomalyRow]:
    """Open anomalies first, then the most recently detected (a withdrawn one among them, marked so)."""
    query = select(Anomaly).order_by(Anomaly.status != AnomalyStatus.OPEN, Anomaly.detected_on.desc(),
                                     Anomaly.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Anomaly.status == status)
    if kpi is not None:
        query = query.where(Anomaly.kpi == kpi)
    return rows(session, list(session.scalars(query)), kpis)


def rows(session: Session, found: list[Anomaly], kpis: dict[str, Kpi] | None = None) -> list[AnomalyRow]:
    """The anomalies as the pages and the API show them, with their KPI and the titles of their changes."""
    kpis = definitions(session) if kpis is None else kpis
    changes = _titles(session, (i for a in found for i in a.change_ids))
    return [_row(a, kpis, changes) for a in found]


def listed(session: Session, principal: Principal, *, status: AnomalyStatus | None = None, kpi: str | None = None,
           limit: int = 200) -> list[AnomalyRow]:
    service.may_read(principal)
    return anomalies(session, definitions(session), status=status, kpi=kpi, limit=limit)


def open_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Anomaly).where(
        Anomaly.status == AnomalyStatus.OPEN)) or 0


def anomaly(session: Session, principal: Principal, anomaly_id: int) -> Anomaly:
    service.may_read(principal)
    found = session.get(Anomaly, anomaly_id)
    if found is None:
        raise NotFound("No anomaly {id}.", field="anomaly_id", id=anomaly_id)
    return found


# --- one anomaly's drill-down ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    value: str
    explanatory_power: float
    surprise: float
    baseline: float | None
    observed: float | None
    share: float | None


@dataclass(frozen=True)
class Dimension:
    name: str
    surprise: float
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Node:
    """A KPI in the funnel trace: ``shifted`` (with its own anomaly, size and start) or ``steady`` (checked)."""

    kpi: str
    status: str
    anomaly_id: int | None
    effect: float | None
    started: date | None
    children: tuple[Node, ...]


@dataclass(frozen=True)
class LinkedChange:
    """A change ranked as a likely cause: its score and the reasons, and how many days before the start it took
    effect (negative: after)."""

    id: int
    title: str
    kind: str
    system: str
    effective: datetime
    status: str
    score: float | None
    reasons: tuple[str, ...]
    days_before: int


@dataclass(frozen=True)
class Drill:
    row: AnomalyRow
    line: Line | None
    windows: dict[str, tuple[date, date]]
    dimensions: tuple[Dimension, ...]
    trace: Node | None
    chain: tuple[str, ...]
    changes: tuple[LinkedChange, ...]
    markers: tuple[Marker, ...]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _dimensions(explanation: dict[str, Any]) -> tuple[Dimension, ...]:
    return tuple(Dimension(str(d.get("dimension", "")), float(d.get("surprise") or 0.0), tuple(
        Element(str(e.get("value", "")), float(e.get("explanatory_power") or 0.0), float(e.get("surprise") or 0.0),
                _number(e.get("baseline")), _number(e.get("observed")), _number(e.get("share")))
        for e in d.get("elements") or [])) for d in explanation.get("dimensions") or [])


def node(data: dict[str, Any] | None) -> Node | None:
    if not data:
        return None
    anomaly_id = data.get("anomaly_id")
    return Node(str(data.get("kpi", "")), str(data.get("status", "")), None if anomaly_id is None else int(anomaly_id),
                _number(data.get("effect")), _day(data.get("started")),
                tuple(n for n in (node(c) for c in data.get("children") or []) if n is not None))


def _windows(explanation: dict[str, Any]) -> dict[str, tuple[date, date]]:
    found = {}
    for name, pair in (explanation.get("windows") or {}).items():
        first, last = (_day(p) for p in [*list(pair), None, None][:2])
        if first is not None and last is not None:
            found[str(name)] = (first, last)
    return found


def linked(session: Session, anomaly: Anomaly, zone: ZoneInfo) -> tuple[LinkedChange, ...]:
    """The changes the scan linked, ranked as it ranked them (those it scored first, then any other linked id)."""
    scored = {int(c["id"]): c for c in (anomaly.explanation or {}).get("changes") or [] if "id" in c}
    order = list(scored) + [int(i) for i in anomaly.change_ids if int(i) not in scored]
    entries = _titles(session, order)
    return tuple(LinkedChange(c.id, c.title, c.kind, c.system, c.effective_at, c.status.value,
                              _number(scored.get(c.id, {}).get("score")),
                              tuple(str(r) for r in scored.get(c.id, {}).get("reasons") or []),
                              (anomaly.started_on - local(c.effective_at, zone).date()).days)
                 for c in (entries[i] for i in order if i in entries))


def drill(session: Session, principal: Principal, anomaly_id: int, zone: ZoneInfo) -> Drill:
    found = anomaly(session, principal, anomaly_id)
    kpis = definitions(session)
    explanation = found.explanation or {}
    windows = _windows(explanation)
    today = as_of(session, zone)
    first, last = _reach(found, windows, today)
    kpi = kpis.get(found.kpi)
    shown = None if kpi is None else line(kpi, _read(session, kpi, first, last), shown_from=first, as_of=today)
    row = rows(session, [found], kpis)[0]
    return Drill(row, shown, windows, _dimensions(explanation), node(explanation.get("trace")),
                 tuple(str(k) for k in explanation.get("chain") or []), linked(session, found, zone),
                 markers(session, first, last, zone))


def _reach(found: Anomaly, windows: dict[str, tuple[date, date]], today: date) -> tuple[date, date]:
    """The drill-down chart's days: the windows and the anomaly, with ``AROUND_DAYS`` either side."""
    days = [found.started_on, found.last_on, *(d for pair in windows.values() for d in pair)]
    return min(days) - timedelta(AROUND_DAYS), max(min(max(days) + timedelta(AROUND_DAYS), today), max(days))


# --- the monitoring page's tiles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """A KPI at a glance: its latest whole window (``window``) beside the window before, its line, and its open
    anomaly if it has one."""

    kpi: Kpi
    now: float | None
    before: float | None
    window: tuple[date, date]
    line: Line
    anomaly: int | None

    @property
    def beyond_alert(self) -> bool:
        """The latest window lies past the KPI's alert line."""
        above, below, now = self.kpi.alert_above, self.kpi.alert_below, self.now
        return now is not None and ((above is not None and now > above) or (below is not None and now < below))


@dataclass(frozen=True)
class Overview:
    as_of: date
    tiles: tuple[Tile, ...]
    markers: tuple[Marker, ...]
    anomalies: tuple[AnomalyRow, ...]


def _window_values(kpi: Kpi, series: Series, last: date) -> tuple[float | None, float | None]:
    """The window ending ``last`` and the one before it."""
    values = pooled(kpi, series, kpi.window_days)
    end = day_number(last)

    def ending(day: int) -> float | None:
        at = day - int(series.days[0]) if len(series.days) else -1
        return float(values[at]) if 0 <= at < len(values) and np.isfinite(values[at]) else None
    return ending(end), ending(end - kpi.window_days)


def tile(session: Session, kpi: Kpi, today: date, anomaly_id: int | None) -> Tile:
    first = today - timedelta(SPARK_DAYS - 1)
    series = repository.series(session, kpi, first - timedelta(kpi.window_days * 2), today)
    end = today - timedelta(kpi.horizon_days or 0)
    now, before = _window_values(kpi, series, end)
    return Tile(kpi, now, before, (end - timedelta(kpi.window_days - 1), end),
                line(kpi, series, shown_from=first, as_of=today), anomaly_id)


def overview(session: Session, principal: Principal, zone: ZoneInfo) -> Overview:
    service.may_read(principal)
    kpis = definitions(session)
    today = as_of(session, zone)
    rows = anomalies(session, kpis)
    open_by_kpi: dict[str, int] = {}
    for row in rows:
        if row.status == AnomalyStatus.OPEN.value:
            open_by_kpi.setdefault(row.kpi_id, row.id)
    tiles = tuple(tile(session, k, today, open_by_kpi.get(k.id)) for k in kpis.values())
    return Overview(today, tiles, markers(session, today - timedelta(SPARK_DAYS - 1), today, zone), tuple(rows))


# --- one KPI's chart ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """An anomaly shaded on a KPI's chart, from its start to its last anomalous day."""

    id: int
    first: date
    last: date
    direction: str
    status: str


@dataclass(frozen=True)
class KpiView:
    kpi: Kpi
    as_of: date
    line: Line
    markers: tuple[Marker, ...]
    bands: tuple[Band, ...]


def kpi(session: Session, principal: Principal, kpi_id: str) -> Kpi:
    service.may_read(principal)
    return repository.kpi(session, kpi_id)


def kpi_view(session: Session, principal: Principal, kpi_id: str, *, days: int, zone: ZoneInfo) -> KpiView:
    found = kpi(session, principal, kpi_id)
    today = as_of(session, zone)
    first = today - timedelta(days - 1)
    shaded = (Anomaly.kpi == kpi_id, Anomaly.last_on >= first, Anomaly.status != AnomalyStatus.WITHDRAWN)
    bands = session.scalars(select(Anomaly).where(*shaded).order_by(Anomaly.started_on))
    return KpiView(found, today, line(found, _read(session, found, first, today), shown_from=first, as_of=today),
                   markers(session, first, today, zone),
                   tuple(Band(a.id, max(a.started_on, first), a.last_on, a.direction, a.status.value) for a in bands))


def top_values(session: Session, principal: Principal, kpi_id: str, dimension: str, *, days: int,
               zone: ZoneInfo, top: int = TOP_VALUES) -> list[tuple[str, Line]]:
    """The dimension's ``top`` values with the most rows over the days shown, each as its own line."""
    found = kpi(session, principal, kpi_id)
    if dimension not in found.dimensions:
        raise NotFound("The KPI {id} is not broken down by {dimension}.", field="dimension", id=kpi_id,
                       dimension=dimension)
    today = as_of(session, zone)
    first = today - timedelta(days - 1)
    cells = repository.cells(session, found, dimension, first - timedelta(found.window_days - 1), today)
    largest = sorted(cells.items(), key=lambda item: (-float(np.sum(item[1].n)), item[0]))[:top]
    return [(value, line(found, series, shown_from=first, as_of=today)) for value, series in largest]


def kpi_names(kpis: dict[str, Kpi], ids: Sequence[str], locale: str) -> dict[str, str]:
    """Each id's name in ``locale``; an id no longer defined keeps its id."""
    return {i: kpis[i].label(locale) if i in kpis else i for i in ids}
