"""Capture through the API, idempotent on (source system, external id), and the reconciliation list: waiting,
linked by hand, tried again."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from evenhand.db import session_scope
from evenhand.kit.text import CONTROL, NUL
from evenhand.models import Activity, UnmatchedActivity
from tests.activities.exports import Company, build
from tests.builders import bearer, make_lead, token_for
from tests.support import audit_actions, audit_entries, error_of, row_counts

CALL: dict[str, Any] = {
    "source_system": "crm", "external_id": "00T1", "type": "call", "direction": "outbound",
    "occurred_at": "2024-03-12T14:05:00+08:00", "duration": "0:03:25", "answered": True, "subject": "Intro call",
    "recording_ref": "rec/00T1.mp3", "rep": "A007", "lead": "00Q001", "opportunity": "006A01",
    "email": "buyer@example.cn", "phone": "+86 138 0013 8000"}


@pytest.fixture
def company(engine: Engine) -> Company:
    return build(engine)


@pytest.fixture
def tokens(engine: Engine, company: Company) -> dict[str, dict[str, str]]:
    from evenhand.models import User

    with session_scope(engine) as session:
        users = {u.username: u for u in session.scalars(select(User))}
        return {name: bearer(token_for(session, users[name])) for name in ("ops", "zhangwei", "sup_east", "lina")}


def post(client: TestClient, tokens: dict[str, dict[str, str]], body: dict[str, Any], who: str = "ops") -> Any:
    return client.post("/api/v1/activities", json=body, headers=tokens[who])


class TestPost:
    def test_creates_then_returns_the_same_activity_unchanged(self, client: TestClient, engine: Engine,
                                                               company: Company, tokens: dict[str, Any]) -> None:
        created = post(client, tokens, CALL)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["rep_id"], body["opportunity_id"], body["lead_id"], body["duration_seconds"]) == (
            company.reps["zhangwei"], company.deal, company.leads["00Q001"], 205)
        before = row_counts(engine)
        again = post(client, tokens, {**CALL, "subject": "something else"})
        assert (again.status_code, again.json()) == (200, body)
        assert row_counts(engine) == before
        assert [a for a, _, _ in audit_actions(engine)] == ["activities.captured"]

    def test_an_unknown_rep_waits_and_a_repeat_once_known_is_created(self, client: TestClient, engine: Engine,
                                                                     company: Company, tokens: dict[str, Any]) -> None:
        stranger = {**CALL, "rep": "A999"}
        parked = post(client, tokens, stranger)
        assert parked.status_code == 202, parked.text
        entry = parked.json()
        assert (entry["reason"], entry["external_id"], entry["resolved_at"]) == ("no_rep", "00T1", None)
        assert entry["fields"]["rep"] == "A999" and entry["fields"]["duration_seconds"] == 205
        assert post(client, tokens, stranger).json() == entry  # the same again: nothing new
        assert [a for a, _, _ in audit_actions(engine)] == ["activities.waiting"]
        created = post(client, tokens, CALL)
        assert created.status_code == 201, created.text
        with session_scope(engine, readonly=True) as session:
            waited = session.get_one(UnmatchedActivity, entry["id"])
            assert waited.resolved_at is not None and waited.activity_id == created.json()["id"]

    def test_linking_nothing_waits_as_no_link(self, client: TestClient, company: Company,
                                              tokens: dict[str, Any]) -> None:
        body = {k: v for k, v in CALL.items() if k not in ("lead", "opportunity", "email", "phone")}
        parked = post(client, tokens, body)
        assert (parked.status_code, parked.json()["reason"]) == (202, "no_link")

    def test_only_ops_and_admin_capture(self, client: TestClient, company: Company, tokens: dict[str, Any]) -> None:
        assert post(client, tokens, CALL, who="zhangwei").status_code == 403

    @pytest.mark.parametrize("field", ["external_id", "subject", "recording_ref", "rep", "lead", "opportunity",
                                       "email", "phone", "duration"])
    @pytest.mark.parametrize("char, message", [("\x00", NUL), ("\u202e", CONTROL)])
    def test_text_refuses_nul_and_bidi_controls(self, client: TestClient, engine: Engine, company: Company,
                                                tokens: dict[str, Any], field: str, char: str, message: str) -> None:
        before = row_counts(engine)
        response = client.post("/api/v1/activities", json={**CALL, field: f"0:0{char}1"},
                               headers={**tokens["ops"], "Accept-Language": "en"})
        error = error_of(response)
        assert (response.status_code, error["field"], error["details"][0]["message"]) == (422, field, message)
        assert row_counts(engine) == before

    def test_a_duration_both_ways_must_agree(self, client: TestClient, company: Company,
                                             tokens: dict[str, Any]) -> None:
        assert post(client, tokens, {**CALL, "duration_seconds": 205}).status_code == 201
        refused = post(client, tokens, {**CALL, "external_id": "00T2", "duration_seconds": 200})
        assert refused.status_code == 422, refused.text


def test_the_list_narrows_to_days_in_the_company_zone(client: TestClient, company: Company,
                                                       tokens: dict[str, Any]) -> None:
    for external_id, at in (("D1", "2024-03-12T23:30:00+08:00"), ("D2", "2024-03-13T00:30:00+08:00")):
        assert post(client, tokens, {**CALL, "external_id": external_id, "occurred_at": at}).status_code == 201
    day = client.get("/api/v1/activities", params={"since": "2024-03-13", "until": "2024-03-13"},
                     headers=tokens["sup_east"]).json()
    assert [i["external_id"] for i in day["items"]] == ["D2"]
    mine = client.get("/api/v1/activities", headers=tokens["lina"]).json()
    assert mine["total"] == 0  # a rep reads only their own


class TestPatch:
    def test_changes_the_fields_given_and_matches_keys_again(self, client: TestClient, engine: Engine,
                                                             company: Company, tokens: dict[str, Any]) -> None:
        post(client, tokens, CALL)
        changed = client.patch("/api/v1/activities/crm/00T1", json={"subject": "Intro call, part 2",
                                                                    "rep": "li.na@acme.cn", "phone": "13800138000"},
                               headers=tokens["ops"])
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["subject"], body["rep_id"], body["lead_id"], body["opportunity_id"]) == (
            "Intro call, part 2", company.reps["lina"], company.leads["phone"], company.deal)
        same = client.patch("/api/v1/activities/crm/00T1", json={"subject": "Intro call, part 2"},
                            headers=tokens["ops"])
        assert same.json() == body
        assert [a for a, _, _ in audit_actions(engine)] == ["activities.captured", "activities.updated"]

    @pytest.mark.parametrize("body, field", [({"rep": "A999"}, "rep"), ({"lead": "00Q404"}, "lead"),
                                             ({"opportunity": "006ZZ"}, "opportunity"), ({"type": None}, "type")])
    def test_a_key_naming_nothing_known_is_refused(self, client: TestClient, engine: Engine, company: Company,
                                                   tokens: dict[str, Any], body: dict[str, Any], field: str) -> None:
        post(client, tokens, CALL)
        before = row_counts(engine)
        refused = client.patch("/api/v1/activities/crm/00T1", json=body, headers=tokens["ops"])
        assert (refused.status_code, error_of(refused)["field"]) == (422, field)
        assert row_counts(engine) == before

    def test_a_waiting_activity_is_tried_again_with_the_changes(self, client: TestClient, engine: Engine,
                                                                company: Company, tokens: dict[str, Any]) -> None:
        post(client, tokens, {**CALL, "rep": "A999"})
        still = client.patch("/api/v1/activities/crm/00T1", json={"subject": "x"}, headers=tokens["ops"])
        assert (still.status_code, still.json()["fields"]["subject"]) == (202, "x")
        now = client.patch("/api/v1/activities/crm/00T1", json={"rep": "zhangwei"}, headers=tokens["ops"])
        assert (now.status_code, now.json()["rep_id"], now.json()["subject"]) == (201, company.reps["zhangwei"], "x")

    def test_unknown_keys_are_not_found(self, client: TestClient, company: Company, tokens: dict[str, Any]) -> None:
        assert client.patch("/api/v1/activities/crm/nope", json={}, headers=tokens["ops"]).status_code == 404
        assert client.patch("/api/v1/activities/fax/00T1", json={}, headers=tokens["ops"]).status_code == 404


class TestReconciliationList:
    def park(self, client: TestClient, tokens: dict[str, Any]) -> dict[str, int]:
        ids = {}
        for external_id, changes in (("W1", {"rep": "A999"}), ("W2", {"lead": "00Q404", "opportunity": None,
                                                                         "email": None, "phone": None})):
            ids[external_id] = post(client, tokens, {**CALL, "external_id": external_id, **changes}).json()["id"]
        return ids

    def test_lists_the_waiting_by_reason_for_those_who_work_it(self, client: TestClient, company: Company,
                                                               tokens: dict[str, Any]) -> None:
        self.park(client, tokens)
        listed = client.get("/api/v1/activities/unmatched", headers=tokens["sup_east"]).json()
        assert (listed["total"], [i["external_id"] for i in listed["items"]]) == (2, ["W1", "W2"])
        no_link = client.get("/api/v1/activities/unmatched", params={"reason": "no_link"}, headers=tokens["ops"])
        assert [i["external_id"] for i in no_link.json()["items"]] == ["W2"]
        paged = client.get("/api/v1/activities/unmatched", params={"limit": 1, "offset": 1}, headers=tokens["ops"])
        assert [i["external_id"] for i in paged.json()["items"]] == ["W2"]
        assert client.get("/api/v1/activities/unmatched", headers=tokens["zhangwei"]).status_code == 403

    def test_linking_by_hand_creates_the_activity_once(self, client: TestClient, engine: Engine, company: Company,
                                                       tokens: dict[str, Any]) -> None:
        ids = self.park(client, tokens)
        body = {"rep_id": company.reps["chenxiao"], "lead_id": company.leads["email"]}
        linked = client.post(f"/api/v1/activities/unmatched/{ids['W1']}/link", json=body, headers=tokens["sup_east"])
        assert linked.status_code == 201, linked.text
        act = linked.json()
        assert (act["external_id"], act["rep_id"], act["lead_id"], act["subject"]) == (
            "W1", company.reps["chenxiao"], company.leads["email"], "Intro call")
        again = client.post(f"/api/v1/activities/unmatched/{ids['W1']}/link", json=body, headers=tokens["ops"])
        assert again.status_code == 409
        entries = audit_entries(engine)
        assert (entries[-1].action, entries[-1].payload["unmatched_id"]) == ("activities.linked", ids["W1"])
        left = client.get("/api/v1/activities/unmatched", headers=tokens["ops"]).json()
        assert [i["external_id"] for i in left["items"]] == ["W2"]

    @pytest.mark.parametrize("body, status, field", [
        ({}, 422, None), ({"rep_id": 999_999, "lead_id": "lead"}, 404, "rep_id"),
        ({"lead_id": 999_999}, 404, "lead_id"), ({"opportunity_id": 999_999}, 404, "opportunity_id")])
    def test_a_link_names_a_known_rep_and_lead_or_deal(self, client: TestClient, engine: Engine, company: Company,
                                                       tokens: dict[str, Any], body: dict[str, Any], status: int,
                                                       field: str | None) -> None:
        ids = self.park(client, tokens)
        body = {"rep_id": company.reps["zhangwei"], **body}
        if body.get("lead_id") == "lead":
            body["lead_id"] = company.leads["email"]
        before = row_counts(engine)
        refused = client.post(f"/api/v1/activities/unmatched/{ids['W1']}/link", json=body, headers=tokens["ops"])
        assert refused.status_code == status, refused.text
        if field:
            assert error_of(refused)["field"] == field
        assert row_counts(engine) == before

    def test_a_supervisor_links_only_to_their_own_reps(self, client: TestClient, engine: Engine, company: Company,
                                                       tokens: dict[str, Any]) -> None:
        from evenhand.models import Role
        from tests.builders import make_user

        ids = self.park(client, tokens)
        with session_scope(engine) as session:
            outsider = make_user(session, username="outsider", role=Role.REP).id
        refused = client.post(f"/api/v1/activities/unmatched/{ids['W1']}/link",
                              json={"rep_id": outsider, "lead_id": company.leads["email"]}, headers=tokens["sup_east"])
        assert (refused.status_code, error_of(refused)["field"]) == (403, "rep_id")

    def test_an_entry_whose_activity_is_gone_waits_again(self, client: TestClient, engine: Engine,
                                                        company: Company, tokens: dict[str, Any]) -> None:
        ids = self.park(client, tokens)
        client.post(f"/api/v1/activities/unmatched/{ids['W1']}/link", json={
            "rep_id": company.reps["chenxiao"], "lead_id": company.leads["email"]}, headers=tokens["ops"])
        with session_scope(engine) as session:
            session.execute(delete(Activity).where(Activity.external_id == "W1"))
        again = post(client, tokens, {**CALL, "external_id": "W1", "rep": "A999"})
        assert (again.status_code, again.json()["id"], again.json()["resolved_at"]) == (202, ids["W1"], None)

    def test_reconcile_turns_what_matches_now_into_activities(self, client: TestClient, engine: Engine,
                                                              company: Company, tokens: dict[str, Any]) -> None:
        self.park(client, tokens)
        with session_scope(engine) as session:
            late = make_lead(session, source="salesforce", external_id="00Q404").id
        done = client.post("/api/v1/activities/reconcile", headers=tokens["sup_east"])
        assert (done.status_code, done.json()) == (200, {"tried": 2, "linked": 1, "waiting": 1})
        with session_scope(engine, readonly=True) as session:
            made = session.scalars(select(Activity).where(Activity.external_id == "W2")).one()
        assert (made.lead_id, made.rep_id) == (late, company.reps["zhangwei"])
        assert client.post("/api/v1/activities/reconcile", headers=tokens["zhangwei"]).status_code == 403
