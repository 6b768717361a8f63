"""The honesty endpoints: list what the caller may read, one flag with its evidence, a decision."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.honesty import service
from tests.builders import Org
from tests.honesty import factory
from tests.honesty.factory import SINCE, UNTIL


@pytest.fixture
def notes(engine: Engine, org: Org) -> dict[str, int]:
    with session_scope(engine) as session:
        built = factory.build(session, org)
        service.scan(session, since=SINCE, until=UNTIL)
    return built


def flag_of(client: TestClient, org: Org, note: int, kind: str = "unbacked") -> dict[str, object]:
    listed = client.get("/api/v1/honesty/flags", headers=org.headers("ops")).json()
    return next(f for f in listed if f["activity_id"] == note and f["kind"] == kind)


def test_a_supervisor_lists_their_teams_open_flags(client: TestClient, org: Org, notes: dict[str, int]) -> None:
    answer = client.get("/api/v1/honesty/flags", params={"status": "open"}, headers=org.headers("sup_a"))
    assert answer.status_code == 200
    assert {(f["activity_id"], f["kind"]) for f in answer.json()} == {
        (notes["fake"], "unbacked"), (notes["copy1"], "duplicate"), (notes["copy2"], "duplicate")}
    only = client.get("/api/v1/honesty/flags", params={"kind": "duplicate"}, headers=org.headers("sup_a")).json()
    assert {f["kind"] for f in only} == {"duplicate"}
    assert client.get("/api/v1/honesty/flags", headers=org.headers("sup_b")).json() == []


def test_a_flag_is_read_with_its_evidence(client: TestClient, org: Org, notes: dict[str, int]) -> None:
    flag = flag_of(client, org, notes["fake"])
    answer = client.get(f"/api/v1/honesty/flags/{flag['id']}", headers=org.headers("sup_a"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["evidence"]["note"]["id"] == notes["fake"] and body["evidence"]["claims"] == ["call"]
    assert body["may_decide"] is True and body["rep_name"] == org.users["rep_n1"].display_name
    own = client.get(f"/api/v1/honesty/flags/{flag['id']}", headers=org.headers("rep_n1"))
    assert own.json()["may_decide"] is False
    missing = client.get(f"/api/v1/honesty/flags/{flag['id']}", headers=org.headers("sup_b"))
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "flag_id"


def test_deciding_once_by_the_supervisor(client: TestClient, org: Org, notes: dict[str, int]) -> None:
    flag = flag_of(client, org, notes["fake"])
    url = f"/api/v1/honesty/flags/{flag['id']}/decision"
    refused = client.post(url, json={"decision": "confirm"}, headers=org.headers("rep_n1"))
    assert refused.status_code == 403
    bad = client.post(url, json={"decision": "maybe"}, headers=org.headers("sup_a"))
    assert bad.status_code == 422
    done = client.post(url, json={"decision": "confirm", "note": "无通话记录"}, headers=org.headers("sup_a"))
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert done.json()["decided_by"] == org.id("sup_a") and done.json()["decision_note"] == "无通话记录"
    again = client.post(url, json={"decision": "dismiss"}, headers=org.headers("ops"))
    assert again.status_code == 409
