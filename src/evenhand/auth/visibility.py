"""The one rule for whose records a principal may read; every repository's ``readable`` uses it.

A rep reads their own; a supervisor reads the members of the teams they supervise, and their
own; admin, ops and auditors read everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from evenhand.auth.principal import Principal
from evenhand.models import User

OwnerColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


def owned_by_visible(principal: Principal, owner_column: OwnerColumn) -> ColumnElement[bool]:
    if principal.reads_everything:
        return true()
    if principal.supervised_team_ids:
        members = select(User.id).where(User.team_id.in_(principal.supervised_team_ids))
        return or_(owner_column == principal.user_id, owner_column.in_(members))
    return owner_column == principal.user_id
