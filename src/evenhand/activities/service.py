"""Capturing activities from the systems reps work in, and the reconciliation list. Callers commit.

Capture is idempotent on (source system, external id): the same activity sent again changes nothing; sent with
other values it is updated (an import) or returned as it is (``POST``; ``PATCH`` changes it). An activity whose
rep is nobody known, or that names no known lead or deal, is never dropped: it waits in the reconciliation list
(``UnmatchedActivity``) with its reason until someone links it by hand or it is tried again (``reconcile``) after
the rep, lead or deal it names has arrived."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.orm import Session

from evenhand.activities import linking, repository
from evenhand.activities.linking import Links
from evenhand.activities.schemas import (
    NO_LINK,
    NO_REP,
    NOTES_ONLY,
    ActivityCreate,
    ActivityUpdate,
    LinkRequest,
    Reason,
)
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound, describe
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.kit.once import first_writer_wins
from evenhand.leads import repository as lead_repository
from evenhand.models import Activity, ActivityType, Role, SourceSystem, UnmatchedActivity, User
from evenhand.opportunities import service as deal_service
from evenhand.org import repository as org_repository
from evenhand.org import service as org_service

Outcome = Literal["created", "updated", "unchanged", "waiting"]
BATCH = 2000
log = logging.getLogger(__name__)
# Called after a batch is captured with the links (rep, lead, deal) and the time of every activity it created or
# changed, in the caller's transaction: a higher layer (alerts) registers one to judge what the activities touched, so
# this package never imports it. A hook runs in a savepoint; if it fails, its writes are undone and capture goes on.
CapturedHook = Callable[[Session, Sequence[tuple[Links, datetime]]], None]
_captured_hooks: list[CapturedHook] = []


def on_captured(hook: CapturedHook) -> CapturedHook:
    """Register ``hook`` (once, however often its module is imported); usable as a decorator."""
    if hook not in _captured_hooks:
        _captured_hooks.append(hook)
    return hook


def _captured(session: Session, touched: Sequence[tuple[Links, datetime]]) -> None:
    for hook in list(_captured_hooks):
        try:
            with session.begin_nested():
                hook(session, touched)
        except Exception:  # an alert that cannot be judged must not lose the activity
            log.exception("capture hook %s failed", getattr(hook, "__qualname__", hook))


@dataclass
class Tally:
    """What a capture did, row by row summed: ``waiting`` counts the rows in the reconciliation list after it
    (new or already there), by reason."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    waiting: dict[str, int] = field(default_factory=lambda: {NO_REP: 0, NO_LINK: 0})
    linked: int = 0  # entries of the reconciliation list that became activities
    parked: int = 0  # entries of the reconciliation list written (new, or with other values)

    def add(self, outcomes: Sequence[tuple[Outcome, Reason | None]]) -> None:
        for outcome, reason in outcomes:
            if outcome == "waiting":
                self.waiting[reason or NO_LINK] += 1
            else:
                setattr(self, outcome, getattr(self, outcome) + 1)

    def changed(self) -> bool:
        return bool(self.created or self.updated or self.linked or self.parked)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "waiting": dict(self.waiting), "linked": self.linked}


def visible_activity(session: Session, principal: Principal, activity_id: int) -> Activity:
    act = session.scalar(repository.readable(principal).where(Activity.id == activity_id))
    if act is None:
        raise NotFound("No activity with id {id}.", field="activity_id", id=activity_id)
    return act


# --- capture ------------------------------------------------------------------------------------------

def capture_many(session: Session, rows: Sequence[ActivityCreate], *, update: bool = True,
                 tally: Tally | None = None) -> list[tuple[Outcome, Reason | None]]:
    """Capture a batch in the caller's transaction: match every row (one query per kind of key), then write the
    new activities, the changed ones and the reconciliation entries, one ``executemany`` each. A row repeated in
    the batch counts once, the last one winning. With ``update`` false an activity already captured is left as
    it is."""
    session.flush()  # the bulk statements go to the connection, past the session's autoflush
    latest = {(r.source_system, r.external_id): i for i, r in enumerate(rows)}
    outcomes: list[tuple[Outcome, Reason | None]] = [("unchanged", None)] * len(rows)
    links = linking.resolve(session, [rows[i] for i in latest.values()])
    by_source: dict[SourceSystem, list[tuple[int, Links]]] = {}
    for (source, _), i, found in zip(latest, latest.values(), links, strict=True):
        by_source.setdefault(source, []).append((i, found))
    for source, picked in by_source.items():
        _Writer(session, source, rows, update=update, tally=tally).write(picked, outcomes)
    touched = [(found, rows[i].occurred_at) for i, found in zip(latest.values(), links, strict=True)
               if outcomes[i][0] in ("created", "updated")]
    if touched and _captured_hooks:
        _captured(session, touched)
    if tally is not None:
        tally.add(outcomes)
    return outcomes


