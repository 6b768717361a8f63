"""``listing``: filters combine, and never reach past what the principal reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from evenhand.activities import repository
from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.models import ActivityType, User
from tests.builders import Org


def test_filters_combine_inside_the_readable_scope(engine: Engine, org: Org) -> None:
    rep = org.id("rep_n1")
    email = next(a for a in org.activities if a.rep_id == rep and a.type is ActivityType.EMAIL)
    call = next(a for a in org.activities if a.rep_id == rep and a.type is ActivityType.CALL)
    with session_scope(engine, readonly=True) as session:
        sup_a, sup_b = (principal_for(session, session.get_one(User, org.id(n))) for n in ("sup_a", "sup_b"))

        def ids(principal: Principal, **filters: Any) -> list[int]:
            return [a.id for a in session.scalars(repository.listing(principal, **filters))]

        assert ids(sup_a, rep_id=rep, type=ActivityType.EMAIL) == [email.id]
        assert ids(sup_a, rep_id=rep, lead_id=call.lead_id) == [call.id]
        assert ids(sup_a, rep_id=rep, lead_id=call.lead_id, type=ActivityType.EMAIL) == []
        assert ids(sup_b, rep_id=rep) == []
