"""``listing``: filters combine, and never reach past what the principal reads."""

from __future__ import annotations

from sqlalchemy import Engine

from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.models import Stage, User
from evenhand.opportunities import repository
from tests.builders import T0, Org, make_opportunity


def test_filters_combine_inside_the_readable_scope(engine: Engine, org: Org) -> None:
    rep = org.users["rep_s1"]
    with session_scope(engine) as session:
        won = make_opportunity(session, owner=rep, stage=Stage.WON, closed_at=T0).id
    with session_scope(engine, readonly=True) as session:
        sup_a, sup_b = (principal_for(session, session.get_one(User, org.id(n))) for n in ("sup_a", "sup_b"))
        newest_first = [won, *(o.id for o in org.opportunities if o.owner_id == rep.id)]
        assert [o.id for o in session.scalars(repository.listing(sup_a, owner_id=rep.id))] == newest_first
        assert [o.id for o in session.scalars(repository.listing(sup_a, owner_id=rep.id, stage=Stage.WON))] == [won]
        assert list(session.scalars(repository.listing(sup_a, owner_id=org.id("rep_e1")))) == []
        assert list(session.scalars(repository.listing(sup_b, stage=Stage.WON))) == []
