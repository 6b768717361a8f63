"""Opportunity queries; ``readable`` is the only place opportunity visibility is decided."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Opportunity, Stage, StageChange


def readable(principal: Principal) -> Select[Opportunity]:
    return select(Opportunity).where(owned_by_visible(principal, Opportunity.owner_id))


def listing(principal: Principal, *, stage: Stage | None = None, owner_id: int | None = None
            ) -> Select[Opportunity]:
    """The readable opportunities that match every filter given, newest first."""
    stmt = readable(principal).order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
    for column, wanted in ((Opportunity.stage, stage), (Opportunity.owner_id, owner_id)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    return stmt


def stage_changes(session: Session, opportunity_id: int) -> list[StageChange]:
    """Oldest first; whether the caller may see the opportunity is for the caller to check."""
    stmt = select(StageChange).where(StageChange.opportunity_id == opportunity_id).order_by(StageChange.changed_at)
    return list(session.scalars(stmt))
