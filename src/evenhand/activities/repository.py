"""Activity queries; ``readable`` is the only place activity visibility is decided."""

from __future__ import annotations

from sqlalchemy import Select, select

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Activity, ActivityType


def readable(principal: Principal) -> Select[Activity]:
    return select(Activity).where(owned_by_visible(principal, Activity.rep_id))


def listing(principal: Principal, *, rep_id: int | None = None, lead_id: int | None = None,
            type: ActivityType | None = None) -> Select[Activity]:
    """The readable activities that match every filter given, newest first."""
    stmt = readable(principal).order_by(Activity.occurred_at.desc(), Activity.id.desc())
    for column, wanted in ((Activity.rep_id, rep_id), (Activity.lead_id, lead_id), (Activity.type, type)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    return stmt
