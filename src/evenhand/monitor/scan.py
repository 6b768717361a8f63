"""The scan: every active KPI's stored series checked for anomalies up to a day, each finding explained by the
dimension values behind it (Adtributor), traced up the funnel through the KPIs upstream of it, and linked to the
changes made shortly before it started. A scan up to today stores what it found; a scan up to an earlier day is a
replay of what could have been known then, and stores nothing."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from evenhand.monitor import detect, explain
from evenhand.monitor import scan_repository as repository
from evenhand.monitor.detect import Finding
from evenhand.monitor.explain import DimensionExplanation, FunnelNode, LinkedChange, Totals
from evenhand.monitor.kpis import CompiledKpis, Kpi
from evenhand.monitor.report import Explained, Report
from evenhand.monitor.series import NO_DAYS_OFF, DaysOff, DaysWorked, Series, day_date, day_number
from evenhand.monitor.service import active_kpis, cells, days_off, last_whole_day, series

LOOKBACK_DAYS = 120  # the evaluation days of a scan; an anomaly that started earlier is kept as it was stored
LEAD_DAYS = 21  # an upstream KPI's shift counts as a cause when it started this long before its downstream's
AFTER_DAYS = 3  # a change-point estimate can come a few days early: a change this soon after it is still linked


def scan(session: Any, *, until: date | None = None, days: int = LOOKBACK_DAYS) -> list[Report]:
    """Every anomaly whose episode touches the ``days`` evaluation days up to ``until`` (default: the last whole day
    the series reach), explained. Stored (and new ones announced) only when ``until`` is not before that day; a
    stored anomaly detected within those days that the scan no longer finds is withdrawn."""
    kpis = active_kpis(session)
    newest = last_whole_day(session)
    end = until or newest
    if end is None:
        return []
    found: dict[str, list[Finding]] = {}
    off = days_off(session)
    for k in upstream_first(kpis):
        found[k.id] = _findings(session, k, end, days, _explained_days(k, found), off)
    explained = {(k.id, f.started): _explained(session, k, f, end, off) for k in kpis.kpis for f in found[k.id]}
    changes = repository.change_refs(session, end - timedelta(days=days + 30), end)
    reports = [_report(kpis, kpis.get(kpi_id), f, found, explained, changes)
               for (kpi_id, _), (f, _, _) in explained.items()]
    reports.sort(key=lambda r: (r.finding.detected, r.kpi.id))
    if newest is not None and end >= newest:
        return repository.store(session, reports, judged=(end - timedelta(days=days), end),
                                kpis={k.id: k for k in kpis.kpis})
    return reports


def upstream_first(kpis: CompiledKpis) -> list[Kpi]:
    """The KPIs in an order that puts each after the KPIs upstream of it (a cycle is broken where it closes)."""
    ordered: dict[str, Kpi] = {}

    def visit(kpi: Kpi, path: tuple[str, ...]) -> None:
        for up in kpi.upstream:
            if up not in ordered and up not in path and (found := kpis.get(up)) is not None:
                visit(found, (*path, kpi.id))
        ordered.setdefault(kpi.id, kpi)

    for kpi in kpis.kpis:
        visit(kpi, ())
    return list(ordered.values())


def _explained_days(kpi: Kpi, found: Mapping[str, list[Finding]]) -> set[int]:
    """The days on which a statistical shift of a KPI upstream of ``kpi`` was known and still going: from its
    detection to its last alarm, and for ``LEAD_DAYS`` after (its effect downstream comes later)."""
    return {day for up in kpi.upstream for f in found.get(up, ()) if f.kind == "statistical"
            for day in range(f.detected, f.last + LEAD_DAYS + 1)}


def _findings(session: Any, kpi: Kpi, end: date, days: int, explained: Collection[int] = (),
              off: DaysOff = NO_DAYS_OFF) -> list[Finding]:
    """Days are judged once the history they read lies after the series' first day with data: before a company's
    first lead, no leads is not an anomaly."""
    first = end - timedelta(days=days)
    history = detect.history(kpi)
    stored = series(session, kpi, first - timedelta(days=history), end)
    began = stored.days[stored.n > 0]
    if not len(began):
        return []
    start = max(day_number(first), int(began[0]) + history)
    if start > day_number(end):
        return []
    return detect.scan(kpi, stored, start, day_number(end), explained=explained, days_off=off)


def _explained(session: Any, kpi: Kpi, finding: Finding, end: date, off: DaysOff = NO_DAYS_OFF) -> Explained:
    """The finding with its windows (the baseline before its start, the anomaly from its start to its last alarm
    once it ended, else to ``end``) and the dimension values that explain it."""
    until = finding.last if finding.ended is not None else day_number(end)
    windows = ((finding.started - kpi.baseline_days, finding.started - 1), (finding.started, until))
    return finding, windows, _explain(session, kpi, windows, until, off)


def _report(kpis: CompiledKpis, kpi: Kpi | None, finding: Finding, found: Mapping[str, list[Finding]],
            explained: Mapping[tuple[str, int], Explained], changes: Sequence[explain.ChangeRef]) -> Report:
    assert kpi is not None
    _, windows, dims = explained[(kpi.id, finding.started)]
    node = explain.trace(kpi.id, {k.id: k for k in kpis.kpis}, found, lead_days=LEAD_DAYS, finding=finding)
    path = explain.chain(node)
    return Report(kpi, finding, windows, dims, node, path, _linked(kpis, kpi, node, path, explained, changes))


def _explain(session: Any, kpi: Kpi, windows: tuple[tuple[int, int], tuple[int, int]], until: int,
             off: DaysOff = NO_DAYS_OFF) -> list[DimensionExplanation]:
    (b0, _), (a0, a1) = windows
    base: dict[str, dict[str, Totals]] = {}
    anom: dict[str, dict[str, Totals]] = {}
    worked = DaysWorked.over(b0, max(a1, until) + (kpi.horizon_days or 0) + 1, off)
    for dimension in kpi.dimensions:
        values = cells(session, kpi, dimension, day_date(b0), day_date(a1))
        base[dimension], anom[dimension] = _windowed(kpi, values, windows, until, worked)
    ratio = (a1 - a0 + 1) / kpi.baseline_days
    return explain.adtributor(kpi, base, anom, volume_ratio=ratio if kpi.kind == "count" else None)


def _windowed(kpi: Kpi, values: Mapping[str, Series], windows: tuple[tuple[int, int], tuple[int, int]],
              until: int, worked: DaysWorked) -> tuple[dict[str, Totals], dict[str, Totals]]:
    """Each value's totals in the two windows; a horizon rate counts what each cohort reached by ``until``, and
    the anomalous cohorts' expected numerator at their own ages (in days worked) at the value's baseline rate."""
    base, anom = {}, {}
    for value, cell in values.items():
        b, a = (_mask(cell, w) for w in windows)
        if kpi.horizon_days and cell.by_age is not None:
            seen = _seen(cell, until, kpi.horizon_days)
            curve = _curve(cell, b, until, kpi.horizon_days, worked)
            ages = worked.age(cell.days[a], np.minimum(until - cell.days[a], kpi.horizon_days))
            expected = float((cell.n[a] * curve[ages]).sum())
            base[value] = Totals(float(cell.n[b].sum()), float(seen[b].sum()))
            anom[value] = Totals(float(cell.n[a].sum()), float(seen[a].sum()), expected_x=expected)
        else:
            base[value] = Totals(float(cell.n[b].sum()), float(cell.x[b].sum()))
            anom[value] = Totals(float(cell.n[a].sum()), float(cell.x[a].sum()))
    return base, anom


def _mask(cell: Series, window: tuple[int, int]) -> np.ndarray:
    return (cell.days >= window[0]) & (cell.days <= window[1])


def _seen(cell: Series, until: int, horizon: int) -> np.ndarray:
    """Each cohort's numerator as known on ``until``."""
    assert cell.by_age is not None
    ages = np.clip(until - cell.days, 0, horizon)
    return np.asarray(cell.by_age, dtype=float)[np.arange(len(cell.days)), ages]


