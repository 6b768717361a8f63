"""Lead endpoints: intake (one, or a batch), behaviour events, and reading."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from evenhand.deps import AppSettings, DbSession, Reader, ReadWriter, Writer
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId, IsoDate
from evenhand.leads import repository, service
from evenhand.leads.distribution import summarise
from evenhand.leads.schemas import (
    AssignmentRead,
    BatchItem,
    BatchResult,
    EventBatch,
    EventCreate,
    EventRead,
    LeadBatch,
    LeadCreate,
    LeadFilter,
    LeadIntakeRead,
    LeadRead,
    RowProblem,
    WeekOfSourceRead,
)
from evenhand.models import BehaviourEvent, Lead, RoutingDecision
from evenhand.notify import service as notify
from evenhand.routing import flows
from evenhand.routing.arrivals import arrivals_for

router = APIRouter(tags=["leads"])
_EXISTED: dict[int | str, dict[str, Any]] = {
    200: {"model": LeadRead, "description": "The lead already existed (same source and external id)"}}


@router.get("/leads", response_model=Page[LeadRead])
def list_leads(session: DbSession, principal: Reader, paging: Paging, settings: AppSettings,
               filters: Annotated[LeadFilter, Query()]) -> dict[str, Any]:
    stmt = repository.filtered(repository.readable(principal), filters, settings.zone)
    items, total = paginate(session, stmt.order_by(Lead.created_at.desc(), Lead.id.desc()), paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/leads/score-distribution", response_model=list[WeekOfSourceRead])
def score_distribution(session: DbSession, principal: Reader, settings: AppSettings,
                       since: IsoDate | None = None, until: IsoDate | None = None) -> list[Any]:
    """Per source channel and week (Monday, organisation time): lead count, score quartiles and bands."""
    rows = repository.score_rows(session, principal, since=since, until=until, zone=settings.zone)
    return [asdict(week) for week in summarise(rows, settings.zone)]


@router.get("/leads/{lead_id}", response_model=LeadRead)
def get_lead(lead_id: DbId, session: DbSession, principal: Reader) -> Lead:
    lead = service.visible_lead(session, lead_id, repository.readable(principal))
    notify.acknowledge_lead(session, lead.id, principal.user_id)  # the owner has seen it
    return lead


@router.post("/leads", response_model=LeadIntakeRead, status_code=201, responses=_EXISTED)
def create_lead(data: LeadCreate, request: Request, actor: ReadWriter, settings: AppSettings,
                response: Response) -> LeadIntakeRead:
    """Takes the lead in, scores it and routes it before answering; ``assignment`` says to whom and why.

    Leads posted at the same moment are committed together (``routing.arrivals``); each still has its
    own decision and evidence."""
    result, decision = arrivals_for(request.app.state.engine).take(data, actor=actor, dedup=settings.dedup_keys)
    if not result.created:
        response.status_code = 200
    out = LeadIntakeRead.model_validate(result.lead)
    out.assignment = _assignment(decision)
    return out


def _assignment(decision: RoutingDecision | None) -> AssignmentRead | None:
    if decision is None:
        return None
    return AssignmentRead(decision_id=decision.id, outcome=decision.outcome, rep_id=decision.rep_id,
                          track=decision.track, pool_id=decision.pool_id)


@router.post("/leads/batch", response_model=BatchResult)
def create_leads(batch: LeadBatch, session: DbSession, actor: Writer, settings: AppSettings) -> BatchResult:
    """All or nothing by default: one bad row rejects the batch and names every problem by row.

    Rows are numbered from 1 in messages and ``row``; ``field`` is the JSON path (``leads.0.email``).
    """
    parsed, errors = service.validate_rows(batch.leads)
    if errors and not batch.skip_invalid:
        raise service.reject(errors, path=lambda e: f"leads.{e.row - 1}.{e.field}")
    rows = [(i + 1, data) for i, data in enumerate(parsed) if data is not None]
    results = service.intake_many(session, [data for _, data in rows], actor=actor, dedup=settings.dedup_keys)
    decisions = flows.route_new(session, results, actor=actor)
    items = [BatchItem(row=row, id=r.lead.id, created=r.created, duplicate_of_id=r.lead.duplicate_of_id,
                       score=r.lead.score, assignment=_assignment(decisions.get(r.lead.id)) if r.created else None)
             for (row, _), r in zip(rows, results, strict=True)]
    created = sum(1 for item in items if item.created)
    return BatchResult(created=created, existing=len(items) - created, items=items,
                       rejected=[RowProblem(row=e.row, field=e.field, message=e.message) for e in errors])


@router.get("/leads/{lead_id}/events", response_model=list[EventRead])
def list_events(lead_id: DbId, session: DbSession, principal: Reader) -> list[BehaviourEvent]:
    service.visible_lead(session, lead_id, repository.readable(principal))
    stmt = select(BehaviourEvent).where(BehaviourEvent.lead_id == lead_id).order_by(BehaviourEvent.occurred_at)
    return list(session.scalars(stmt))


@router.post("/leads/{lead_id}/events", response_model=LeadRead, status_code=201)
def add_event(lead_id: DbId, data: EventCreate, session: DbSession, actor: Writer) -> Lead:
    lead = service.visible_lead(session, lead_id, repository.readable(actor))
    service.record_events(session, lead, [data])
    return lead


@router.post("/leads/{lead_id}/events/batch", response_model=LeadRead, status_code=201)
def add_events(lead_id: DbId, batch: EventBatch, session: DbSession, actor: Writer) -> Lead:
    lead = service.visible_lead(session, lead_id, repository.readable(actor))
    service.record_events(session, lead, batch.events)
    return lead
