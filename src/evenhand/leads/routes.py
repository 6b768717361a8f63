"""Lead endpoints: reading leads and their behaviour events, and recording events (intake is ``intake.routes``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evenhand.deps import AppSettings, DbSession, Reader, Writer
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId, IsoDate
from evenhand.leads import outcomes, repository, service
from evenhand.leads.distribution import WeekOfSource, summarise
from evenhand.leads.schemas import (
    EventBatch,
    EventCreate,
    EventRead,
    LeadFilter,
    LeadOutcomeSet,
    LeadRead,
)
from evenhand.models import BehaviourEvent, Lead
from evenhand.notify import service as notify

router = APIRouter(tags=["leads"])


@router.get("/leads", response_model=Page[LeadRead])
def list_leads(session: DbSession, principal: Reader, paging: Paging, settings: AppSettings,
               filters: Annotated[LeadFilter, Query()]) -> dict[str, Any]:
    items, total = paginate(session, repository.listing(principal, filters, settings.zone), paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/leads/score-distribution", response_model=list[WeekOfSource])
def score_distribution(session: DbSession, principal: Reader, settings: AppSettings,
                       since: IsoDate | None = None, until: IsoDate | None = None) -> list[WeekOfSource]:
    """Per source channel and week (Monday, organisation time): lead count, score quartiles and bands."""
    rows = repository.score_rows(session, principal, since=since, until=until, zone=settings.zone)
    return summarise(rows, settings.zone)


@router.get("/leads/{lead_id}", response_model=LeadRead)
def get_lead(lead_id: DbId, session: DbSession, principal: Reader) -> Lead:
    lead = service.visible_lead(session, lead_id, repository.readable(principal))
    notify.acknowledge_lead(session, lead.id, principal.user_id)  # the owner has seen it
    return lead


@router.get("/leads/{lead_id}/events", response_model=list[EventRead])
def list_events(lead_id: DbId, session: DbSession, principal: Reader) -> list[BehaviourEvent]:
    service.visible_lead(session, lead_id, repository.readable(principal))
    return repository.events(session, lead_id)


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


@router.post("/leads/{lead_id}/outcome", response_model=LeadRead)
def set_outcome(lead_id: DbId, data: LeadOutcomeSet, session: DbSession, actor: Writer) -> Lead:
    """Converted (linked to the deal or customer it became) or disqualified with a reason; timestamped and
    audited. The same outcome again changes nothing; a different one is a correction, audited with what it
    replaced."""
    return outcomes.set_outcome(session, actor, lead_id, data).lead
