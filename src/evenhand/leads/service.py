"""Lead intake and behaviour events. Callers commit.

Intake is idempotent on (source, external_id): a repeat returns the lead already there, so a
marketing form that retries after a timeout never creates a second lead. A lead whose normalised
email, phone or company (as configured) matches an earlier lead is created and linked to it with
``duplicate_of_id`` — never merged away, so nothing a form sent is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit
from evenhand.kit.clock import utcnow
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


@dataclass(frozen=True)
class Intake:
    lead: Lead
    created: bool


def find(session: Session, *, source: str, external_id: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.source == source, Lead.external_id == external_id))


def new_lead(data: LeadCreate, *, backfilled: bool = False) -> Lead:
    lead = Lead(**data.model_dump(exclude={"events", *IMPORT_ONLY}), backfilled=backfilled)
    lead.email_key, lead.phone_key = keys.email_key(data.email), keys.phone_key(data.phone)
    lead.company_key = keys.company_key(data.company)
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
    IN, which SQLite answers by scanning the whole unique index; the pairs are then checked here."""
    pairs = {(r.source, r.external_id) for r in rows}
    found = session.scalars(_BY_SOURCE_IDS, {"sources": list({s for s, _ in pairs}),
                                             "ids": list({e for _, e in pairs})})
    return {key: lead for lead in found if (key := (lead.source, lead.external_id)) in pairs}


_BY_SOURCE_IDS = select(Lead).where(Lead.source.in_(bindparam("sources", expanding=True)),
                                    Lead.external_id.in_(bindparam("ids", expanding=True)))


def intake_many(session: Session, rows: Sequence[LeadCreate], *, actor: Principal | None,
                dedup: Sequence[DedupKey], backfilled: bool = False, progress: Progress | None = None) -> list[Intake]:
    """Intake a validated batch in the caller's transaction; a repeat inside the batch returns the first.

    Each chunk is one INSERT of its new leads and one query per dedup key for the earlier leads they
    duplicate; every new lead gets its own audit entry. A batch costs about what one lead does plus a
    little per row."""
    results: list[Intake] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        known = _existing(session, chunk)
        fresh: list[Lead] = []
        for data in chunk:
            pair = (data.source, data.external_id)
            if pair in known:
                results.append(Intake(known[pair], created=False))
                continue
            known[pair] = new_lead(data, backfilled=backfilled)
            fresh.append(known[pair])
            results.append(Intake(known[pair], created=True))
        session.add_all(fresh)
        _link_duplicates(session, fresh, dedup)  # flushes: the new leads get their ids
        if progress:
            progress(len(chunk))
    arrived = [(r.lead, data) for r, data in zip(results, rows, strict=True) if r.created]
    created = [lead for lead, _ in arrived]
    # History is scored as it would have been on arrival; its behaviour has faded since.
    scoring_service.score_leads(session, created, events=_events_brought(session, arrived), at_arrival=backfilled)
    for lead in created:
        audit.append(session, action="leads.intake", subject_type="leads", subject_id=lead.id,
                     payload={"source": lead.source, "external_id": lead.external_id,
                              "duplicate_of_id": lead.duplicate_of_id, **({"backfilled": True} if backfilled else {})},
                     actor_id=actor.user_id if actor else None, flush=False)
    session.flush()
    return results


def _events_brought(session: Session, fresh: Sequence[tuple[Lead, LeadCreate]]) -> dict[int, list[Event]]:
    """The events new leads arrived with (an export's counts among them), stored in one bulk INSERT and counted
    on them: by lead id, for scoring."""
    brought: dict[int, list[Event]] = {}
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for lead, data in fresh:
        events = [*data.events, *(data.counted_events() if isinstance(data, LeadImport) else ())]
        brought[lead.id] = []
        for e in events:
            at = e.occurred_at or now
            _count(lead, e.kind, at, e.dwell_seconds)
            brought[lead.id].append(Event(e.kind.value, at, e.dwell_seconds))
            rows.append({"lead_id": lead.id, "kind": e.kind, "occurred_at": at, "dwell_seconds": e.dwell_seconds,
                         "detail": e.detail})
    if rows:
        session.execute(insert(BehaviourEvent), rows)
    return brought


def _new_events(lead: Lead, events: Sequence[EventCreate]) -> list[BehaviourEvent]:
    rows = []
    for data in events:
        event = BehaviourEvent(lead_id=lead.id, kind=data.kind, occurred_at=data.occurred_at or utcnow(),
                               dwell_seconds=data.dwell_seconds, detail=data.detail)
        _aggregate(lead, event)
        rows.append(event)
    return rows


def _first_by(column: Any) -> Select[Any]:
    """Per value of ``column``: the first lead with it, and that lead's original. min() per value rather
    than ORDER BY id, which SQLite answers by walking the whole table in id order."""
    earliest = select(column.label("value"), func.min(Lead.id).label("first")).where(
        column.in_(bindparam("values", expanding=True))).group_by(column).subquery()
    return select(earliest.c.value, Lead.id, func.coalesce(Lead.duplicate_of_id, Lead.id)).join(
        Lead, Lead.id == earliest.c.first)


# Built once: building a statement costs more than running this one (see CONVENTIONS.md, hot paths).
_FIRST_BY_KEY = {kind: _first_by(column) for kind, column in _KEY_COLUMNS.items()}


def _link_duplicates(session: Session, leads: Sequence[Lead], dedup: Sequence[DedupKey]) -> None:
    """Link each new lead to the first earlier lead sharing one of its dedup keys — following that lead's
    own link to the original — with one query per key for the whole batch (new leads are already stored)."""
    session.flush()  # the queries go to the connection directly, past the session's autoflush
    kinds = [k for k in dedup if k in _KEY_COLUMNS]
    first: dict[tuple[str, str], tuple[int, int]] = {}  # (kind, value) -> (first lead's id, its original)
    for kind in kinds:
        values = {v for lead in leads if (v := getattr(lead, f"{kind}_key"))}
        if not values:
            continue
        rows = session.connection().execute(_FIRST_BY_KEY[kind], {"values": list(values)}).tuples()
        first |= {(kind, value): (lead_id, original) for value, lead_id, original in rows}
    originals: dict[int, int] = {}  # new leads' originals, decided in id order
    for lead in sorted(leads, key=lambda x: x.id):
        earlier = [first[(k, v)] for k in kinds
                   if (v := getattr(lead, f"{k}_key")) and (k, v) in first and first[(k, v)][0] < lead.id]
        if earlier:
            lead_id, original = min(earlier)
            lead.duplicate_of_id = originals.get(lead_id, original)
        originals[lead.id] = lead.duplicate_of_id or lead.id


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
