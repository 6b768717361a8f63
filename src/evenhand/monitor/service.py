"""KPI monitoring: the versioned KPI definitions (``kpis.KPIS``, table ``kpi_definitions``), the incremental refresh of
their daily points, and the reads others build on (the active KPIs, a KPI's series and its cells). Callers commit.

Refresh rules:

- Per fact source, the watermark holds the moment up to which its changes are in the points. A refresh asks each
  source for the earliest fact touched after that moment (less ``LATE``: a row written by a transaction still open at
  the last refresh carries an earlier time) and recomputes its KPIs' points from that fact's day on: delete from that
  day, insert what the facts give, in the caller's transaction. Then the watermark moves to now (or to the end of
  ``until``).
- Compliance is judged as of the refresh: its points are recomputed from the watermark's day (a deadline passing
  decides a standard without any row changing).
- ``until`` ends the series that day: points after it are removed, and a later refresh takes up from there.
- A new version of the definitions, a source without a watermark, or ``full`` rebuilds every point from the first
  fact. Changes written with past times (a history import, an organisation's team moves) are seen by the worker's
  daily full rebuild.
"""

from __future__ import annotations

import time as timer
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Forbidden, Invalid
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import KpiDefinitionVersion, KpiPoint, KpiWatermark, Role
from evenhand.monitor import repository, sources
from evenhand.monitor.kpis import KPIS, CompiledKpis, Kpi
from evenhand.monitor.series import DaysOff, Series, day_date, day_number, points
from evenhand.standards import service as standards
from evenhand.standards.compliance import NONE, STATUSES, Status, judge_many, micros, weekdays_worked
from evenhand.standards.document import STAGES

LATE = timedelta(minutes=15)
DEFAULT_DAYS = 90  # a chart's span when none is asked for
MAX_DAYS = 3 * 366
# Compliance reads the clocks started this long before the first day recomputed: a deadline falls within days of
# its clock's start (hours, calendar days or a few working days).
COMPLIANCE_LOOKBACK = timedelta(days=90)
DAWN = datetime(1970, 1, 1, tzinfo=UTC)
DEFINITIONS = "definitions v{version}"  # the watermark row naming the definitions the points were computed under
# The refresh reads every record, as sales ops would; it acts as nobody.
EVERYONE = Principal(user_id=0, username="monitor", display_name="monitor", role=Role.AUDITOR, via="system")
Progress = Callable[[str, int, int], None]  # (the source being read, "" at the end; sources done; sources in all)


# --- the definitions -------------------------------------------------------------------------------------------------


def active_kpis(session: Session) -> CompiledKpis:
    """The active KPI definitions, compiled (the shipped ones on a new database)."""
    return KPIS.compiled(KPIS.active(session).body)


def save(session: Session, body: str, *, author: Principal | None, note: str = "") -> KpiDefinitionVersion:
    """Validate, store as the next active version; the audit entry carries the diff. The next refresh rebuilds every
    series under it."""
    return KPIS.save(session, body, author_id=author.user_id if author else None, note=note)


# --- reads -----------------------------------------------------------------------------------------------------------


def may_read(principal: Principal) -> None:
    """The series set every team's (and rep's) figures side by side: sales ops, auditors, admin and supervisors read
    them, as they read colleagues' figures elsewhere."""
    if not principal.sees_team_figures:
        raise Forbidden("Only sales operations, supervisors and auditors read the KPI series.")


def kpi(session: Session, kpi_id: str) -> Kpi:
    """A KPI of the active definitions; ``NotFound`` naming ``kpi`` otherwise."""
    return repository.kpi(session, kpi_id)


def series(session: Session, kpi_id: str | Kpi, first: date, last: date, dimension: str = "", value: str = ""
           ) -> Series:
    return repository.series(session, kpi_id, first, last, dimension, value)


def cells(session: Session, kpi_id: str | Kpi, dimension: str, first: date, last: date) -> dict[str, Series]:
    return repository.cells(session, kpi_id, dimension, first, last)


