"""The organisation API: round trips, who may change what, and the audit entry every change leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Leave, Presence, User
from evenhand.routing.snapshot import rep_states
from tests.builders import Org, make_department, make_product_line, make_region, make_team, make_user
from tests.support import audit_actions, audit_entries, error_of, row_counts

API = "/api/v1"


def call(client: TestClient, org: Org, who: str, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, f"{API}{path}", headers=org.headers(who), json=body)


# --- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path, table", [("departments", "departments"), ("regions", "regions"),
                                         ("product-lines", "product_lines")])
def test_reference_table_round_trip(client: TestClient, engine: Engine, org: Org, path: str, table: str) -> None:
    before = len(audit_entries(engine))
    created = call(client, org, "ops", "POST", f"/{path}", {"code": "HQ-1", "name": "  总部  "})
    assert created.status_code == 201, created.text
    obj = created.json()
    assert obj == {"id": obj["id"], "code": "HQ-1", "name": "总部"}

    assert call(client, org, "rep_n1", "GET", f"/{path}/{obj['id']}").json() == obj
    listing = call(client, org, "auditor", "GET", f"/{path}").json()
    assert obj in listing["items"] and listing["total"] == len(listing["items"])

    changed = call(client, org, "admin", "PATCH", f"/{path}/{obj['id']}", {"name": "Head office"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**obj, "name": "Head office"}

    assert call(client, org, "ops", "DELETE", f"/{path}/{obj['id']}").status_code == 204
    assert call(client, org, "ops", "GET", f"/{path}/{obj['id']}").status_code == 404

    sid = str(obj["id"])
    assert audit_actions(engine, before) == [(f"{table}.create", sid, org.id("ops")),
                                             (f"{table}.update", sid, org.id("admin")),
                                             (f"{table}.delete", sid, org.id("ops"))]


def test_team_round_trip(client: TestClient, engine: Engine, org: Org) -> None:
    before = len(audit_entries(engine))
    body = {"name": "West", "department_id": org.departments["ka"].id, "supervisor_id": org.id("sup_b"),
            "region_id": org.region.id if org.region else None}
    created = call(client, org, "admin", "POST", "/teams", body)
    assert created.status_code == 201, created.text
    team = created.json()
    assert team == {"id": team["id"], **body}

    moved = call(client, org, "admin", "PATCH", f"/users/{org.id('rep_e2')}", {"team_id": team["id"]})
    assert moved.status_code == 200, moved.text
    members = call(client, org, "rep_n1", "GET", f"/teams/{team['id']}/members").json()
    assert [m["username"] for m in members] == ["rep_e2"]

    changed = call(client, org, "ops", "PATCH", f"/teams/{team['id']}", {"supervisor_id": org.id("sup_a")})
    assert changed.json()["supervisor_id"] == org.id("sup_a")
    me = call(client, org, "sup_a", "GET", "/me").json()
    assert team["id"] in me["supervised_team_ids"]

    assert call(client, org, "admin", "DELETE", f"/teams/{team['id']}").status_code == 204
    assert call(client, org, "admin", "GET", f"/users/{org.id('rep_e2')}").json()["team_id"] is None
    actions = [a for a, _, _ in audit_actions(engine, before)]
    assert actions == ["teams.create", "users.update", "teams.update", "teams.delete"]


def test_unknown_team_members_is_404(client: TestClient, org: Org) -> None:
    response = call(client, org, "admin", "GET", "/teams/9999/members")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_department_in_use_cannot_be_deleted(client: TestClient, engine: Engine, org: Org) -> None:
    counts = row_counts(engine)
    response = call(client, org, "admin", "DELETE", f"/departments/{org.departments['sales'].id}")
    assert response.status_code == 409
    assert error_of(response)["field"] == "id"
    assert row_counts(engine) == counts


class TestUsers:
    def test_create_update_deactivate(self, client: TestClient, engine: Engine, org: Org) -> None:
        before = len(audit_entries(engine))
        body = {"username": "li.lei", "display_name": "李雷", "role": "rep", "level": "senior",
                "team_id": org.teams["south"].id, "password": "s3cret-password", "timezone": "Asia/Shanghai",
                "working_hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]]}, "skills": ["manufacturing"],
                "monthly_quota": "150000.00", "email": "li.lei@example.cn"}
        created = call(client, org, "ops", "POST", "/users", body)
        assert created.status_code == 201, created.text
        user = created.json()
        assert "password" not in user and "password_hash" not in user
        assert (user["username"], user["display_name"], user["level"], user["team_id"]) == \
            ("li.lei", "李雷", "senior", org.teams["south"].id)
        assert user["working_hours"] == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]]}
        assert user["active"] is True and user["presence"] == "offline"

        with session_scope(engine, readonly=True) as session:
            stored = session.scalars(select(User).where(User.username == "li.lei")).one()
            assert stored.password_hash and stored.password_hash.startswith("$argon2id$")

        changed = call(client, org, "admin", "PATCH", f"/users/{user['id']}",
                        {"display_name": "Li Lei", "team_id": None, "max_open_leads": 30})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["display_name"], changed.json()["team_id"], changed.json()["max_open_leads"]) == \
            ("Li Lei", None, 30)

        gone = call(client, org, "admin", "DELETE", f"/users/{user['id']}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["active"] is False
        assert gone.json()["left_on"] == utcnow().astimezone(get_settings().zone).date().isoformat()  # the org's day
        assert call(client, org, "admin", "GET", f"/users/{user['id']}").json()["active"] is False

        entries = audit_entries(engine)[before:]
        assert [e.action for e in entries] == ["users.create", "users.update", "users.deactivate"]
        assert entries[0].payload["password_set"] is True
        assert "password" not in entries[0].payload and "s3cret-password" not in str(entries[0].payload)

    @pytest.mark.parametrize(("spans", "ok"), [
        ([["09:00", "18:00"]], True), ([["22:00", "06:00"]], True),  # past midnight, as routing reads it
        ([["00:00", "00:00"]], True), ([["09:00", "09:00"]], False), ([["9:00", "18:00"]], False),
    ])
    def test_working_hours_take_the_spans_routing_understands(self, client: TestClient, org: Org,
                                                               spans: list[list[str]], ok: bool) -> None:
        response = call(client, org, "ops", "PATCH", f"/users/{org.id('rep_s1')}", {"working_hours": {"fri": spans}})
        assert response.status_code == (200 if ok else 422), response.text
        if not ok:
            assert error_of(response)["field"] == "working_hours"

    def test_a_deactivated_users_token_stops_working(self, client: TestClient, org: Org) -> None:
        assert call(client, org, "rep_n2", "GET", "/me").status_code == 200
        assert call(client, org, "admin", "DELETE", f"/users/{org.id('rep_n2')}").status_code == 200
        response = call(client, org, "rep_n2", "GET", "/me")
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"

    def test_listing_is_paged(self, client: TestClient, org: Org) -> None:
        first = call(client, org, "rep_n1", "GET", "/users?limit=5").json()
        rest = call(client, org, "rep_n1", "GET", "/users?limit=500&offset=5").json()
        assert len(first["items"]) == 5 and first["total"] == len(org.users)
        ids = [u["id"] for u in first["items"] + rest["items"]]
        assert ids == sorted(ids) and len(set(ids)) == len(org.users)


class TestProductLines:
    def test_set_read_and_refuse_an_unknown_code(self, client: TestClient, engine: Engine, org: Org) -> None:
        with session_scope(engine) as session:
            codes = [make_product_line(session, code=c).code for c in ("crm", "erp")]
        rep = org.id("rep_n1")
        before = len(audit_entries(engine))
        saved = call(client, org, "ops", "PUT", f"/users/{rep}/product-lines", {"codes": ["erp", "crm", "erp"]})
        assert saved.status_code == 200, saved.text
        assert saved.json() == codes == call(client, org, "rep_n2", "GET", f"/users/{rep}/product-lines").json()
        counts = row_counts(engine)
        wrong = call(client, org, "ops", "PUT", f"/users/{rep}/product-lines", {"codes": ["crm", "nope"]})
        assert wrong.status_code == 422 and error_of(wrong)["field"] == "product_lines" and "nope" in wrong.text
        assert call(client, org, "sup_a", "PUT", f"/users/{rep}/product-lines", {"codes": []}).status_code == 403
        assert row_counts(engine) == counts
        assert call(client, org, "ops", "PUT", f"/users/{rep}/product-lines", {"codes": ["crm"]}).json() == ["crm"]
        entries = audit_entries(engine)[before:]
        assert [(e.action, e.payload) for e in entries] == [
            ("users.product_lines", {"from": [], "to": ["crm", "erp"]}),
            ("users.product_lines", {"from": ["crm", "erp"], "to": ["crm"]})]
        with session_scope(engine, readonly=True) as session:  # what routing reads of the rep
            reps = rep_states(session, utcnow(), get_settings().zone, high_value=80)
        assert next(r for r in reps if r.id == rep).product_lines == ("crm",)


class TestLeaves:
    def test_create_and_list(self, client: TestClient, engine: Engine, org: Org) -> None:
        before = len(audit_entries(engine))
        rep = org.id("rep_s1")
        for span in (("2026-05-04", "2026-05-08"), ("2026-04-01", "2026-04-01")):
            response = call(client, org, "rep_s1", "POST", f"/users/{rep}/leaves",
                            {"starts_on": span[0], "ends_on": span[1], "reason": "年假"})
            assert response.status_code == 201, response.text
        listed = call(client, org, "auditor", "GET", f"/users/{rep}/leaves").json()
        assert [(x["starts_on"], x["ends_on"]) for x in listed] == [("2026-04-01", "2026-04-01"),
                                                                     ("2026-05-04", "2026-05-08")]
        assert {x["user_id"] for x in listed} == {rep}
        assert [a for a, _, _ in audit_actions(engine, before)] == ["leaves.create", "leaves.create"]

    def test_span_ending_before_it_starts_is_rejected(self, client: TestClient, engine: Engine, org: Org) -> None:
        counts = row_counts(engine)
        response = call(client, org, "rep_s1", "POST", f"/users/{org.id('rep_s1')}/leaves",
                        {"starts_on": "2026-05-08", "ends_on": "2026-05-04"})
        assert response.status_code == 422
        assert error_of(response)["field"] == "ends_on"
        assert row_counts(engine) == counts

    def test_cancel_removes_one_leave_audited_and_nobody_elses(self, client: TestClient, engine: Engine,
                                                              org: Org) -> None:
        rep, other = org.id("rep_s1"), org.id("rep_n2")
        made = [call(client, org, "ops", "POST", f"/users/{who}/leaves",
                     {"starts_on": "2026-06-01", "ends_on": "2026-06-02"}).json()["id"] for who in (rep, other)]
        before, counts = len(audit_entries(engine)), row_counts(engine)
        assert call(client, org, "rep_n1", "DELETE", f"/users/{rep}/leaves/{made[0]}").status_code == 403
        wrong = call(client, org, "rep_s1", "DELETE", f"/users/{rep}/leaves/{made[1]}")  # someone else's leave
        assert wrong.status_code == 404 and error_of(wrong)["field"] == "leave_id"
        assert row_counts(engine) == counts
        assert call(client, org, "rep_s1", "DELETE", f"/users/{rep}/leaves/{made[0]}").status_code == 204
        assert call(client, org, "auditor", "GET", f"/users/{rep}/leaves").json() == []
        assert len(call(client, org, "auditor", "GET", f"/users/{other}/leaves").json()) == 1
        entries = audit_entries(engine)[before:]
        assert [e.action for e in entries] == ["leaves.delete"]
        assert entries[0].payload == {"starts_on": "2026-06-01", "ends_on": "2026-06-02", "reason": None}

    @pytest.mark.parametrize("actor, target, status", [
        ("rep_n1", "rep_n2", 403), ("sup_b", "rep_n1", 403), ("sup_a", "rep_s1", 201), ("ops", "rep_e1", 201),
    ])
    def test_who_may_record_leave(self, client: TestClient, org: Org, actor: str, target: str, status: int) -> None:
        response = call(client, org, actor, "POST", f"/users/{org.id(target)}/leaves",
                        {"starts_on": "2026-06-01", "ends_on": "2026-06-02"})
        assert response.status_code == status, response.text

    def test_unknown_user_is_404(self, client: TestClient, org: Org) -> None:
        assert call(client, org, "admin", "GET", "/users/9999/leaves").status_code == 404


class TestPresence:
    @pytest.mark.parametrize("actor, target, status", [
        ("rep_n1", "rep_n1", 200),
        ("rep_n1", "rep_n2", 403),
        ("rep_e1", "sup_b", 403),
        ("sup_a", "rep_n2", 200),
        ("sup_a", "rep_s1", 200),
        ("sup_a", "sup_a", 200),
        ("sup_a", "rep_e1", 403),
        ("sup_a", "rep_solo", 403),
        ("sup_b", "rep_n1", 403),
        ("sup_b", "rep_e2", 200),
        ("ops", "rep_e2", 200),
        ("admin", "sup_a", 200),
        ("auditor", "auditor", 403),
    ])
    def test_who_may_change_whose(self, client: TestClient, engine: Engine, org: Org, actor: str, target: str,
                                  status: int) -> None:
        before = audit_entries(engine)
        response = call(client, org, actor, "PUT", f"/users/{org.id(target)}/presence", {"presence": "online"})
        assert response.status_code == status, response.text
        now = call(client, org, "admin", "GET", f"/users/{org.id(target)}").json()["presence"]
        entries = audit_entries(engine)[len(before):]
        if status == 200:
            assert response.json()["presence"] == now == "online"
            assert [(e.action, e.payload, e.actor_id) for e in entries] == \
                [("presence.change", {"from": "offline", "to": "online"}, org.id(actor))]
        else:
            assert error_of(response)["code"] == "forbidden"
            assert now == "offline" and entries == []

    def test_setting_the_same_presence_again_records_nothing(self, client: TestClient, engine: Engine,
                                                             org: Org) -> None:
        path = f"/users/{org.id('rep_n1')}/presence"
        assert call(client, org, "rep_n1", "PUT", path, {"presence": "away"}).status_code == 200
        before = len(audit_entries(engine))
        since = call(client, org, "rep_n1", "GET", f"/users/{org.id('rep_n1')}").json()["presence_since"]
        again = call(client, org, "rep_n1", "PUT", path, {"presence": Presence.AWAY.value})
        assert again.status_code == 200
        assert again.json()["presence_since"] == since
        assert len(audit_entries(engine)) == before


# --- who may write at all ------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    body: dict[str, Any] | None
    template: str  # the route's path, to check that every write route is covered
    org_only: bool = True  # False: reps and supervisors may call it for themselves and their teams


def org_writes(org: Org, engine: Engine) -> list[Write]:
    """One valid request for every write endpoint, on rows nothing else refers to."""
    with session_scope(engine) as session:
        dept, region, line = make_department(session), make_region(session), make_product_line(session)
        team = make_team(session, department=dept)
        user = make_user(session, username="spare_rep", team=team)
        rep = org.id("rep_n1")
        leave = Leave(user_id=rep, starts_on=date(2026, 8, 3), ends_on=date(2026, 8, 4))
        session.add(leave)
        session.flush()
        code = make_product_line(session).code  # a line nothing deletes, unlike ``line``
        ids = {"dept": dept.id, "region": region.id, "line": line.id, "team": team.id, "user": user.id,
               "leave": leave.id}
    writes = [Write("POST", "/teams", {"name": "Spare", "department_id": org.departments["ka"].id}, "/teams"),
              Write("PATCH", f"/teams/{ids['team']}", {"name": "Renamed"}, "/teams/{obj_id}"),
              Write("DELETE", f"/teams/{ids['team']}", None, "/teams/{obj_id}"),
              Write("POST", "/users", {"username": "newbie", "display_name": "Newbie"}, "/users"),
              Write("PATCH", f"/users/{ids['user']}", {"display_name": "Renamed"}, "/users/{user_id}"),
              Write("DELETE", f"/users/{ids['user']}", None, "/users/{user_id}"),
              Write("PUT", f"/users/{rep}/presence", {"presence": "online"}, "/users/{user_id}/presence", False),
              Write("POST", f"/users/{rep}/leaves", {"starts_on": "2026-07-01", "ends_on": "2026-07-03"},
                    "/users/{user_id}/leaves", False),
              Write("DELETE", f"/users/{rep}/leaves/{ids['leave']}", None, "/users/{user_id}/leaves/{leave_id}", False),
              Write("PUT", f"/users/{ids['user']}/product-lines", {"codes": [code]},
                    "/users/{user_id}/product-lines"),
              Write("PUT", f"/users/{ids['user']}/grants", {"grant": "key_account"}, "/users/{user_id}/grants"),
              Write("PUT", "/users/by-external-id/HR-1", {"display_name": "New Hire"},
                    "/users/by-external-id/{external_id}"),
              Write("DELETE", f"/users/{ids['user']}/grants/key_account", None, "/users/{user_id}/grants/{name}")]
    for path, key in (("departments", "dept"), ("regions", "region"), ("product-lines", "line")):
        writes += [Write("POST", f"/{path}", {"code": "NEW", "name": "New"}, f"/{path}"),
                   Write("PATCH", f"/{path}/{ids[key]}", {"name": "Renamed"}, f"/{path}/{{obj_id}}"),
                   Write("DELETE", f"/{path}/{ids[key]}", None, f"/{path}/{{obj_id}}")]
    return writes


def test_the_write_list_covers_every_org_write_route(app: FastAPI, engine: Engine, org: Org) -> None:
    routes = {(method.upper(), path.removeprefix(API)) for path, item in app.openapi()["paths"].items()
              for method, op in item.items() if "organisation" in op["tags"] and method != "get"}
    assert {(w.method, w.template) for w in org_writes(org, engine)} == routes


def test_every_org_write_succeeds_for_an_admin(client: TestClient, engine: Engine, org: Org) -> None:
    """The control for the refusals below: the same requests are valid and do write."""
    writes = org_writes(org, engine)
    before = len(audit_entries(engine))
    for w in writes:
        response = call(client, org, "admin", w.method, w.path, w.body)
        assert response.status_code in (200, 201, 204), (w, response.text)
    assert len(audit_entries(engine)) == before + len(writes)


def test_auditor_reads_everything_and_writes_nothing(client: TestClient, engine: Engine, org: Org) -> None:
    writes = org_writes(org, engine)
    counts = row_counts(engine)
    for w in writes:
        response = call(client, org, "auditor", w.method, w.path, w.body)
        assert response.status_code == 403, (w, response.text)
        assert error_of(response)["code"] == "forbidden"
    assert row_counts(engine) == counts
    for path in ("/departments", "/regions", "/product-lines", "/teams", "/users"):
        listing = call(client, org, "auditor", "GET", path)
        assert listing.status_code == 200 and listing.json()["total"] > 0


@pytest.mark.parametrize("who", ["rep_n1", "sup_a", "sup_b"])
def test_reps_and_supervisors_cannot_change_the_org(client: TestClient, engine: Engine, org: Org,
                                                    who: str) -> None:
    writes = [w for w in org_writes(org, engine) if w.org_only]
    counts = row_counts(engine)
    for w in writes:
        response = call(client, org, who, w.method, w.path, w.body)
        assert response.status_code == 403, (w, response.text)
    assert row_counts(engine) == counts
