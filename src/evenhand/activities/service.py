"""Reading one activity for a principal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from evenhand.activities import repository
from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.models import Activity


def visible_activity(session: Session, principal: Principal, activity_id: int) -> Activity:
    act = session.scalar(repository.readable(principal).where(Activity.id == activity_id))
    if act is None:
        raise NotFound("No activity with id {id}.", field="activity_id", id=activity_id)
    return act
