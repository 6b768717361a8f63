"""The scorecard endpoints: cards live and frozen, closing and re-opening a period, the templates document; status
codes and errors that name their field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from tests.builders import Org
from tests.performance import company

CARDS = "/api/v1/scorecards"
PERIOD = "/api/v1/scorecards/periods/2026-10"


@pytest.fixture
def sold(engine: Engine, org: Org) -> Org:
    with session_scope(engine) as session:
        company.build(session, org)
    return org


def cards(client: TestClient, org: Org, who: str = "ops", **params: object) -> list[dict[str, Any]]:
    answer = client.get(CARDS, params={"period": "2026-10", **params}, headers=org.headers(who))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_cards_live_then_frozen(client: TestClient, sold: Org) -> None:
    live = cards(client, sold)
    assert live[0]["name"] == "Rep N1" and live[0]["total"] == 100 and live[0]["revision"] == 0
    assert live[0]["metrics"][0]["metric"] == "cash_collected" and live[0]["template_label"]["en"] == "Standard"
    closed = client.post(f"{PERIOD}/close", headers=sold.headers("ops"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["revisions"] == [1]
    frozen = cards(client, sold)
    assert frozen[0]["frozen"] is True and [c["total"] for c in frozen] == [c["total"] for c in live]
    assert cards(client, sold, revision=1) == frozen
    assert client.get(PERIOD, headers=sold.headers("rep_e1")).json()["revision"] == 1


def test_a_rep_reads_their_team_places_only(client: TestClient, sold: Org) -> None:
    seen = {c["name"]: c for c in cards(client, sold, "rep_n2")}
    assert set(seen) == {"Rep N1", "Rep N2", "Sup A"}
    assert seen["Rep N1"]["metrics"] == [] and seen["Rep N2"]["metrics"]
    assert cards(client, sold, "rep_n2", team_id=sold.teams["east"].id) == []


@pytest.mark.parametrize(("params", "field"), [({"period": "2026-13"}, "period"), ({"period": "2026-10",
                                                                                   "revision": 4}, "revision")])
def test_bad_queries_name_their_field(client: TestClient, sold: Org, params: dict[str, object], field: str) -> None:
    answer = client.get(CARDS, params=params, headers=sold.headers("ops"))
    assert answer.status_code in (404, 422) and answer.json()["error"]["field"] == field


def test_closing_is_refused_naming_the_period(client: TestClient, sold: Org) -> None:
    assert client.post(f"{PERIOD}/close", headers=sold.headers("sup_a")).status_code == 403
    assert client.post(f"{PERIOD}/close", headers=sold.headers("auditor")).status_code == 403
    future = client.post("/api/v1/scorecards/periods/2099-Q1/close", headers=sold.headers("ops"))
    assert future.status_code == 422 and future.json()["error"]["field"] == "period"
    wrong = client.post("/api/v1/scorecards/periods/2026-Q5/close", headers=sold.headers("ops"))
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "period"
    assert client.post(f"{PERIOD}/close", headers=sold.headers("admin")).status_code == 200
    again = client.post(f"{PERIOD}/close", headers=sold.headers("ops"))
    assert again.status_code == 409 and again.json()["error"]["field"] == "period"


def test_reopen_needs_a_reason_and_a_closed_period(client: TestClient, sold: Org) -> None:
    not_closed = client.post(f"{PERIOD}/reopen", json={"reason": "late payment"}, headers=sold.headers("ops"))
    assert not_closed.status_code == 409 and not_closed.json()["error"]["field"] == "period"
    client.post(f"{PERIOD}/close", headers=sold.headers("ops"))
    empty = client.post(f"{PERIOD}/reopen", json={"reason": ""}, headers=sold.headers("ops"))
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "reason"
    reopened = client.post(f"{PERIOD}/reopen", json={"reason": "late payment"}, headers=sold.headers("ops"))
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["revision"] == 1 and cards(client, sold)[0]["revision"] == 0
    assert client.post(f"{PERIOD}/close", headers=sold.headers("ops")).json()["revisions"] == [1, 2]


def test_the_templates_document(client: TestClient, sold: Org) -> None:
    active = client.get(f"{CARDS}/templates", headers=sold.headers("rep_n1"))
    assert active.status_code == 200 and active.json()["version"] == 2 and active.json()["name"] == "测试考核"
    bad = company.TEMPLATES.replace("target: 2, cap: 150", "target: 2, cap: 200")
    checked = client.post(f"{CARDS}/templates/validate", json={"body": bad}, headers=sold.headers("ops"))
    assert checked.json()["valid"] is False
    assert checked.json()["problems"][0] == {"field": "metrics.new_contracts.cap", "line": 4,
                                             "message": checked.json()["problems"][0]["message"]}
    refused = client.put(f"{CARDS}/templates", json={"body": bad, "note": "x"}, headers=sold.headers("ops"))
    assert refused.status_code == 422
    assert client.put(f"{CARDS}/templates", json={"body": company.TEMPLATES, "note": "x"},
                      headers=sold.headers("sup_a")).status_code == 403
    saved = client.put(f"{CARDS}/templates", json={"body": company.TEMPLATES.replace("测试考核", "考核 v3"),
                                                   "note": "renamed"}, headers=sold.headers("ops"))
    assert saved.status_code == 200 and saved.json()["version"] == 3
    assert [v["version"] for v in client.get(f"{CARDS}/templates/versions",
                                             headers=sold.headers("ops")).json()] == [3, 2, 1]