class _Writer:
    """One source system's rows of a batch, sorted into what to insert, update, park or resolve."""

    def __init__(self, session: Session, source: SourceSystem, rows: Sequence[ActivityCreate], *, update: bool,
                 tally: Tally | None) -> None:
        self.session, self.source, self.rows, self.update, self.tally = session, source, rows, update, tally
        self.new: list[tuple[Any, ...]] = []  # in ``repository.INSERTED`` order
        self.changed: list[dict[str, Any]] = []
        self.park: list[dict[str, Any]] = []
        self.repark: list[dict[str, Any]] = []
        self.resolve: dict[str, int] = {}  # external id → entry id, to mark once its activity exists

    def write(self, picked: Sequence[tuple[int, Links]], outcomes: list[tuple[Outcome, Reason | None]]) -> None:
        keys = [self.rows[i].external_id for i, _ in picked]
        stored = repository.stored(self.session, self.source, keys)
        waiting = repository.waiting(self.session, self.source, keys)
        for i, links in picked:
            outcomes[i] = self._sort(self.rows[i], links, stored, waiting)
        repository.insert_activities(self.session, self.new)
        repository.update_activities(self.session, self.changed)
        repository.insert_waiting(self.session, self.park)
        repository.update_waiting(self.session, self.repark)
        self._mark_resolved()
        if self.tally is not None:
            self.tally.parked += len(self.park) + len(self.repark)

    def _sort(self, row: ActivityCreate, links: Links, stored: dict[str, tuple[int, tuple[Any, ...]]],
              waiting: dict[str, tuple[int, str, dict[str, Any], bool]]) -> tuple[Outcome, Reason | None]:
        key = row.external_id
        entry = waiting.get(key)
        if entry is not None and entry[3] and (key in stored or links.reason is None):
            self.resolve[key] = entry[0]
        if key in stored:
            return self._existing(row, links, *stored[key])
        if links.reason is None:
            self.new.append((self.source, key, *_compared(row, links)))
            return "created", None
        fields = row.stored()
        if entry is None:
            self.park.append({"source_system": self.source, "external_id": key, "occurred_at": row.occurred_at,
                              "reason": links.reason, "fields": fields})
        elif not entry[3] or entry[1:3] != (links.reason, fields):  # changed, or resolved once (its activity gone)
            self.repark.append({"row_id": entry[0], "occurred_at": row.occurred_at, "reason": links.reason,
                                "fields": fields, "resolved_at": None, "activity_id": None})
        return "waiting", links.reason

    def _existing(self, row: ActivityCreate, links: Links, activity_id: int, before: tuple[Any, ...]
                  ) -> tuple[Outcome, Reason | None]:
        """An activity already captured keeps the links the row does not resolve (a rep since departed, a lead
        since merged) and takes every other value from the row."""
        if not self.update:
            return "unchanged", None
        kept = Links(links.rep_id or before[_REP], links.lead_id or before[_LEAD],
                     links.opportunity_id or before[_DEAL])
        after = _compared(row, kept)
        if after == before:
            return "unchanged", None
        self.changed.append({"row_id": activity_id, **dict(zip(repository.COMPARED, after, strict=True))})
        return "updated", None

    def _mark_resolved(self) -> None:
        if not self.resolve:
            return
        now, made = utcnow(), repository.ids(self.session, self.source, list(self.resolve))
        repository.update_waiting(self.session, [{"row_id": entry_id, "resolved_at": now, "activity_id": made[key]}
                                                 for key, entry_id in self.resolve.items()])
        if self.tally is not None:
            self.tally.linked += len(self.resolve)


def _compared(row: ActivityUpdate | ActivityCreate, links: Links) -> tuple[Any, ...]:
    """The ``COMPARED`` columns of a row, in their order (a tuple: this runs for every row of a bulk capture)."""
    return (row.type, row.direction, links.rep_id, links.lead_id, links.opportunity_id, row.occurred_at,
            row.duration_seconds, row.answered, row.replied, row.subject, row.recording_ref, row.attachment_count or 0,
            row.message_count, row.body, row.declared_type)


