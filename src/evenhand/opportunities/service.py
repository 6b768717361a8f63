"""Reading one opportunity, and its stage history, for a principal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.models import Opportunity, StageChange
from evenhand.opportunities import repository


def visible_opportunity(session: Session, principal: Principal, opportunity_id: int) -> Opportunity:
    opp = session.scalar(repository.readable(principal).where(Opportunity.id == opportunity_id))
    if opp is None:
        raise NotFound("No opportunity with id {id}.", field="opportunity_id", id=opportunity_id)
    return opp


def stage_history(session: Session, principal: Principal, opportunity_id: int) -> list[StageChange]:
    visible_opportunity(session, principal, opportunity_id)
    return repository.stage_changes(session, opportunity_id)