def _curve(cell: Series, base: np.ndarray, until: int, horizon: int, worked: DaysWorked) -> np.ndarray:
    """The baseline cohorts' share converted by each age 0..horizon in days worked, each age over the cohorts that
    had worked that long by ``until``."""
    assert cell.by_age is not None
    days = cell.days[base]
    ages = worked.aligned(days, np.asarray(cell.by_age, dtype=float)[base])
    had = worked.age(days, np.minimum(until - days, horizon))
    reached = had[:, None] >= np.arange(horizon + 1)[None, :]
    n = (cell.n[base][:, None] * reached).sum(axis=0)
    x = (ages * reached).sum(axis=0)
    return np.divide(x, n, out=np.zeros(horizon + 1), where=n > 0)


def _linked(kpis: CompiledKpis, kpi: Kpi, node: FunnelNode, path: list[str],
            explained: Mapping[tuple[str, int], Explained], changes: Sequence[explain.ChangeRef]
            ) -> list[LinkedChange]:
    """The changes near the start of every shifted KPI of the funnel (the deepest is likeliest the cause), each
    scored with the words of that KPI's own explanation; a change linked twice keeps its best score."""
    best: dict[int, LinkedChange] = {}
    ids = {kpi.id, *path, *(u for k in path if (found := kpis.get(k)) for u in found.upstream)}
    for step in _shifted(node):
        assert step.finding is not None
        step_kpi = kpis.get(step.kpi) or kpi
        dims = explained.get((step.kpi, step.finding.started), (None, None, []))[2]
        words = explain.explanation_words(step_kpi, dims)
        for link in explain.link_changes(step.finding.started, changes, words=words, kpi_ids=ids,
                                        after_days=AFTER_DAYS):
            if link.id not in best or link.score > best[link.id].score:
                best[link.id] = link
    return sorted(best.values(), key=lambda c: (-c.score, c.id))


def _shifted(node: FunnelNode) -> list[FunnelNode]:
    return [node, *(n for c in node.children if c.status == "shifted" for n in _shifted(c))] \
        if node.status == "shifted" else []