def span_of(session: Session, first: date | None, last: date | None, *, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """The days a chart covers: ``last`` defaults to the last day the series reach (today before any refresh),
    ``first`` to ``days`` days before it; refused, naming the field, when backwards or longer than ``MAX_DAYS``."""
    last = last or last_day(session) or utcnow().astimezone(get_settings().zone).date()
    first = first or last - timedelta(days=days - 1)
    if first > last:
        raise Invalid("The first day {first} is after the last {last}.", field="first", first=first.isoformat(),
                      last=last.isoformat())
    if (last - first).days >= MAX_DAYS:
        raise Invalid("A series spans at most {days} days.", field="first", days=MAX_DAYS)
    return first, last


def chart(session: Session, kpi_id: str, first: date | None, last: date | None, dimension: str = "",
          value: str = "") -> tuple[Kpi, Series, date, date]:
    """One cell's series for a chart: the KPI, the series and its span (``span_of``); a dimension the KPI does not
    have is refused naming ``dimension``."""
    found = kpi(session, kpi_id)
    if dimension and dimension not in found.dimensions:
        raise Invalid("The KPI {kpi} has no dimension {dimension}; it has {known}.", field="dimension",
                      kpi=found.id, dimension=dimension, known=", ".join(found.dimensions) or "—")
    first, last = span_of(session, first, last)
    return found, series(session, found, first, last, dimension, value), first, last


def latest(session: Session) -> list[tuple[Kpi, KpiPoint | None]]:
    """Every active KPI with its latest whole-company point (None before the first refresh)."""
    kpis = active_kpis(session)
    found = repository.latest(session, [k.id for k in kpis.kpis])
    return [(k, found.get(k.id)) for k in kpis.kpis]


def last_day(session: Session) -> date | None:
    """The last day the stored series reach (None before the first refresh)."""
    return repository.last_day(session)


def days_off(session: Session) -> DaysOff:
    """The days the company does not work, which a conversion does not count among its days to mature
    (``detect._Cohorts``): the holidays its active stage standards list (``calendar.holidays``), and the weekdays
    that fewer than half of its active reps work (their working hours; none when it has no rep), but the make-up
    working days the standards list (``calendar.workdays``)."""
    compiled = standards.STANDARDS.compiled(standards.active(session).body)
    weeks = [weekdays_worked(hours) or frozenset(range(7)) for hours in repository.reps_working_hours(session)]
    return DaysOff(frozenset(day_number(day) for day in compiled.holidays),
                   frozenset(day for day in range(7) if 2 * sum(day in w for w in weeks) < len(weeks)),
                   frozenset(day_number(day) for day in compiled.workdays))


def last_whole_day(session: Session, now: datetime | None = None) -> date | None:
    """The last day the stored series reach that has ended in the company's zone: a day still running is never
    judged (its morning would look like a drop in everything)."""
    last = repository.last_day(session)
    yesterday = (now or utcnow()).astimezone(get_settings().zone).date() - timedelta(days=1)
    return None if last is None else min(last, yesterday)


# --- refresh ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    version: int  # of the definitions
    full: bool
    last: date
    recomputed: dict[str, date | None] = field(default_factory=dict)  # per source: from which day (None: nothing)
    points: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "full": self.full, "last": self.last.isoformat(), "points": self.points,
                "seconds": round(self.seconds, 2),
                "recomputed": {s: d.isoformat() if d else None for s, d in self.recomputed.items()}}


@dataclass(frozen=True)
class _Span:
    """What one refresh covers: its days end at ``last``; facts are seen up to ``seen`` (now, or the end of
    ``last`` when that is earlier)."""

    zone: tzinfo
    now: datetime
    last: int
    seen: datetime


def refresh(session: Session, *, until: date | None = None, progress: Progress | None = None, full: bool = False,
            now: datetime | None = None) -> Refreshed:
    """Bring every active KPI's points up to date, through ``until`` (default: today in the company's zone)."""
    started = timer.perf_counter()
    repository.take_turns(session)
    span = _span(until, as_utc(now or utcnow()))
    row = KPIS.active(session)
    kpis, marker = KPIS.compiled(row.body), DEFINITIONS.format(version=row.version)
    marks, full = _watermarks(session, marker, full)
    report = progress or (lambda _source, _done, _total: None)
    recomputed, written = {}, 0
    for done, source in enumerate(kpis.sources):
        report(source, done, len(kpis.sources))
        first, count = _refresh_source(session, kpis.of_source(source), marks.get(source), span)
        recomputed[source], written = (day_date(first) if first is not None else None), written + count
        repository.mark(session, source, span.seen, span.now)
    report("", len(kpis.sources), len(kpis.sources))
    repository.mark(session, marker, span.seen, span.now)
    return Refreshed(row.version, full, day_date(span.last), recomputed, written, timer.perf_counter() - started)


def _watermarks(session: Session, marker: str, full: bool) -> tuple[dict[str, KpiWatermark], bool]:
    """The watermarks to start from, and whether the refresh is full: none when asked for a full one or when the
    points were computed under other definitions (their marker is missing) — every point and watermark dropped."""
    marks = repository.watermarks(session)
    if not full and marker in marks:
        return marks, False
    repository.clear(session, None)
    repository.forget(session, list(marks))
    return {}, True