def _values(row: ActivityUpdate | ActivityCreate, links: Links) -> dict[str, Any]:
    """The ``COMPARED`` columns of a row, by name."""
    return dict(zip(repository.COMPARED, _compared(row, links), strict=True))


_REP, _LEAD, _DEAL = (repository.COMPARED.index(name) for name in ("rep_id", "lead_id", "opportunity_id"))


# --- one activity through the API ---------------------------------------------------------------------

def capture(session: Session, data: ActivityCreate, *, actor: Principal | None
            ) -> tuple[Outcome, Activity | UnmatchedActivity]:
    """``POST``: create the activity, or return the one already captured under its key unchanged; one that
    cannot be matched waits (a repeat with other values replaces what waits)."""
    tally = Tally()
    (outcome, reason), = first_writer_wins(session, lambda: capture_many(session, [data], update=False, tally=tally))
    found = repository.by_key(session, data.source_system, data.external_id)
    if outcome == "created":
        _audit(session, "activities.captured", found, actor)
    if found is not None:
        return outcome, found
    entry = _entry_by_key(session, data.source_system, data.external_id)
    if tally.parked:
        _audit(session, "activities.waiting", entry, actor, reason=reason)
    return outcome, entry


def patch(session: Session, source: str, external_id: str, data: ActivityUpdate, *, actor: Principal | None
          ) -> tuple[Outcome, Activity | UnmatchedActivity]:
    """``PATCH``: change the fields given. A captured activity is re-matched on the keys given, each of which
    must name someone or something known; a waiting one is tried again with the changes."""
    system = _source(source)
    act = repository.by_key(session, system, external_id)
    if act is not None:
        return _patch_activity(session, act, data, actor=actor)
    entry = _entry_by_key(session, system, external_id, open_only=True)
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"duration", "note"})
    try:
        merged = ActivityCreate.model_validate({**entry.fields, **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "external_id"
        raise Invalid("With these changes the waiting activity is not valid: {where}: {problem}", field=where,
                      where=where, problem=describe(first)) from exc
    return capture(session, merged, actor=actor)


def _patch_activity(session: Session, act: Activity, data: ActivityUpdate, *, actor: Principal | None
                    ) -> tuple[Outcome, Activity]:
    given = data.model_dump(exclude_unset=True, exclude={"duration", "note"})
    emptied = [name for name in _KEPT if name in given and given[name] is None]
    if emptied:
        raise Invalid("An activity keeps its {name}.", field=emptied[0], name=emptied[0])
    links = _relinked(session, data, given)
    changes = {name: value for name, value in {**given, **links}.items()
               if name in repository.COMPARED and getattr(act, name) != value}
    _check_kept(act, changes)
    for name, value in changes.items():
        setattr(act, name, value)
    if not changes:
        return "unchanged", act
    session.flush()
    _audit(session, "activities.updated", act, actor, changed=sorted(changes))
    return "updated", act


_KEPT = ("type", "direction", "occurred_at", "attachment_count")  # never emptied by a PATCH


def _check_kept(act: Activity, changes: dict[str, Any]) -> None:
    """What an activity keeps after a ``PATCH``: a rep, a lead or a deal, and a declared type only on a note."""
    def after(name: str) -> Any:
        return changes.get(name, getattr(act, name))

    if after("rep_id") is None:
        raise Invalid("An activity keeps its rep.", field="rep")
    if after("lead_id") is None and after("opportunity_id") is None:
        raise Invalid("An activity links a lead or a deal.", field="lead")
    if after("declared_type") is not None and after("type") != ActivityType.NOTE:
        raise Invalid(NOTES_ONLY, field="declared_type")


def _relinked(session: Session, data: ActivityUpdate, given: dict[str, Any]) -> dict[str, Any]:
    """The ids the keys given in a ``PATCH`` name; a key given that names nothing known is refused."""
    (found,) = linking.resolve(session, [data])
    out: dict[str, Any] = {}
    if "rep" in given:
        if data.rep is not None and found.rep_id is None:
            raise Invalid("No rep is known by {key}.", field="rep", key=data.rep)
        out["rep_id"] = found.rep_id
    if "opportunity" in given:
        if data.opportunity is not None and found.opportunity_id is None:
            raise Invalid("No deal has the id {key}.", field="opportunity", key=data.opportunity)
        out["opportunity_id"] = found.opportunity_id
    lead_keys = [name for name in ("lead", "email", "phone") if name in given]
    if lead_keys:
        named = [name for name in lead_keys if given[name] is not None]
        if named and found.lead_id is None:
            raise Invalid("No lead is known by {key}.", field=named[0], key=given[named[0]])
        out["lead_id"] = found.lead_id
    return out


def _source(text: str) -> SourceSystem:
    try:
        return SourceSystem(text)
    except ValueError:
        raise NotFound("No source system {source}; the source systems are {known}.", field="source_system",
                       source=text, known=", ".join(s.value for s in SourceSystem)) from None


def _entry_by_key(session: Session, source: SourceSystem, external_id: str, *, open_only: bool = False
                  ) -> UnmatchedActivity:
    stmt = repository.unmatched(include_resolved=not open_only).where(
        UnmatchedActivity.source_system == source, UnmatchedActivity.external_id == external_id)
    entry = session.scalar(stmt.execution_options(populate_existing=True))  # afresh: bulk writes bypass the ORM
    if entry is None:
        raise NotFound("No activity from {source} with the id {external_id}.", field="external_id",
                       source=source.value, external_id=external_id)
    return entry


def _audit(session: Session, action: str, subject: Activity | UnmatchedActivity | None, actor: Principal | None,
           **payload: Any) -> None:
    if subject is None:
        return
    kind = "activities" if isinstance(subject, Activity) else "unmatched_activities"
    audit.append(session, action=action, subject_type=kind, subject_id=subject.id,
                 payload={"source_system": subject.source_system.value, "external_id": subject.external_id,
                          **payload}, actor_id=actor.user_id if actor else None)


# --- the reconciliation list ----------------------------------------------------------------------------

def may_reconcile(principal: Principal) -> bool:
    """Who works the reconciliation list (``Principal.reconciles_activities``; auditors read it, writing is refused
    them as every write is)."""
    return principal.reconciles_activities


def check_reconciler(principal: Principal) -> None:
    if not may_reconcile(principal):
        raise Forbidden("Only sales ops, admin and supervisors work the reconciliation list.")


def reconcile(session: Session, *, actor: Principal | None) -> tuple[int, int, int]:
    """Try every waiting activity again, a batch at a time: those that match now become activities and leave
    the list (a waiting one whose reason changed is kept with the new one). (tried, linked, still waiting); one
    audit entry when anything changed."""
    tally, after, tried = Tally(), 0, 0
    while batch := repository.open_after(session, after, limit=BATCH):
        after = batch[-1][0]
        tried += len(batch)
        capture_many(session, [ActivityCreate.model_validate(fields) for _, fields in batch], tally=tally)
    waiting = sum(tally.waiting.values())
    if tally.changed():  # a run that changed nothing writes nothing
        audit.append(session, action="activities.reconciled", subject_type="unmatched_activities",
                     payload={"tried": tried, "linked": tally.linked, "waiting": waiting},
                     actor_id=actor.user_id if actor else None)
    return tried, tally.linked, waiting


def link(session: Session, entry_id: int, data: LinkRequest, *, actor: Principal) -> Activity:
    """Link a waiting activity by hand to a rep the actor may act for and a lead or deal the actor reads. The
    entry leaves the list, keeping the activity it became."""
    check_reconciler(actor)
    entry = session.get(UnmatchedActivity, entry_id)
    if entry is None:
        raise NotFound("No waiting activity with id {id}.", field="id", id=entry_id)
    if entry.resolved_at is not None:
        raise Conflict("This activity was linked already (activity {id}).", field="id", id=entry.activity_id)
    rep = org_service.get(session, User, data.rep_id, field="rep_id")
    if not org_service.may_act_for(session, actor, rep):
        raise Forbidden("You may link activities only to yourself or your team's reps.", field="rep_id")
    deal = deal_service.visible_opportunity(session, actor, data.opportunity_id) if data.opportunity_id else None
    lead_id = data.lead_id or (deal.lead_id if deal else None)
    if data.lead_id is not None and lead_repository.readable_lead(session, actor, data.lead_id) is None:
        raise NotFound("No lead with id {id}.", field="lead_id", id=data.lead_id)
    row = ActivityCreate.model_validate(entry.fields)
    if repository.by_key(session, row.source_system, row.external_id) is not None:
        raise Conflict("An activity with this id was captured already.", field="id")
    act = Activity(source_system=row.source_system, external_id=row.external_id,
                   **_values(row, Links(rep.id, lead_id, data.opportunity_id)))
    session.add(act)
    session.flush()
    entry.resolved_at, entry.activity_id = utcnow(), act.id
    _audit(session, "activities.linked", act, actor, unmatched_id=entry.id, reason=entry.reason)
    return act


def linkable_reps(session: Session, principal: Principal) -> dict[int, str]:
    """The reps a principal may link a waiting activity to, by id, by name: everyone who carries leads for sales
    ops and admin; a supervisor's own teams and themself."""
    if principal.manages_org:
        return org_service.carrier_names(session)
    names = {principal.user_id: principal.display_name}
    for _team, _dept, _region, _boss, members in org_repository.rosters(session, principal):
        carriers = [m for m in members if m.active and m.role in (Role.REP, Role.SUPERVISOR)]
        names |= {m.id: m.display_name for m in carriers if org_service.may_act_for(session, principal, m)}
    return dict(sorted(names.items(), key=lambda item: item[1]))


# --- what the pages read ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """An activity as a list shows it: with its rep's name, its lead's company and its deal's name."""

    activity: Activity
    rep: str | None
    company: str | None
    deal: str | None


def lines(session: Session, principal: Principal, *, limit: int, **filters: Any) -> tuple[list[Line], int]:
    """The newest readable activities matching ``filters`` (``repository.listing``'s), and how many match."""
    stmt = repository.listing(principal, **filters)
    return [Line(*row) for row in repository.with_names(session, stmt, limit=limit)], repository.count(session, stmt)


TIMELINE_SIZE = 200


@dataclass(frozen=True)
class Timeline:
    """A lead's or a deal's activities as its page shows them: the newest ``lines`` (of one source system when one
    is picked), how many there are from each source system, and the time zone to show them in (the viewer's)."""

    lines: list[Line]
    by_source: dict[SourceSystem, int]
    zone: ZoneInfo


def lead_timeline(session: Session, principal: Principal, lead_id: int, *, source: SourceSystem | None = None,
                  limit: int = TIMELINE_SIZE) -> Timeline | None:
    """A lead's activities and those of the deals it became (``repository.lead_work``), of those the principal
    reads; None when the lead is not theirs to read."""
    if lead_repository.readable_lead(session, principal, lead_id) is None:
        return None
    return _timeline(session, principal, repository.lead_work(principal, lead_id), source, limit)


def deal_timeline(session: Session, principal: Principal, opportunity_id: int, *, source: SourceSystem | None = None,
                  limit: int = TIMELINE_SIZE) -> Timeline | None:
    """A deal's activities and its lead's from before it (``repository.deal_work``), of those the principal reads;
    None when the deal is not theirs to read."""
    try:
        deal = deal_service.visible_opportunity(session, principal, opportunity_id)
    except NotFound:
        return None
    return _timeline(session, principal, repository.deal_work(principal, deal), source, limit)


def _timeline(session: Session, principal: Principal, stmt: Any, source: SourceSystem | None, limit: int
              ) -> Timeline:
    counts = repository.by_source(session, stmt)
    if source is not None:
        stmt = stmt.where(Activity.source_system == source)
    found = [Line(*row) for row in repository.with_names(session, stmt, limit=limit)]
    return Timeline(found, counts, viewer_zone(session, principal))


def viewer_zone(session: Session, principal: Principal) -> ZoneInfo:
    """Times are shown in the viewer's own zone (their profile's), else the company's."""
    user = session.get(User, principal.user_id)
    try:
        return ZoneInfo(user.timezone) if user is not None and user.timezone else get_settings().zone
    except (ZoneInfoNotFoundError, ValueError):
        return get_settings().zone


def rep_choices(session: Session, principal: Principal) -> dict[int, str]:
    """The people whose activities the principal reads, by id, by name (a list's filter): everyone who carries
    leads for staff; a supervisor's teams and themself; a rep themself."""
    return org_service.carrier_names(session) if principal.reads_everything else linkable_reps(session, principal)


def waiting_entries(session: Session, principal: Principal, *, reason: str | None, limit: int
                    ) -> tuple[list[UnmatchedActivity], int]:
    """The open entries of the reconciliation list, longest waiting first, and how many there are."""
    check_reconciler(principal)
    stmt = repository.unmatched(reason=reason)
    return list(session.scalars(stmt.limit(limit))), repository.count(session, stmt)


def waiting_counts(session: Session, principal: Principal) -> dict[str, int] | None:
    """Open entries by reason, for those who work the list (None for everyone else)."""
    return repository.waiting_counts(session) if may_reconcile(principal) else None
