"""The one place compliance with the stage standards is read: an opportunity's stages, a lead's first contact,
and figures per rep and team over a period (the share of first contacts and stage entries met on time). The
process board, alerts and scorecards read it through here.

The standards are a versioned document (``STANDARDS``, table ``stage_standards``); a result names the version it
was judged under. Visibility is the leads' and deals' own ``readable``: a rep's figures cover their own records,
a supervisor's their teams'. Callers commit."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Invalid
from evenhand.i18n import N_
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.leads import repository as lead_repository
from evenhand.leads import service as lead_service
from evenhand.models import OPEN_STAGES, Opportunity, StandardVersion, User
from evenhand.models.lead import Lead
from evenhand.opportunities import repository as deal_repository
from evenhand.opportunities import service as deal_service
from evenhand.org import service as org_service
from evenhand.standards import repository
from evenhand.standards.compliance import (
    NONE,
    STATUSES,
    ActColumns,
    ClockColumns,
    StageResult,
    Status,
    Tally,
    evaluate,
    judge_many,
    micros,
    moment,
)
from evenhand.standards.document import (
    FIRST_CONTACT,
    MESSAGES,
    STAGES,
    CompiledStandards,
    Requirement,
    StandardsError,
    compile,
    default_text,
    parse,
)
from evenhand.standards.repository import LeadClock, Rep, StageClock, Timelines

STANDARDS: versions_kit.Document[StandardVersion, CompiledStandards] = versions_kit.Document(
    StandardVersion, compile=lambda body: compile(parse(body)), error=StandardsError, messages=MESSAGES,
    wrong=N_("The stage standards are wrong at {where} (line {line}): {problem}"),
    missing=N_("No stage standards version {version}."), default_text=default_text,
    default_note="the default standards shipped with evenhand", name_of=lambda compiled: compiled.name,
    saved_action="standards.saved")
compiled_body, validate, active = STANDARDS.compiled, STANDARDS.validate, STANDARDS.active
versions, version = STANDARDS.versions, STANDARDS.version
PREVIEW_DAYS = 30
MAX_DAYS = 366  # the longest period one request judges: a year of a company's clocks, read in seconds
LEAVE_MARGIN = timedelta(days=120)  # leave read beyond a period: working-day deadlines run past its end


def save(session: Session, body: str, *, author: Principal | None, note: str = "") -> StandardVersion:
    """Validate, store as the next active version; the audit entry carries the diff."""
    return STANDARDS.save(session, body, author_id=author.user_id if author else None, note=note)


def history(session: Session) -> list[tuple[StandardVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: the system or the CLI)."""
    STANDARDS.active(session)
    stmt = (select(StandardVersion, User.display_name).outerjoin(User, User.id == StandardVersion.author_id)
            .order_by(StandardVersion.version.desc()))
    return list(session.execute(stmt).tuples())


# --- one record ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One clock (a first contact or a stage entry) judged under a version of the standards."""

    kind: str  # "lead" or "deal"
    record_id: int
    rep_id: int
    result: StageResult


@dataclass(frozen=True)
class RecordCompliance:
    version: int
    entries: list[Judged]  # oldest first; a deal's every stage entry, a lead's first contact
    names: dict[int, str]  # the reps named in ``entries`` and their activities

    @property
    def current(self) -> Judged | None:
        return self.entries[-1] if self.entries else None


def for_lead(session: Session, principal: Principal, lead_id: int, *, now: datetime | None = None
             ) -> RecordCompliance:
    """A lead's first contact under the active standards (nothing when it has no owner or no such standard)."""
    lead = lead_service.visible_lead(session, lead_id, lead_repository.readable(principal))
    row = STANDARDS.active(session)
    clocks = repository.lead_clocks(session, select(Lead.id).where(Lead.id == lead.id))
    return _record(session, STANDARDS.compiled(row.body), row.version, clocks, [], now or utcnow())


