"""Opportunity queries; ``readable`` is the only place opportunity visibility is decided."""

from __future__ import annotations

from sqlalchemy import Select, select

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Opportunity


def readable(principal: Principal) -> Select[Opportunity]:
    return select(Opportunity).where(owned_by_visible(principal, Opportunity.owner_id))
