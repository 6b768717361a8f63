"""Activity queries; ``readable`` is the only place activity visibility is decided."""

from __future__ import annotations

from sqlalchemy import Select, select

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Activity


def readable(principal: Principal) -> Select[Activity]:
    return select(Activity).where(owned_by_visible(principal, Activity.rep_id))
