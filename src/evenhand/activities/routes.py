"""Activity endpoints (reading; capture arrives with the connectors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from evenhand.activities import repository, service
from evenhand.activities.schemas import ActivityRead
from evenhand.deps import DbSession, Reader
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Activity, ActivityType

router = APIRouter(tags=["activities"])


@router.get("/activities", response_model=Page[ActivityRead])
def list_activities(session: DbSession, principal: Reader, paging: Paging, rep_id: DbId | None = None,
                    lead_id: DbId | None = None, type: ActivityType | None = None) -> dict[str, Any]:
    stmt = repository.listing(principal, rep_id=rep_id, lead_id=lead_id, type=type)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/activities/{activity_id}", response_model=ActivityRead)
def get_activity(activity_id: DbId, session: DbSession, principal: Reader) -> Activity:
    return service.visible_activity(session, principal, activity_id)
