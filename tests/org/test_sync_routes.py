"""The organisation kept in step by an HR system over the API: departments, regions and teams created and changed,
and ``PUT /users/by-external-id/{id}``, the import's rules for one person."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import Team, User
from tests.builders import Org
from tests.support import audit_actions, audit_entries, error_of, row_counts

API = "/api/v1"
PERSON = {"display_name": "张伟", "email": "zhangwei@corp.cn", "phone": "13800000003", "role": "rep",
          "level": "senior", "team": "华东三组", "department": "SALES", "region": "华东", "manager": "sup_a",
          "monthly_quota": "120000", "hired_on": "2024-03-01"}


def steady(user: dict[str, Any]) -> dict[str, Any]:
    """A user as the API gives them, less what is written differently on the way in and out."""
    return {k: v for k, v in user.items() if k not in ("presence_since", "monthly_quota", "working_hours")}


def put(client: TestClient, org: Org, who: str, external_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"{API}/users/by-external-id/{external_id}", headers=org.headers(who), json=body)


def test_departments_regions_and_teams_are_created_and_changed_by_org_managers(client: TestClient, engine: Engine,
                                                                              org: Org) -> None:
    ops = org.headers("ops")
    dept = client.post(f"{API}/departments", headers=ops, json={"code": "SMB", "name": "中小企业部"})
    region = client.post(f"{API}/regions", headers=ops, json={"code": "west", "name": "West"})
    assert (dept.status_code, region.status_code) == (201, 201), (dept.text, region.text)
    team = client.post(f"{API}/teams", headers=ops, json={"name": "West 1", "department_id": dept.json()["id"],
                                                          "region_id": region.json()["id"],
                                                          "supervisor_id": org.id("sup_b")})
    assert team.status_code == 201, team.text
    moved = client.patch(f"{API}/teams/{team.json()['id']}", headers=org.headers("admin"),
                         json={"supervisor_id": org.id("sup_a"), "name": "West One"})
    assert moved.status_code == 200 and moved.json()["supervisor_id"] == org.id("sup_a")
    renamed = client.patch(f"{API}/regions/{region.json()['id']}", headers=ops, json={"name": "西区"})
    assert renamed.json()["name"] == "西区"
    for who in ("rep_n1", "sup_a", "auditor"):
        refused = client.post(f"{API}/teams", headers=org.headers(who), json={"name": "Mine",
                                                                             "department_id": dept.json()["id"]})
        assert refused.status_code == 403, who


class TestSyncPerson:
    def test_created_then_unchanged_then_updated(self, client: TestClient, engine: Engine, org: Org) -> None:
        audited = len(audit_entries(engine))
        created = put(client, org, "ops", "E003", PERSON)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["username"], body["external_id"], body["display_name"], body["level"]) == (
            "zhang.wei", "E003", "张伟", "senior")
        with session_scope(engine, readonly=True) as session:
            team = session.scalars(select(Team).where(Team.name == "华东三组")).one()
            assert (team.department_id, team.region_id, team.supervisor_id) == (
                org.departments["sales"].id, org.region.id if org.region else None, org.id("sup_a"))
        assert body["team_id"] == team.id and body["region_id"] == team.region_id
        done = [a for a, _, _ in audit_actions(engine, audited)]
        assert done == ["teams.create", "users.create", "teams.update"]

        before = row_counts(engine)
        again = put(client, org, "ops", "E003", PERSON)
        assert again.status_code == 200 and steady(again.json()) == steady(body)
        assert Decimal(again.json()["monthly_quota"]) == Decimal(body["monthly_quota"]) == 120000
        assert row_counts(engine) == before

        moved = put(client, org, "admin", "E003", {"team": "North", "level": "junior"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["team_id"], moved.json()["level"]) == (org.teams["north"].id, "junior")
        assert moved.json()["id"] == body["id"] and row_counts(engine)["users"] == before["users"]
        assert audit_actions(engine, len(audit_entries(engine)) - 1)[0][0] == "users.update"

    def test_an_existing_person_is_found_by_email_and_given_the_external_id(self, client: TestClient,
                                                                           engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            session.get(User, org.id("rep_n1")).email = "Rep.N1@Corp.cn"  # type: ignore[union-attr]
        found = put(client, org, "ops", "E777", {"email": "rep.n1@corp.cn"})
        assert found.status_code == 200, found.text
        assert (found.json()["id"], found.json()["external_id"]) == (org.id("rep_n1"), "E777")
        assert client.get(f"{API}/users/by-external-id/E777", headers=org.headers("rep_e1")).json()["id"] == \
            org.id("rep_n1")

    def test_refusals_name_the_field_and_write_nothing(self, client: TestClient, engine: Engine, org: Org) -> None:
        before = row_counts(engine)
        unknown = put(client, org, "ops", "E003", {**PERSON, "manager": "nobody"})
        assert unknown.status_code == 422 and error_of(unknown)["field"] == "manager"
        assert "nobody" in error_of(unknown)["message"]
        nameless = put(client, org, "ops", "E003", {"team": "North"})
        assert nameless.status_code == 422 and error_of(nameless)["field"] == "display_name"
        bad = put(client, org, "ops", "E003", {**PERSON, "username": "Zhang Wei"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "username"
        assert "2–64" in error_of(bad)["message"] and "A-Za-z" not in error_of(bad)["message"]  # the rule, in words
        assert row_counts(engine) == before
        assert put(client, org, "rep_n1", "E003", PERSON).status_code == 403
        assert put(client, org, "sup_a", "E003", PERSON).status_code == 403
        assert client.get(f"{API}/users/by-external-id/E404", headers=org.headers("ops")).status_code == 404

    def test_an_email_of_someone_with_another_external_id_is_refused(self, client: TestClient, engine: Engine,
                                                                     org: Org) -> None:
        assert put(client, org, "ops", "E003", PERSON).status_code == 201
        before = row_counts(engine)
        clash = put(client, org, "ops", "E004", {"display_name": "李娜", "email": "ZHANGWEI@corp.cn"})
        assert clash.status_code == 422 and error_of(clash)["field"] == "email"
        assert "E003" in error_of(clash)["message"] and row_counts(engine) == before
