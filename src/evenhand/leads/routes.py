"""Lead endpoints (reading; intake arrives with the scoring capability)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from evenhand.deps import DbSession, Reader, Writer
from evenhand.errors import NotFound
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.leads import repository, service
from evenhand.leads.schemas import LeadCreate, LeadRead
from evenhand.models import Lead, LeadStatus
from evenhand.org.schemas import DbId

router = APIRouter(tags=["leads"])


@router.get("/leads", response_model=Page[LeadRead])
def list_leads(session: DbSession, principal: Reader, paging: Paging, status: LeadStatus | None = None,
               owner_id: DbId | None = None, source: str | None = None) -> dict[str, Any]:
    stmt = repository.readable(principal).order_by(Lead.created_at.desc(), Lead.id.desc())
    if status is not None:
        stmt = stmt.where(Lead.status == status)
    if owner_id is not None:
        stmt = stmt.where(Lead.owner_id == owner_id)
    if source is not None:
        stmt = stmt.where(Lead.source == source)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/leads/{lead_id}", response_model=LeadRead)
def get_lead(lead_id: DbId, session: DbSession, principal: Reader) -> Lead:
    lead = session.scalar(repository.readable(principal).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound("No lead with id {id}.", field="lead_id", id=lead_id)
    return lead


_EXISTED: dict[int | str, dict[str, Any]] = {
    200: {"model": LeadRead, "description": "The lead already existed (same source and external id)"}}


@router.post("/leads", response_model=LeadRead, status_code=201, responses=_EXISTED)
def create_lead(data: LeadCreate, session: DbSession, actor: Writer, response: Response) -> Lead:
    lead, created = service.intake(session, data, actor=actor)
    if not created:
        response.status_code = 200
    return lead
