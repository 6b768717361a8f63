"""Lead intake and behaviour events. Callers commit.

Intake is idempotent on (source, external_id): a repeat returns the lead already there, so a
marketing form that retries after a timeout never creates a second lead. A lead whose normalised
email, phone or company (as configured) matches an earlier lead is created and linked to it with
``duplicate_of_id`` — never merged away, so nothing a form sent is lost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Select, bindparam, func, literal, select, union_all, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.kit import audit, written
from evenhand.kit import rows as rows_kit
from evenhand.kit.clock import utcnow
from evenhand.kit.cursor import Listed, Prepared, writes
from evenhand.kit.rows import RowError
from evenhand.leads import keys, repository, scoring_service
from evenhand.leads.schemas import IMPORT_ONLY, EventCreate, LeadCreate, LeadImport
from evenhand.leads.scoring.rules import Event
from evenhand.models import BehaviourEvent, EventKind, Lead, LeadStatus
from evenhand.org import service as org_service

DedupKey = str
_KEY_COLUMNS = {"email": Lead.email_key, "phone": Lead.phone_key, "company": Lead.company_key}
_CHUNK = 500
Progress = Callable[[int], None]
Place = Callable[[Sequence[Lead]], None]


@dataclass(frozen=True)
class Intake:
    lead: Lead
    created: bool


def find(session: Session, *, source: str, external_id: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.source == source, Lead.external_id == external_id))


def new_lead(data: LeadCreate, *, backfilled: bool = False) -> Lead:
    values = data.model_dump(exclude={"events", *IMPORT_ONLY})
    values.update(_NO_BEHAVIOUR, backfilled=backfilled, email_key=keys.email_key(data.email),
                  phone_key=keys.phone_key(data.phone), company_key=keys.company_key(data.company))
    lead = written.new(Lead, values)
    if isinstance(data, LeadImport):
        _as_exported(lead, data, backfilled=backfilled)
    return lead


_OUTCOMES = {"converted": LeadStatus.CONVERTED, "disqualified": LeadStatus.DISQUALIFIED}


def _as_exported(lead: Lead, data: LeadImport, *, backfilled: bool) -> None:
    """What the export knew of the lead: its own creation time, and — for history, which is never routed — the
    rep who had it, when it was first answered and its outcome. A newer row is routed like any arriving lead."""
    if data.created_at is not None:
        lead.created_at = data.created_at
    if not backfilled:
        return
    if data.owner_id is not None:
        lead.owner_id, lead.status = data.owner_id, LeadStatus.ASSIGNED
        lead.assigned_at = data.created_at or utcnow()
    lead.first_response_at = data.first_response_at
    if data.outcome in _OUTCOMES:
        lead.status = _OUTCOMES[data.outcome]
        lead.closed_at = data.outcome_at or data.first_response_at or data.created_at or utcnow()
        lead.disqualify_reason = data.disqualify_reason if data.outcome == "disqualified" else None


def intake(session: Session, data: LeadCreate, *, actor: Principal | None, dedup: Sequence[DedupKey]) -> Intake:
    """Create one lead, or return the existing one with the same source and external id."""
    return intake_many(session, [data], actor=actor, dedup=dedup)[0]


_ROWS = TypeAdapter(LeadCreate)


_IMPORTED = TypeAdapter(LeadImport)


def validate_rows(rows: Sequence[dict[str, Any]], *, first_row: int = 1,
                  exported: bool = False) -> tuple[list[LeadCreate | None], list[RowError]]:
    """Validate every row as an arriving lead (or, ``exported``, as a row of a company's export); rows are
    numbered from ``first_row`` so errors point where the user looks."""
    adapter: TypeAdapter[Any] = _IMPORTED if exported else _ROWS
    found = rows_kit.validate_rows(adapter, rows, first_row=first_row)
    return cast(tuple[list[LeadCreate | None], list[RowError]], found)


def _existing(session: Session, rows: Sequence[LeadCreate]) -> dict[tuple[str, str], Lead]:
    """The leads already there with the rows' (source, external id). Two IN lists rather than a row-value
    IN, which SQLite answers by scanning the whole unique index; the pairs are then checked here. Their keys are
    read through the connection first: new leads, the common case, find none and load nothing through the ORM."""
    session.flush()  # the connection sees what the session holds
    pairs = {(r.source, r.external_id) for r in rows}
    found = _BY_SOURCE_IDS.rows(session.connection(), {"sources": sorted({s for s, _ in pairs}),
                                                       "ids": sorted({e for _, e in pairs})})
    ids = [lead_id for lead_id, *key in found if tuple(key) in pairs]
    if not ids:
        return {}
    return {(lead.source, lead.external_id): lead for lead in session.scalars(_BY_IDS, {"ids": ids})}


_BY_SOURCE_IDS = Listed(lambda in_: select(Lead.id, Lead.source, Lead.external_id).where(
    in_(Lead.source, "sources"), in_(Lead.external_id, "ids")))
_BY_IDS = select(Lead).where(Lead.id.in_(bindparam("ids", expanding=True)))


def intake_many(session: Session, rows: Sequence[LeadCreate], *, actor: Principal | None,
                dedup: Sequence[DedupKey], backfilled: bool = False, progress: Progress | None = None,
                place: Place | None = None) -> list[Intake]:
    """Intake a validated batch in the caller's transaction; a repeat inside the batch returns the first.

    Each chunk is one query for the leads already there, one for the earlier leads the new ones duplicate (every
    dedup key at once) and one INSERT of the new leads, which carries their duplicate links and — for arriving
    leads, unless the scoring model blends in the predictive one, which reads stored leads — their scores; every
    new lead gets its own audit entry. A batch costs about what one lead does plus a little per row.

    ``place`` (routing) is given each chunk's new leads when they are scored before they are stored: with their ids
    taken first (``kit.written.take_ids``) and linked, just before their INSERT, which then writes what ``place``
    set on them (an owner). Leads it was not given (history; scores that need the stored lead) are only stored."""
    results: list[Intake] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        known = _existing(session, chunk)
        fresh: list[tuple[Lead, LeadCreate]] = []
        for data in chunk:
            pair = (data.source, data.external_id)
            if pair in known:
                results.append(Intake(known[pair], created=False))
                continue
            known[pair] = new_lead(data, backfilled=backfilled)
            fresh.append((known[pair], data))
            results.append(Intake(known[pair], created=True))
        _store(session, fresh, dedup, backfilled=backfilled, place=place)
        if progress:
            progress(len(chunk))
    audit.append_many(session, [audit.Entry(
        "leads.intake", "leads", lead.id, {"source": lead.source, "external_id": lead.external_id,
                                           "duplicate_of_id": lead.duplicate_of_id,
                                           **({"backfilled": True} if backfilled else {})},
        actor.user_id if actor else None) for lead in (r.lead for r in results if r.created)])
    return results


def _store(session: Session, fresh: Sequence[tuple[Lead, LeadCreate]], dedup: Sequence[DedupKey], *,
           backfilled: bool, place: Place | None) -> None:
    """Link, score (and ``place``) and insert new leads, then store the events they came with."""
    brought = [(lead, _counted(lead, data)) for lead, data in fresh]
    events = [(lead, [e for e, _ in pairs]) for lead, pairs in brought]
    leads = [lead for lead, _ in fresh]
    within = _link_duplicates(session, leads, dedup)
    # History is scored as it would have been on arrival (its behaviour has faded since), once stored.
    scored = not backfilled and scoring_service.score_arriving(session, events)
    placed = False
    if place is not None and scored and leads:
        for lead, new_id in zip(leads, written.take_ids(session, Lead, len(leads)), strict=True):
            lead.id = new_id
        _link_within(within)
        place(leads)
        placed = True
    written.insert(session, leads)
    written.wrote(session, "lead", [lead.id for lead in leads])
    if not placed:
        _link_within(within)  # now that they have ids; flushed as an update
    _store_events(session, brought)
    if not scored:
        scoring_service.score_leads(session, leads, at_arrival=backfilled,
                                    events={lead.id: mine for lead, mine in events})


def _link_within(within: Sequence[tuple[Lead, Lead]]) -> None:
    for lead, first in within:
        lead.duplicate_of_id = first.duplicate_of_id or first.id


def _counted(lead: Lead, data: LeadCreate) -> list[tuple[Event, dict[str, Any] | None]]:
    """The events a new lead arrived with (an export's counts among them), counted on it, each with its detail."""
    now = utcnow()
    events = []
    for e in [*data.events, *(data.counted_events() if isinstance(data, LeadImport) else ())]:
        at = e.occurred_at or now
        _count(lead, e.kind, at, e.dwell_seconds)
        events.append((Event(e.kind.value, at, e.dwell_seconds), e.detail))
    return events


_EVENTS = Prepared(writes(BehaviourEvent.__table__,  # type: ignore[arg-type]
                          ["lead_id", "kind", "occurred_at", "dwell_seconds", "detail"]))


def _store_events(session: Session, brought: Sequence[tuple[Lead, Sequence[tuple[Event, Any]]]]) -> None:
    """Through the connection: routing's counts, taken before, stay its to keep (``revision.writes_seen``)."""
    _EVENTS.many(session.connection(), [
        {"lead_id": lead.id, "kind": EventKind(e.kind), "occurred_at": e.occurred_at, "dwell_seconds": e.dwell_seconds,
         "detail": detail} for lead, events in brought for e, detail in events])


def _new_events(lead: Lead, events: Sequence[EventCreate]) -> list[BehaviourEvent]:
    rows = []
    for data in events:
        event = BehaviourEvent(lead_id=lead.id, kind=data.kind, occurred_at=data.occurred_at or utcnow(),
                               dwell_seconds=data.dwell_seconds, detail=data.detail)
        _aggregate(lead, event)
        rows.append(event)
    return rows


def _first_by(kind: str, column: Any, among: Any) -> Select[Any]:
    """Per value of ``column`` (those ``among`` keeps): the first lead with it, and that lead's original. min() per
    value rather than ORDER BY id, which SQLite answers by walking the whole table in id order."""
    earliest = select(column.label("value"), func.min(Lead.id).label("first")).where(among).group_by(
        column).subquery()
    return select(literal(kind), earliest.c.value, Lead.id, func.coalesce(Lead.duplicate_of_id, Lead.id)).join(
        Lead, Lead.id == earliest.c.first)


@functools.cache
def _first_by_keys(kinds: tuple[str, ...]) -> Listed:
    """One statement for every dedup key (built once per set of keys: building costs more than running it)."""
    def build(in_: Callable[[Any, str], Any]) -> Any:
        parts = [_first_by(kind, _KEY_COLUMNS[kind], in_(_KEY_COLUMNS[kind], f"{kind}_values")) for kind in kinds]
        return parts[0] if len(parts) == 1 else union_all(*parts)
    return Listed(build)


def _link_duplicates(session: Session, leads: Sequence[Lead], dedup: Sequence[DedupKey]) -> list[tuple[Lead, Lead]]:
    """Link each new lead (not stored yet, in arrival order) to the first earlier lead sharing one of its dedup keys
    — following that lead's own link to the original — with one query for the whole batch. A lead stored before
    is earlier than any new one; a lead that only duplicates another new one is returned with it, to be linked
    once both have ids."""
    kinds = tuple(k for k in _KEY_COLUMNS if k in dedup)
    values = {kind: list({v for lead in leads if (v := getattr(lead, f"{kind}_key"))}) for kind in kinds}
    kinds = tuple(kind for kind in kinds if values[kind])
    first: dict[tuple[str, str], tuple[int, int]] = {}  # (kind, value) -> (first lead's id, its original)
    if kinds:
        found = _first_by_keys(kinds).rows(session.connection(), {f"{k}_values": values[k] for k in kinds})
        first = {(kind, value): (lead_id, original) for kind, value, lead_id, original in found}
    within: list[tuple[Lead, Lead]] = []
    seen: dict[tuple[str, str], int] = {}  # (kind, value) -> the first new lead with it, by arrival
    for n, lead in enumerate(leads):
        keys = [(k, v) for k in kinds if (v := getattr(lead, f"{k}_key"))]
        stored = [first[key] for key in keys if key in first]
        if stored:
            lead.duplicate_of_id = min(stored)[1]
        elif earlier := [seen[key] for key in keys if key in seen]:
            within.append((lead, leads[min(earlier)]))
        for key in keys:
            seen.setdefault(key, n)
    return within


def visible_lead(session: Session, lead_id: int, readable: Any) -> Lead:
    lead = session.scalar(readable.where(Lead.id == lead_id))
    if lead is None:
        raise NotFound("No lead with id {id}.", field="lead_id", id=lead_id)
    return lead


@dataclass(frozen=True)
class LeadView:
    """One lead as its page shows it."""

    lead: Lead
    owner: str | None
    events: list[BehaviourEvent]  # the latest, newest first
    explanation: list[dict[str, Any]]
    predictive: dict[str, Any] | None


def lead_view(session: Session, principal: Principal, lead_id: int, *, latest_events: int = 200) -> LeadView | None:
    """The lead with what its page shows, or None when it does not exist or the principal may not read it."""
    lead = repository.readable_lead(session, principal, lead_id)
    if lead is None:
        return None
    owner = org_service.display_names(session, [lead.owner_id]).get(lead.owner_id) if lead.owner_id else None
    return LeadView(lead, owner,
                    repository.events(session, lead.id, newest_first=True, limit=latest_events),
                    scoring_service.explanation(session, lead), scoring_service.predictive_view(session, lead))


_COUNTERS = {EventKind.WHITEPAPER_DOWNLOAD: "downloads", EventKind.WEBINAR: "webinars",
             EventKind.FORM_SUBMIT: "forms", EventKind.EMAIL_OPEN: "email_opens",
             EventKind.EMAIL_CLICK: "email_clicks", EventKind.PAGE_VIEW: "page_views"}


_NO_BEHAVIOUR = dict.fromkeys([*_COUNTERS.values(), "dwell_seconds"], 0)  # what a new lead's events are counted on


def _aggregate(lead: Lead, event: BehaviourEvent) -> None:
    _count(lead, event.kind, event.occurred_at, event.dwell_seconds)


def _count(lead: Lead, kind: EventKind, at: datetime, dwell_seconds: int | None) -> None:
    setattr(lead, _COUNTERS[kind], getattr(lead, _COUNTERS[kind]) + 1)
    lead.dwell_seconds += dwell_seconds or 0
    if lead.last_event_at is None or at > lead.last_event_at:
        lead.last_event_at = at


def record_events(session: Session, lead: Lead, events: Sequence[EventCreate]) -> list[BehaviourEvent]:
    """Append behaviour events, update the lead's aggregates and rescore it."""
    rows = _new_events(lead, events)
    session.add_all(rows)
    session.flush()
    scoring_service.score_leads(session, [lead])
    return rows


def refresh_aggregates(session: Session) -> None:
    """Recompute every lead's behaviour aggregates from its events (after a bulk load of events)."""
    events = BehaviourEvent.__table__.alias("e")

    def count(kind: EventKind) -> Any:
        return (select(func.count()).select_from(events)
                .where(events.c.lead_id == Lead.id, events.c.kind == kind.value).scalar_subquery())

    values: dict[str, Any] = {column: count(kind) for kind, column in _COUNTERS.items()}
    values["dwell_seconds"] = (select(func.coalesce(func.sum(events.c.dwell_seconds), 0)).select_from(events)
                               .where(events.c.lead_id == Lead.id).scalar_subquery())
    values["last_event_at"] = (select(func.max(events.c.occurred_at)).select_from(events)
                               .where(events.c.lead_id == Lead.id).scalar_subquery())
    session.execute(update(Lead).values(**values).execution_options(synchronize_session=False))
