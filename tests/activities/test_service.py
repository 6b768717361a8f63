"""Whom the pages offer: the reps a person may filter activities by, and link a waiting activity to."""

from __future__ import annotations

from sqlalchemy import Engine

from evenhand.activities import service
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.models import User
from tests.builders import Org


def test_reps_offered_follow_who_may_see_and_act(engine: Engine, org: Org) -> None:
    with session_scope(engine, readonly=True) as session:
        def who(username: str) -> tuple[set[str | None], set[str | None], bool]:
            principal = principal_for(session, session.get_one(User, org.id(username)))
            return (org.usernames(set(service.rep_choices(session, principal))),
                    org.usernames(set(service.linkable_reps(session, principal))), service.may_reconcile(principal))

        assert who("rep_n1") == ({"rep_n1"}, {"rep_n1"}, False)
        assert who("sup_b") == ({"sup_b", "rep_e1", "rep_e2"}, {"sup_b", "rep_e1", "rep_e2"}, True)
        everyone = {"rep_n1", "rep_n2", "rep_s1", "rep_e1", "rep_e2", "rep_solo", "sup_a", "sup_b"}
        assert who("ops") == (everyone, everyone, True)
        assert who("auditor")[0] == everyone and who("auditor")[2]