def for_opportunity(session: Session, principal: Principal, opportunity_id: int, *, now: datetime | None = None
                    ) -> RecordCompliance:
    """Every entry of the deal into a stage that has a standard, the current one last."""
    deal = deal_service.visible_opportunity(session, principal, opportunity_id)
    row = STANDARDS.active(session)
    standards = STANDARDS.compiled(row.body)
    clocks = repository.stage_clocks(session, select(Opportunity.id).where(Opportunity.id == deal.id),
                                     standards.stages)
    if not clocks:
        fallback = repository.unrecorded_stage(session, deal)
        clocks = [fallback] if fallback and fallback.stage in standards.stages else []
    return _record(session, standards, row.version, [], clocks, now or utcnow())


def current(session: Session, *, opportunity_ids: Collection[int] = (), lead_ids: Collection[int] = (),
            now: datetime | None = None) -> dict[tuple[str, int], Judged]:
    """The clock each record stands on now, judged under the active standards, in bulk (the alerts' read): a
    deal's current stage entry, a lead's first contact, by ("deal" | "lead", id). Visibility is the caller's."""
    row = STANDARDS.active(session)
    standards = STANDARDS.compiled(row.body)
    leads = repository.lead_clocks(session, select(Lead.id).where(Lead.id.in_(sorted(lead_ids)))) if lead_ids else []
    deals: list[StageClock] = []
    if opportunity_ids:
        ids = sorted(opportunity_ids)
        deals = [c for c in repository.stage_clocks(session, select(Opportunity.id).where(Opportunity.id.in_(ids)),
                                                    standards.stages) if c.ended is None]
        bare = sorted(set(ids) - {c.opportunity_id for c in deals} - repository.with_history(session, ids))
        for deal in session.scalars(select(Opportunity).where(Opportunity.id.in_(bare))) if bare else ():
            fallback = repository.unrecorded_stage(session, deal)
            deals += [fallback] if fallback and fallback.stage in standards.stages else []
    entries = _record(session, standards, row.version, leads, deals, now or utcnow()).entries
    return {(e.kind, e.record_id): e for e in entries}


@dataclass(frozen=True)
class FollowUp:
    """An action the standards still ask of a record's owner, due by the end of their day or overdue already."""

    kind: str  # "lead" or "deal"
    record_id: int
    name: str  # the lead's company, the deal's name
    result: StageResult

    @property
    def missing(self) -> list[Requirement]:
        return [line.requirement for line in self.result.lines if line.activity is None]


def follow_ups(session: Session, principal: Principal, *, now: datetime | None = None) -> list[FollowUp]:
    """The principal's own open leads and deals whose current standard misses an action with a deadline before the
    end of their day (their zone), or past already. Those still to be met on time come first, soonest deadline
    first; then the overdue ones, the most recently missed first: today's work before an old backlog."""
    now = as_utc(now or utcnow())
    leads = dict(session.execute(lead_repository.readable(principal).with_only_columns(Lead.id, Lead.company).where(
        Lead.owner_id == principal.user_id, Lead.closed_at.is_(None))).tuples().all())
    deals = dict(session.execute(deal_repository.readable(principal).with_only_columns(
        Opportunity.id, Opportunity.name).where(Opportunity.owner_id == principal.user_id,
                                                Opportunity.stage.in_(OPEN_STAGES))).tuples().all())
    judged = current(session, lead_ids=leads, opportunity_ids=deals, now=now) if leads or deals else {}
    end_of_day = _end_of_day(now, viewer_zone(session, principal))
    due = [FollowUp(kind, i, (leads if kind == "lead" else deals)[i], j.result) for (kind, i), j in judged.items()
           if j.result.status is Status.OVERDUE or (j.result.status is Status.OPEN and j.result.deadline < end_of_day)]
    return sorted(due, key=_pressing)


def _pressing(follow_up: FollowUp) -> tuple[bool, float]:
    overdue, stamp = follow_up.result.status is Status.OVERDUE, follow_up.result.deadline.timestamp()
    return overdue, -stamp if overdue else stamp


def _end_of_day(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time.min, tzinfo=zone)


