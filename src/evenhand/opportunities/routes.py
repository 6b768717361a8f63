"""Opportunity endpoints (reading)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from evenhand.deps import DbSession, Reader
from evenhand.errors import NotFound
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Opportunity, Stage, StageChange
from evenhand.opportunities import repository
from evenhand.opportunities.schemas import OpportunityRead, StageChangeRead

router = APIRouter(tags=["opportunities"])


@router.get("/opportunities", response_model=Page[OpportunityRead])
def list_opportunities(session: DbSession, principal: Reader, paging: Paging, stage: Stage | None = None,
                       owner_id: DbId | None = None) -> dict[str, Any]:
    stmt = repository.readable(principal).order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
    if stage is not None:
        stmt = stmt.where(Opportunity.stage == stage)
    if owner_id is not None:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


def _visible(session: DbSession, principal: Reader, opportunity_id: int) -> Opportunity:
    opp = session.scalar(repository.readable(principal).where(Opportunity.id == opportunity_id))
    if opp is None:
        raise NotFound("No opportunity with id {id}.", field="opportunity_id", id=opportunity_id)
    return opp


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityRead)
def get_opportunity(opportunity_id: DbId, session: DbSession, principal: Reader) -> Opportunity:
    return _visible(session, principal, opportunity_id)


@router.get("/opportunities/{opportunity_id}/stages", response_model=list[StageChangeRead])
def stage_history(opportunity_id: DbId, session: DbSession, principal: Reader) -> list[StageChange]:
    _visible(session, principal, opportunity_id)
    stmt = select(StageChange).where(StageChange.opportunity_id == opportunity_id).order_by(StageChange.changed_at)
    return list(session.scalars(stmt))
