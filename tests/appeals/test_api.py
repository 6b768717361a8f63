"""The appeals API: filing and its refusals, who reads what, ruling, withdrawing, and the metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import Appeal, AppealStatus, RoutingDecision
from tests.appeals.factory import Company, age_decision, build, inbox, lead_to
from tests.support import error_of

EN = {"Accept-Language": "en"}


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def post(client: TestClient, company: Company, who: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/v1{path}", json=body, headers=company.headers(who) | EN)


def appeal_body(decision_id: int, **fields: object) -> dict[str, Any]:
    return {"decision_id": decision_id, "reason_code": "wrong_industry", "reason": "经销商",
            "corrections": {"industry": "批发"}} | fields


def test_file_read_and_list_by_role(client: TestClient, engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    created = post(client, company, "a", "/appeals", appeal_body(decision_id))
    assert created.status_code == 201, created.text
    appeal = created.json()
    assert (appeal["status"], appeal["lead_id"], appeal["corrections"]) == ("open", lead_id, {"industry": "批发"})

    def listed(who: str, **query: str) -> list[int]:
        response = client.get("/api/v1/appeals", params=query, headers=company.headers(who))
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()]

    mine = [appeal["id"]]
    assert listed("a") == listed("boss") == listed("ops") == listed("auditor") == mine
    assert listed("b") == listed("boss2") == []
    assert listed("boss", status="open") == mine and listed("boss", status="upheld") == []
    detail = client.get(f"/api/v1/appeals/{appeal['id']}", headers=company.headers("boss")).json()
    assert detail["appellant_name"] == "A" and detail["company"] == "公司1"
    assert detail["decision"]["kind"] == "intake" and detail["decision"]["rep_id"] == company.ids["a"]
    codes = {v["rep_id"]: v["code"] for v in detail["decision"]["verdicts"]}
    assert codes[company.ids["a"]] == "chosen" and codes[company.ids["b"]] == "away"
    opened = datetime.fromisoformat(appeal["created_at"])
    assert timedelta(0) < datetime.fromisoformat(detail["window_closes_at"]) - opened <= timedelta(minutes=120)
    assert error_of(client.get(f"/api/v1/appeals/{appeal['id']}", headers=company.headers("boss2")))["code"] == \
        "not_found"


def test_filing_refusals_name_the_field(client: TestClient, engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    other = post(client, company, "b", "/appeals", appeal_body(decision_id))
    assert other.status_code == 403 and error_of(other)["field"] == "decision_id"
    auditor = post(client, company, "auditor", "/appeals", appeal_body(decision_id))
    assert auditor.status_code == 403
    checks = [(appeal_body(decision_id, reason_code="other", reason=""), "reason"),
              (appeal_body(decision_id, corrections={"industry": "批发", "colour": "red"}), "corrections.colour"),
              (appeal_body(decision_id, corrections={"company_size": -1}), "corrections.company_size"),
              (appeal_body(decision_id, corrections={"region": "mars"}), "corrections.region"),
              (appeal_body(decision_id, reason_code="angry"), "reason_code")]
    for body, field in checks:
        response = post(client, company, "a", "/appeals", body)
        assert response.status_code == 422 and error_of(response)["field"] == field, body
    assert post(client, company, "a", "/appeals", appeal_body(decision_id)).status_code == 201
    again = post(client, company, "a", "/appeals", appeal_body(decision_id))
    assert again.status_code == 409 and error_of(again)["field"] == "decision_id"


def test_after_the_window_the_api_says_it_closed_and_when(client: TestClient, engine: Engine,
                                                          company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    age_decision(engine, decision_id, minutes=180)
    with session_scope(engine, readonly=True) as session:
        made = session.get(RoutingDecision, decision_id).created_at  # type: ignore[union-attr]
    closed = (made + timedelta(minutes=120)).astimezone(ZoneInfo("Asia/Shanghai"))
    response = post(client, company, "a", "/appeals", appeal_body(decision_id))
    error = error_of(response)
    assert response.status_code == 409 and error["field"] == "decision_id"
    assert error["message"] == (f"The appeal window closed at {closed:%Y-%m-%d %H:%M}, 120 minutes after the "
                                "assignment.")
    chinese = client.post("/api/v1/appeals", json=appeal_body(decision_id),
                          headers=company.headers("a") | {"Accept-Language": "zh-CN"})
    assert "申诉" in error_of(chinese)["message"]


def test_ruling_over_the_api(client: TestClient, engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = post(client, company, "a", "/appeals", appeal_body(decision_id)).json()["id"]
    assert post(client, company, "a", f"/appeals/{appeal_id}/ruling", {"outcome": "uphold"}).status_code == 403
    assert post(client, company, "auditor", f"/appeals/{appeal_id}/ruling", {"outcome": "uphold"}).status_code == 403
    named = post(client, company, "boss", f"/appeals/{appeal_id}/ruling", {"outcome": "uphold", "rep_id": 1})
    assert named.status_code == 422 and error_of(named)["field"] == "rep_id"
    ruled = post(client, company, "boss", f"/appeals/{appeal_id}/ruling",
                 {"outcome": "reassign", "rep_id": company.ids["c"], "note": "给小C"})
    assert ruled.status_code == 200, ruled.text
    body = ruled.json()
    assert (body["status"], body["ruling"], body["decided_by_id"]) == ("reassigned", "给小C", company.ids["boss"])
    evidence = client.get(f"/api/v1/routing/decisions/{body['outcome_decision_id']}",
                          headers=company.headers("c")).json()
    assert (evidence["kind"], evidence["track"], evidence["rep_id"]) == ("appeal", "manual", company.ids["c"])
    lead = client.get(f"/api/v1/leads/{lead_id}", headers=company.headers("c")).json()
    assert lead["owner_id"] == company.ids["c"]
    twice = post(client, company, "boss", f"/appeals/{appeal_id}/ruling", {"outcome": "uphold"})
    assert twice.status_code == 409 and error_of(twice)["field"] == "appeal_id"
    assert [k for k, _ in inbox(engine, company.ids["a"])][-1] == "appeal_ruled"
    mine = client.get("/api/v1/appeals", headers=company.headers("a")).json()
    assert [(a["id"], a["status"]) for a in mine] == [(appeal_id, "reassigned")]


def test_withdraw_over_the_api(client: TestClient, engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    appeal_id = post(client, company, "a", "/appeals", appeal_body(decision_id)).json()["id"]
    assert post(client, company, "boss", f"/appeals/{appeal_id}/withdraw", {}).status_code == 403
    done = post(client, company, "a", f"/appeals/{appeal_id}/withdraw", {})
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    assert post(client, company, "a", f"/appeals/{appeal_id}/withdraw", {}).status_code == 409


def test_metrics_on_a_hand_made_set(client: TestClient, engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    with session_scope(engine, readonly=True) as session:
        lead_id = session.get(RoutingDecision, decision_id).lead_id  # type: ignore[union-attr]
    t0 = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    rows = [("a", "east", AppealStatus.UPHELD, 0, 1.0), ("a", "east", AppealStatus.REASSIGNED, 0, 3.0),
            ("b", "east", AppealStatus.OPEN, 1, None), ("s", "south", AppealStatus.RESCORED, 1, 2.0),
            ("s", "south", AppealStatus.WITHDRAWN, 2, None), ("a", "east", AppealStatus.UPHELD, 40, 5.0)]
    with session_scope(engine) as session:
        for who, team, status, day, hours in rows:
            at = t0 + timedelta(days=day)
            session.add(Appeal(decision_id=decision_id, lead_id=lead_id, appellant_id=company.ids[who],
                               team_id=company.teams[team], reason_code="other", reason="x", status=status,
                               created_at=at, decided_at=None if hours is None else at + timedelta(hours=hours)))

    def metrics(who: str, **query: str) -> dict[str, Any]:
        response = client.get("/api/v1/appeals/metrics", params=query, headers=company.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    october = metrics("ops", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert october["overall"] == {"count": 5, "open": 1, "decided": 3, "withdrawn": 1, "median_hours": 2.0,
                                  "mean_hours": 2.0, "outcomes": {"upheld": pytest.approx(1 / 3),
                                                                  "rescored": pytest.approx(1 / 3),
                                                                  "reassigned": pytest.approx(1 / 3)}}
    east, south = october["teams"]
    assert (east["team"], east["count"], east["decided"], east["median_hours"]) == ("华东组", 3, 2, 2.0)
    assert east["outcomes"] == {"upheld": 0.5, "rescored": 0.0, "reassigned": 0.5}
    assert (south["team"], south["count"], south["withdrawn"], south["mean_hours"]) == ("华南组", 2, 1, 2.0)
    assert metrics("ops")["overall"]["count"] == 6
    one_day = metrics("ops", **{"from": "2026-10-06", "to": "2026-10-06"})["overall"]
    assert (one_day["count"], one_day["open"], one_day["decided"]) == (2, 1, 1)
    boss = metrics("boss", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert [t["team"] for t in boss["teams"]] == ["华东组"] and boss["overall"]["count"] == 3
    bad = client.get("/api/v1/appeals/metrics", params={"from": "October"}, headers=company.headers("ops"))
    assert bad.status_code == 422 and error_of(bad)["field"] == "from"