def _record(session: Session, standards: CompiledStandards, number: int, leads: list[LeadClock],
            deals: list[StageClock], now: datetime) -> RecordCompliance:
    records = Records(leads, deals, _timelines(session, leads, deals, now), {})
    starts = [c.start for c in _clocks(records)]
    records.reps = _reps(session, {c.rep_id for c in _clocks(records)}, starts, standards, now)
    entries = judge(records, standards, now=now)
    people = {e.rep_id for e in entries} | {line.activity.rep_id for e in entries for line in e.result.lines
                                            if line.activity}
    return RecordCompliance(number, entries, org_service.display_names(session, people))


def _timelines(session: Session, leads: Sequence[LeadClock], deals: Sequence[StageClock], now: datetime
               ) -> Timelines:
    starts: list[datetime] = [c.start for c in leads] + [c.start for c in deals]
    since = min(starts, default=None)
    return repository.timelines(session, lead_ids=[c.lead_id for c in leads],
                                deal_ids=[c.opportunity_id for c in deals],
                                deal_lead_ids=[c.lead_id for c in deals if c.lead_id], since=since, until=now)


@dataclass
class Records:
    """Clocks one by one with their activities: the one-row path (a deal's or a lead's checklist, the alerts)."""

    leads: list[LeadClock]
    deals: list[StageClock]
    timelines: Timelines
    reps: dict[int, Rep]


def _clocks(records: Records) -> list[LeadClock | StageClock]:
    return [*records.leads, *records.deals]


def _reps(session: Session, rep_ids: Collection[int], starts: Sequence[datetime], standards: CompiledStandards,
          now: datetime) -> dict[int, Rep]:
    if not starts:
        return {}
    first, last = (min(starts) - timedelta(days=1)).date(), (max(max(starts), now) + LEAVE_MARGIN).date()
    return repository.reps(session, rep_ids, holidays=standards.holidays, workdays=standards.workdays, first=first,
                           last=last)


def judge(records: Records, standards: CompiledStandards, *, now: datetime) -> list[Judged]:
    """Every clock under ``standards`` (clocks of stages it sets no standard for are skipped), in the order they
    started, each with the activity that met each requirement."""
    out: list[Judged] = []
    first = standards.stages.get(FIRST_CONTACT)
    for c in records.leads if first is not None else ():
        assert first is not None
        result = evaluate(first, c.start, records.timelines.by_lead.get(c.lead_id, ()),
                          records.reps[c.rep_id].calendar, now=now, ended=c.ended, rep_id=c.rep_id,
                          roll=standards.roll_past_days_off)
        out.append(Judged("lead", c.lead_id, c.rep_id, result))
    for d in records.deals:
        stage = standards.stages.get(d.stage)
        if stage is not None:
            result = evaluate(stage, d.start, records.timelines.of_deal(d.opportunity_id, d.lead_id),
                              records.reps[d.rep_id].calendar, now=now, ended=d.ended,
                              roll=standards.roll_past_days_off)
            out.append(Judged("deal", d.opportunity_id, d.rep_id, result))
    return sorted(out, key=lambda j: (j.result.start, j.kind, j.record_id))


# --- a period: the bulk path --------------------------------------------------------------------------------------


@dataclass
class Period:
    """A period's clocks and their activities as columns (``compliance.judge_many``), read once and judged under one
    or more versions."""

    clocks: ClockColumns
    acts: ActColumns
    reps: dict[int, Rep]


@dataclass(frozen=True)
class Verdicts:
    """The judged clocks of a period as columns: stage (index in ``STAGES``), rep, start (microseconds), status
    (index in ``STATUSES``)."""

    stage: np.ndarray
    rep: np.ndarray
    start: np.ndarray
    status: np.ndarray

    def take(self, keep: np.ndarray) -> Verdicts:
        return Verdicts(self.stage[keep], self.rep[keep], self.start[keep], self.status[keep])


