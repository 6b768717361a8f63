"""Lead queries; ``readable`` is the only place lead visibility is decided."""

from __future__ import annotations

from sqlalchemy import Select, select

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Lead


def readable(principal: Principal) -> Select[Lead]:
    return select(Lead).where(owned_by_visible(principal, Lead.owner_id))