def _span(until: date | None, now: datetime) -> _Span:
    zone = get_settings().zone
    last = until or now.astimezone(zone).date()
    return _Span(zone, now, day_number(last), min(now, _midnight(last + timedelta(days=1), zone)))


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _refresh_source(session: Session, kpis: tuple[Kpi, ...], mark: KpiWatermark | None, span: _Span
                    ) -> tuple[int | None, int]:
    """Recompute the source's points from the first day its facts changed; that day (None: nothing changed) and
    the points written."""
    ids = [k.id for k in kpis]
    first = None if mark is None else _first_changed(session, kpis[0].source, mark.seen_until, span)
    if mark is not None and first is None:
        return None, 0
    repository.clear(session, ids, from_day=day_date(first) if first is not None else None)
    if first is not None and first > span.last:
        return first, 0
    facts = _read(session, kpis[0].source, first, span)
    if not len(facts):
        return first, 0
    start = first if first is not None else int(facts.day.min())
    return start, repository.write(session, [points(k, facts, start, span.last) for k in kpis], day_date)


def _first_changed(session: Session, source: str, seen_until: datetime, span: _Span) -> int | None:
    """The first day whose facts may differ from the points: the earliest fact touched since the watermark, and the
    day after ``until`` when the series reached further before."""
    since = as_utc(seen_until) - LATE
    days = []
    moment = int(since.timestamp()) if source == "compliance" else repository.changed_since(session, source, since)
    if moment is not None:
        days.append(int(sources.local_days(np.array([moment]), span.zone)[0]))
    if as_utc(seen_until) > span.seen:
        days.append(span.last + 1)
    return min(days, default=None)


def facts(session: Session, source: str, *, first: date | None, last: date, now: datetime | None = None
          ) -> sources.Facts:
    """A fact source's rows on the days [first, last] (from its first fact without ``first``) as columns, as the
    refresh reads them (compliance judged as of ``now``, or the end of ``last`` when earlier)."""
    return _read(session, source, day_number(first) if first else None, _span(last, as_utc(now or utcnow())))


def _read(session: Session, source: str, first: int | None, span: _Span) -> sources.Facts:
    """The source's facts on the days [first, span.last] (from its first fact without ``first``)."""
    since = _midnight(day_date(first), span.zone) if first is not None else None
    until = _midnight(day_date(span.last + 1), span.zone)
    if source == "leads":
        return sources.leads(*repository.lead_rows(session, since, until), span.zone)
    if source == "compliance":
        return _compliance(session, since, until, span)
    rows, build = _READERS[source]
    found = build(rows(session, since, until), span.zone)
    return found if first is None else found.take(found.day >= first)  # a deal's earlier exits come along


_READERS: dict[str, tuple[Callable[[Session, datetime | None, datetime], sources.Rows],
                          Callable[[sources.Rows, tzinfo], sources.Facts]]] = {
    "notifications": (repository.notification_rows, sources.notifications),
    "decisions": (repository.decision_rows, sources.decisions),
    "alerts": (repository.alert_rows, sources.alerts),
    "stage_exits": (repository.stage_change_rows, sources.stage_exits)}


def _compliance(session: Session, since: datetime | None, until: datetime, span: _Span) -> sources.Facts:
    """Every stage standard (a lead's first contact, a deal's stage entry) whose deadline fell from ``since`` to
    ``span.seen``, judged under the active standards as of then."""
    stage, rep, status, due = _judged(session, since, until, span.seen)
    keep = (status != NONE) & (due <= micros(span.seen)) & (due >= micros(since or DAWN))
    names = repository.people(session, set(rep[keep].tolist()))
    person = [names.get(r, ("", "")) for r in rep[keep].tolist()]
    return sources.compliance(due[keep] // 1_000_000, np.array(STAGES, dtype=object)[stage[keep]],
                              np.array([p[1] for p in person], dtype=object),
                              np.array([p[0] for p in person], dtype=object),
                              status[keep] == STATUSES.index(Status.MET), span.zone)


def _judged(session: Session, since: datetime | None, until: datetime, judged: datetime
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The clocks started from ``COMPLIANCE_LOOKBACK`` before ``since`` until ``until``, judged through
    ``standards.service``'s bulk path as of ``judged``: each one's stage, rep, status and deadline (µs)."""
    compiled = standards.STANDARDS.compiled(standards.active(session).body)
    period = standards.read_period(session, EVERYONE, since=(since - COMPLIANCE_LOOKBACK) if since else DAWN,
                                   until=until, now=judged, standards=[compiled])
    period.reps = standards.period_reps(session, period, compiled, judged)  # the calendars deadlines count in
    calendars = {i: r.calendar for i, r in period.reps.items()}
    status, due = judge_many(compiled.stages, period.clocks, period.acts, calendars, now=judged,
                             roll=compiled.roll_past_days_off)
    return period.clocks.stage, period.clocks.rep, status, due