def read_period(session: Session, principal: Principal, *, since: datetime, until: datetime,
                rep_ids: Iterable[int] | None = None, now: datetime | None = None,
                standards: Sequence[CompiledStandards] = ()) -> Period:
    """The first contacts and stage entries whose clock started in [since, until), among the records the
    principal reads (and owned by ``rep_ids`` when given), with their activities up to ``now`` (of the types these
    ``standards`` name, when given): three statements through the driver's cursor."""
    lead_ids = _narrow(lead_repository.readable(principal).with_only_columns(Lead.id), Lead.owner_id, rep_ids)
    deal_ids = _narrow(deal_repository.readable(principal).with_only_columns(Opportunity.id), Opportunity.owner_id,
                       rep_ids)
    clocks = ClockColumns.joined(repository.lead_clock_columns(session, lead_ids, since=since, until=until),
                                 repository.stage_clock_columns(session, deal_ids, STAGES, since=since, until=until))
    deals = repository.entered_deals(session, deal_ids, since=since, until=until)
    acts = repository.activity_columns(
        session, lead_ids=repository.assigned_leads(session, lead_ids, since=since, until=until), deal_ids=deals,
        deal_lead_ids=repository.leads_of(deals), since=since, until=now,
        every=principal.reads_everything and rep_ids is None, types=_named(standards) if standards else None)
    return Period(clocks, acts, {})


def _named(standards: Sequence[CompiledStandards]) -> set[str]:
    """The activity types the standards name: no other can meet a requirement."""
    return {a.type for s in standards for stage in s.stages.values() for r in stage.requirements for a in r.actions}


def _narrow(stmt: Select[Any], owner: Any, rep_ids: Iterable[int] | None) -> Select[Any]:
    return stmt if rep_ids is None else stmt.where(owner.in_(sorted(set(rep_ids))))


def period_reps(session: Session, period: Period, standards: CompiledStandards, now: datetime) -> dict[int, Rep]:
    starts = [moment(int(period.clocks.start.min())), moment(int(period.clocks.start.max()))] if len(
        period.clocks) else []
    return _reps(session, set(period.clocks.rep.tolist()), starts, standards, now)


def verdicts(period: Period, standards: CompiledStandards, *, now: datetime) -> Verdicts:
    """Every clock of the period judged under ``standards`` (clocks of stages it sets no standard for are left out),
    by the bulk core: the same statuses ``judge`` gives one by one."""
    calendars = {i: r.calendar for i, r in period.reps.items()}
    status, _ = judge_many(standards.stages, period.clocks, period.acts, calendars, now=now,
                           roll=standards.roll_past_days_off)
    c = period.clocks
    return Verdicts(c.stage, c.rep, c.start, status).take(status != NONE)


def figures(session: Session, principal: Principal, *, since: datetime, until: datetime | None = None,
            now: datetime | None = None, rep_id: int | None = None, team_id: int | None = None,
            body: str | None = None) -> dict[str, Any]:
    """The share of first contacts and stage entries met on time, overall, per stage, team and rep, for clocks
    started in [since, until) (at most ``MAX_DAYS``) under the active standards (or the text ``body``)."""
    return periods(session, principal, [(since, until)], now=now, rep_id=rep_id, team_id=team_id, body=body)[0]


def periods(session: Session, principal: Principal, spans: Sequence[tuple[datetime, datetime | None]], *,
            now: datetime | None = None, rep_id: int | None = None, team_id: int | None = None,
            body: str | None = None) -> list[dict[str, Any]]:
    """``figures`` for each span (since, until), all read and judged at once (the board's period and the one
    before): each span's figures are those ``figures`` gives for it alone."""
    now = as_utc(now or utcnow())
    bounds = [(as_utc(since), as_utc(until or now)) for since, until in spans]
    if any(until - since > timedelta(days=MAX_DAYS) for since, until in bounds):
        raise Invalid("A period spans at most {days} days.", field="since", days=MAX_DAYS)
    row = None if body is not None else STANDARDS.active(session)
    standards = STANDARDS.validate(body) if body is not None else STANDARDS.compiled(row.body)  # type: ignore[union-attr]
    owners = [rep_id] if rep_id is not None else (repository.team_members(session, team_id) if team_id else None)
    period = read_period(session, principal, since=min(s for s, _ in bounds), until=max(u for _, u in bounds),
                         rep_ids=owners, now=now, standards=[standards])
    period.reps = period_reps(session, period, standards, now)
    judged = verdicts(period, standards, now=now)
    return [{"since": since, "until": until, "now": now, "version": row.version if row is not None else None,
             **summary(session, period.reps, judged.take((judged.start >= micros(since))
                                                         & (judged.start < micros(until))))}
            for since, until in bounds]


