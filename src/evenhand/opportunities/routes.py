"""Opportunity endpoints (reading)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from evenhand.deps import DbSession, Reader
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Opportunity, Stage, StageChange
from evenhand.opportunities import repository, service
from evenhand.opportunities.schemas import OpportunityRead, StageChangeRead

router = APIRouter(tags=["opportunities"])


@router.get("/opportunities", response_model=Page[OpportunityRead])
def list_opportunities(session: DbSession, principal: Reader, paging: Paging, stage: Stage | None = None,
                       owner_id: DbId | None = None) -> dict[str, Any]:
    items, total = paginate(session, repository.listing(principal, stage=stage, owner_id=owner_id), paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityRead)
def get_opportunity(opportunity_id: DbId, session: DbSession, principal: Reader) -> Opportunity:
    return service.visible_opportunity(session, principal, opportunity_id)


@router.get("/opportunities/{opportunity_id}/stages", response_model=list[StageChangeRead])
def stage_history(opportunity_id: DbId, session: DbSession, principal: Reader) -> list[StageChange]:
    return service.stage_history(session, principal, opportunity_id)
