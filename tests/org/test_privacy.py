"""Whose personal details each role reads: contact details and quota (``details_visible``) and leave reasons
(``leave_reason_visible``), through the API and through what the rep-settings dialog reads.

Written out by hand from the rule, so a wrong rule in the code cannot also be the rule in the test. North and
South are supervised by sup_a (whose own team is North), East by sup_b; rep_solo has no team.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.auth import service as auth_service
from evenhand.db import session_scope
from evenhand.models import Leave, User
from evenhand.org import service
from tests.builders import Org

API = "/api/v1"
EVERYONE = {"admin", "ops", "auditor", "sup_a", "sup_b", "rep_n1", "rep_n2", "rep_s1", "rep_e1", "rep_e2",
            "rep_solo"}
# Whose e-mail, phone and quota each viewer reads.
CONTACTS: dict[str, set[str]] = {
    "rep_n1": {"rep_n1", "rep_n2", "sup_a"},  # self, team-mates (sup_a sits in North) and the team's supervisor
    "rep_n2": {"rep_n1", "rep_n2", "sup_a"},
    "rep_s1": {"rep_s1", "sup_a"},  # South: alone with its supervisor; North is another team
    "rep_e1": {"rep_e1", "rep_e2", "sup_b"},
    "rep_solo": {"rep_solo"},
    "sup_a": {"sup_a", "rep_n1", "rep_n2", "rep_s1"},  # own team and the teams supervised
    "sup_b": {"sup_b", "rep_e1", "rep_e2"},
    "ops": EVERYONE,
    "admin": EVERYONE,
    "auditor": EVERYONE,
}
# Whose leave reasons each viewer reads: the person, their team's supervisor, ops and admin (not auditors).
REASONS: dict[str, set[str]] = {
    "rep_n1": {"rep_n1"},
    "rep_n2": {"rep_n2"},
    "rep_s1": {"rep_s1"},
    "rep_e1": {"rep_e1"},
    "rep_solo": {"rep_solo"},
    "sup_a": {"sup_a", "rep_n1", "rep_n2", "rep_s1"},
    "sup_b": {"sup_b", "rep_e1", "rep_e2"},
    "ops": EVERYONE,
    "admin": EVERYONE,
    "auditor": {"auditor"},  # their own only
}
VIEWERS = list(CONTACTS)
PERSONAL = ("email", "phone", "monthly_quota")


@pytest.fixture
def people(engine: Engine, org: Org) -> Org:
    """Everyone with an e-mail, a phone, a quota and a sick leave."""
    with session_scope(engine) as session:
        for n, user in enumerate(session.scalars(select(User).order_by(User.id))):
            user.email, user.phone = f"{user.username}@example.cn", f"138{n:08d}"
            user.monthly_quota = Decimal("150000.00")
            session.add(Leave(user_id=user.id, starts_on=date(2026, 5, 4), ends_on=date(2026, 5, 6), reason="病假"))
    return org


def get(client: TestClient, org: Org, viewer: str, path: str) -> Any:
    response = client.get(f"{API}{path}", headers=org.headers(viewer))
    assert response.status_code == 200, response.text
    return response.json()


def shown(user: dict[str, Any], name: str) -> bool:
    """The personal fields are all there or all null, and nothing else is ever hidden."""
    values = [user[field] for field in PERSONAL]
    assert user["display_name"] and user["role"] and user["presence"], user
    assert values in ([f"{name}@example.cn", values[1], "150000.00"], [None, None, None]), values
    return values[0] is not None


class TestContactDetails:
    @pytest.mark.parametrize("viewer", VIEWERS)
    def test_one_user_at_a_time(self, client: TestClient, people: Org, viewer: str) -> None:
        seen = {name for name in EVERYONE if shown(get(client, people, viewer, f"/users/{people.id(name)}"), name)}
        assert seen == CONTACTS[viewer]

    @pytest.mark.parametrize("viewer", VIEWERS)
    def test_the_user_list(self, client: TestClient, people: Org, viewer: str) -> None:
        page = get(client, people, viewer, "/users?limit=500")
        assert {u["username"] for u in page["items"]} == EVERYONE  # everyone is listed
        assert {u["username"] for u in page["items"] if shown(u, u["username"])} == CONTACTS[viewer]

    @pytest.mark.parametrize("viewer", VIEWERS)
    def test_team_members(self, client: TestClient, people: Org, viewer: str) -> None:
        for team in people.teams.values():
            members = get(client, people, viewer, f"/teams/{team.id}/members")
            assert members, team.name
            for member in members:
                name = member["username"]
                assert shown(member, name) == (name in CONTACTS[viewer]), (team.name, name)


class TestLeaveReasons:
    @pytest.mark.parametrize("viewer", VIEWERS)
    def test_dates_for_everyone_reasons_for_few(self, client: TestClient, people: Org, viewer: str) -> None:
        for name in EVERYONE:
            leaves = get(client, people, viewer, f"/users/{people.id(name)}/leaves")
            assert [(x["starts_on"], x["ends_on"]) for x in leaves] == [("2026-05-04", "2026-05-06")], name
            assert leaves[0]["reason"] == ("病假" if name in REASONS[viewer] else None), name


@pytest.mark.parametrize("viewer", VIEWERS)
def test_whoever_may_act_for_someone_reads_all_they_are_shown(engine: Engine, people: Org, viewer: str) -> None:
    """The rep-settings dialog opens for those a viewer may act for, and shows their quota and leave (read
    through ``service.leaves``): that is never more than the rule gives."""
    with session_scope(engine, readonly=True) as session:
        principal = auth_service.principal_for(session, session.get_one(User, people.id(viewer)))
        for name in EVERYONE:
            target = session.get_one(User, people.id(name))
            if service.may_act_for(session, principal, target):
                assert name in CONTACTS[viewer] and name in REASONS[viewer], name
                assert [x.reason for x in service.leaves(session, target.id, viewer=principal)] == ["病假"]


def test_the_schema_says_what_may_be_null(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    for model, fields in (("UserRead", PERSONAL), ("LeaveRead", ("reason",))):
        for field in fields:
            prop = schemas[model]["properties"][field]
            assert {"type": "null"} in prop["anyOf"] and "description" in prop, (model, field)
            assert field in schemas[model]["required"], (model, field)