def _tallies(keys: np.ndarray, status: np.ndarray) -> dict[int, Tally]:
    """Statuses counted per key."""
    found, index = np.unique(keys, return_inverse=True)
    counts = np.bincount(index * len(STATUSES) + status, minlength=len(found) * len(STATUSES))
    return {k: Tally(dict(zip(STATUSES, row, strict=True)))
            for k, row in zip(found.tolist(), counts.reshape(-1, len(STATUSES)).tolist(), strict=True)}


def summary(session: Session, reps: dict[int, Rep], judged: Verdicts) -> dict[str, Any]:
    teams = repository.team_names(session, {r.team_id for r in reps.values() if r.team_id})
    team_of = {i: r.team_id for i, r in reps.items()}
    ids = np.array(sorted(reps), np.int64)
    team = np.array([team_of[i] or NONE for i in ids.tolist()], np.int64)[np.searchsorted(ids, judged.rep)]
    by_team = _tallies(team, judged.status)
    return {"overall": _tallies(np.zeros(len(judged.status), np.int64), judged.status).get(0, Tally()).as_dict(),
            "stages": {STAGES[s]: t.as_dict() for s, t in _tallies(judged.stage, judged.status).items()},
            "teams": sorted(({"team_id": t if t != NONE else None, "team": teams.get(t) if t != NONE else None,
                              **v.as_dict()} for t, v in by_team.items()),
                            key=lambda x: (x["team"] is None, x["team"] or "")),
            "reps": sorted(({"rep_id": r, "rep": reps[r].name, "team": teams.get(team_of.get(r) or 0),
                             **v.as_dict()} for r, v in _tallies(judged.rep, judged.status).items()),
                           key=lambda x: (x["team"] or "", x["rep"]))}


def preview(session: Session, principal: Principal, body: str, *, days: int = PREVIEW_DAYS,
            now: datetime | None = None) -> dict[str, Any]:
    """The last ``days`` days judged under the text ``body`` and under the active standards, per team and overall:
    read once, judged twice."""
    candidate = STANDARDS.validate(body)
    row = STANDARDS.active(session)
    current = STANDARDS.compiled(row.body)
    now = as_utc(now or utcnow())
    period = read_period(session, principal, since=now - timedelta(days=days), until=now, now=now,
                         standards=[current, candidate])
    period.reps = period_reps(session, period, current, now)
    both = {name: summary(session, period.reps, verdicts(_calendars(session, period, s, current, now), s, now=now))
            for name, s in (("current", current), ("candidate", candidate))}
    return {"days": days, "since": now - timedelta(days=days), "until": now, "version": row.version,
            "current": both["current"], "candidate": both["candidate"]}


def _calendars(session: Session, period: Period, standards: CompiledStandards, read_under: CompiledStandards,
               now: datetime) -> Period:
    """The period with its reps' calendars carrying these standards' holidays and make-up working days (another text
    may list other days)."""
    if (standards.holidays, standards.workdays) == (read_under.holidays, read_under.workdays):
        return period
    return Period(period.clocks, period.acts, period_reps(session, period, standards, now))


def viewer_zone(session: Session, principal: Principal) -> ZoneInfo:
    """Deadlines are shown in the viewer's own zone (their profile's), else the company's."""
    zone = repository.timezone_of(session, principal.user_id)
    try:
        return ZoneInfo(zone) if zone else get_settings().zone
    except (ZoneInfoNotFoundError, ValueError):
        return get_settings().zone
