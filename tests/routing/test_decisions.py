"""The read side of routing the pages and the API share: the live feed with its names, one decision as each
person may see it, the policy versions and the holding queue — on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.errors import NotFound
from evenhand.models import Lead, Presence, Role, RoutingDecision, User
from evenhand.routing import holds, policy_versions, router, service
from tests.builders import make_user
from tests.routing.test_service import NOW, bearer, company, lead


def routed(engine: Engine) -> tuple[dict[str, User], list[RoutingDecision]]:
    """Three east leads to a and c (b is offline and considered), one south lead to s."""
    with session_scope(engine) as session:
        people = company(session)
        for role in (Role.OPS, Role.AUDITOR):
            people[role.value] = make_user(session, username=role.value, role=role)
        people["b"].presence = Presence.OFFLINE
        rows = [router.route(session, lead(session, n, region), now=NOW)
                for n, region in enumerate(("east", "east", "south", "east"))]
    return people, rows


def as_(session: Session, people: dict[str, User], name: str) -> Principal:
    user = session.get(User, people[name].id)
    assert user is not None
    return principal_for(session, user)


def test_the_feed_names_company_score_and_rep_of_the_leads_each_may_read(engine: Engine) -> None:
    people, rows = routed(engine)
    names = {p.id: p.display_name for p in people.values()}
    with session_scope(engine, readonly=True) as session:
        everything = service.feed_lines(session, as_(session, people, "ops"))
        assert [line.decision.id for line in everything] == [r.id for r in reversed(rows)]
        assert [(line.company, line.rep) for line in everything] == [
            (f"公司{n}", names[r.rep_id]) for n, r in reversed(list(enumerate(rows))) if r.rep_id]
        scores = {lead.id: lead.score for lead in session.scalars(select(Lead))}
        assert [line.score for line in everything] == [scores[r.lead_id] for r in reversed(rows)]
        own = service.feed_lines(session, as_(session, people, "s"))
        assert [(line.company, line.rep) for line in own] == [("公司2", "S")]
        assert len(service.feed_lines(session, as_(session, people, "boss"), limit=2)) == 2


@pytest.mark.parametrize("viewer, every_candidate", [("ops", True), ("auditor", True), ("boss", True),
                                                      ("chosen", True), ("b", False)])
def test_every_candidate_for_staff_supervisors_and_the_chosen_rep(engine: Engine, viewer: str,
                                                                  every_candidate: bool) -> None:
    people, rows = routed(engine)
    first = rows[0]
    name = next(k for k, p in people.items() if p.id == first.rep_id) if viewer == "chosen" else viewer
    with session_scope(engine, readonly=True) as session:
        view = service.visible_decision(session, as_(session, people, name), first.id)
    considered = [v["rep_id"] for v in view["record"]["verdicts"]]
    assert view["full"] is every_candidate
    assert [v["rep_id"] for v in view["verdicts"]] == (considered if every_candidate else [people["b"].id])


def test_a_rep_neither_reading_the_lead_nor_considered_sees_no_decision(engine: Engine) -> None:
    people, rows = routed(engine)
    with session_scope(engine, readonly=True) as session, pytest.raises(NotFound):
        service.visible_decision(session, as_(session, people, "s"), rows[0].id)


def test_the_policy_versions_are_listed_newest_first(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)  # saves version 2 over the shipped default
        assert [v.version for v in policy_versions.versions(session)] == [2, 1]
        make_user(session, username="ops", role=Role.OPS)
    listed = client.get("/api/v1/routing/policies", headers=bearer(engine, "ops", Role.OPS))
    assert listed.status_code == 200, listed.text
    assert [(v["version"], v["active"]) for v in listed.json()] == [(2, True), (1, False)]


def test_a_new_database_lists_the_shipped_policy(engine: Engine) -> None:
    with session_scope(engine) as session:
        shipped = [(1, policy_versions.POLICIES.default_note)]
        assert [(v.version, v.note) for v in policy_versions.versions(session)] == shipped


def test_the_holding_queue_is_read_oldest_first_by_ops_only(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        make_user(session, username="ops", role=Role.OPS)
        for name in ("a", "b", "c"):
            people[name].presence = Presence.OFFLINE
        held = [router.route(session, lead(session, n), now=NOW + timedelta(minutes=n)) for n in range(2)]
        assert [h.outcome for h in held] == ["held", "held"]
        assert [h.lead_id for h in holds.held_leads(session)] == [d.lead_id for d in held]
    listed = client.get("/api/v1/routing/holds", headers=bearer(engine, "ops", Role.OPS))
    assert [h["lead_id"] for h in listed.json()] == [d.lead_id for d in held]
    assert client.get("/api/v1/routing/holds", headers=bearer(engine, "rep_a", Role.REP)).status_code == 403


MATCHING = """
name: 按区域
pools:
  - id: all
    label: 全国
    members: {match_lead: [region]}
"""


def test_a_held_decision_says_why_naming_pool_and_region(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        policy_versions.save(session, MATCHING, author=None, note="members must share the lead's region")
        make_user(session, username="ops_a", role=Role.OPS)
        held = router.route(session, lead(session, 1, region="north"), now=NOW)
        placed = router.route(session, lead(session, 2, region="east"), now=NOW)
        ids = held.id, placed.id
    assert (held.outcome, placed.outcome) == ("held", "assigned")
    headers = bearer(engine, "ops_a", Role.OPS)
    reason = client.get(f"/api/v1/routing/decisions/{ids[0]}", headers=headers).json()["hold_reason"]
    assert reason == "全国 池中没有与此线索匹配的成员（区域: north）；线索在等待队列中。"
    english = client.get(f"/api/v1/routing/decisions/{ids[0]}", headers={**headers, "Accept-Language": "en"})
    assert english.json()["hold_reason"] == (
        "Nobody in pool 全国 matches this lead (region: north); it waits in the holding queue.")
    assert client.get(f"/api/v1/routing/decisions/{ids[1]}", headers=headers).json()["hold_reason"] is None
