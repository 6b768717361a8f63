"""Activity endpoints (reading; capture arrives with the connectors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from evenhand.activities import repository
from evenhand.activities.schemas import ActivityRead
from evenhand.deps import DbSession, Reader
from evenhand.errors import NotFound
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Activity, ActivityType

router = APIRouter(tags=["activities"])


@router.get("/activities", response_model=Page[ActivityRead])
def list_activities(session: DbSession, principal: Reader, paging: Paging, rep_id: DbId | None = None,
                    lead_id: DbId | None = None, type: ActivityType | None = None) -> dict[str, Any]:
    stmt = repository.readable(principal).order_by(Activity.occurred_at.desc(), Activity.id.desc())
    if rep_id is not None:
        stmt = stmt.where(Activity.rep_id == rep_id)
    if lead_id is not None:
        stmt = stmt.where(Activity.lead_id == lead_id)
    if type is not None:
        stmt = stmt.where(Activity.type == type)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.get("/activities/{activity_id}", response_model=ActivityRead)
def get_activity(activity_id: DbId, session: DbSession, principal: Reader) -> Activity:
    act = session.scalar(repository.readable(principal).where(Activity.id == activity_id))
    if act is None:
        raise NotFound("No activity with id {id}.", field="activity_id", id=activity_id)
    return act
