"""The standards endpoints: the versioned document, validation, preview, and compliance as each caller may see it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry, Role
from evenhand.standards.document import default_text
from tests.builders import bearer, make_user, token_for
from tests.kit.documents import BOMBS
from tests.standards.company import Company, build

API = "/api/v1"


@pytest.fixture
def company(engine: Engine) -> tuple[Company, dict[str, dict[str, str]]]:
    with session_scope(engine) as session:
        c = build(session)
        ops = make_user(session, username="ops", role=Role.OPS)
        auditor = make_user(session, username="auditor", role=Role.AUDITOR)
        session.flush()
        tokens = {"ops": token_for(session, ops), "auditor": token_for(session, auditor),
                  "wang": token_for(session, c.users["wang"]), "li": token_for(session, c.users["li"])}
    return c, {name: bearer(token) for name, token in tokens.items()}


def test_the_active_document_and_its_versions(client: TestClient, company: Any, engine: Engine) -> None:
    _, headers = company
    active = client.get(f"{API}/standards", headers=headers["wang"])
    assert active.status_code == 200 and active.json()["version"] == 1
    assert active.json()["body"] == default_text()
    changed = default_text().replace("within: 48h", "within: 24h")
    refused = client.put(f"{API}/standards", json={"body": changed}, headers=headers["wang"])
    assert refused.status_code == 403
    saved = client.put(f"{API}/standards", json={"body": changed, "note": "一天内"}, headers=headers["ops"])
    assert saved.status_code == 200 and saved.json()["version"] == 2
    listed = client.get(f"{API}/standards/versions", headers=headers["auditor"]).json()
    assert [(v["version"], v["active"]) for v in listed] == [(2, True), (1, False)]
    assert client.get(f"{API}/standards/versions/1", headers=headers["ops"]).json()["body"] == default_text()
    with session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "standards.saved")).one()
        assert "-    within: 48h" in entry.payload["diff"] and "+    within: 24h" in entry.payload["diff"]


def test_validation_names_every_problem_with_its_line(client: TestClient, company: Any) -> None:
    _, headers = company
    text = default_text().replace("within: 7d", "within: 7 weeks").replace("[meeting, visit]", "[meeting, fax]")
    found = client.post(f"{API}/standards/validate", json={"body": text}, headers=headers["ops"]).json()
    assert found["valid"] is False
    assert {(p["field"], p["line"]) for p in found["problems"]} == {
        ("stages.needs_analysis.within", 21), ("stages.needs_analysis.all_of.0.any_of.1.type", 23)}
    saved = client.put(f"{API}/standards", json={"body": text}, headers=headers["ops"])
    assert saved.status_code == 422 and saved.json()["error"]["field"] == "stages.needs_analysis.within"
    bomb = client.post(f"{API}/standards/validate", json={"body": next(iter(BOMBS.values()))},
                       headers=headers["ops"])
    assert bomb.status_code == 422
    assert client.post(f"{API}/standards/validate", json={"body": text},
                       headers=headers["wang"]).status_code == 403


def test_preview_beside_the_active_version(client: TestClient, company: Any) -> None:
    _, headers = company
    draft = default_text().replace("all_of: [call, email, note]", "all_of: [call]")
    result = client.post(f"{API}/standards/preview", json={"body": draft, "days": 92}, headers=headers["ops"])
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["current"]["stages"]["first_contact"]["met"] == 2
    assert body["candidate"]["stages"]["first_contact"]["met"] == 3
    assert {t["team"] for t in body["candidate"]["teams"]} == {"North", "South"}


def test_a_deal_and_a_lead_as_their_readers_see_them(client: TestClient, company: Any) -> None:
    c, headers = company
    deal = client.get(f"{API}/opportunities/{c.deals['E'].id}/compliance", headers=headers["li"]).json()
    assert [(e["stage"], e["status"]) for e in deal["entries"]] == [
        ("qualification", "missed"), ("needs_analysis", "missed"), ("proposal", "overdue")]
    proposal = deal["current"]
    assert [line["activity_rep"] for line in proposal["lines"]] == ["Zhao", None]
    assert proposal["lines"][0]["actions"] == ["email"] and proposal["lines"][1]["actions"] == ["meeting", "call"]
    assert client.get(f"{API}/opportunities/{c.deals['E'].id}/compliance",
                      headers=headers["wang"]).status_code == 404
    lead = client.get(f"{API}/leads/{c.leads['A'].id}/compliance", headers=headers["wang"]).json()
    assert lead["current"]["status"] == "met" and lead["current"]["stage"] == "first_contact"
    assert client.get(f"{API}/leads/{c.leads['A'].id}/compliance", headers=headers["li"]).status_code == 404


def test_figures_over_the_records_the_caller_reads(client: TestClient, company: Any) -> None:
    c, headers = company
    query = {"since": "2026-11-01T00:00:00+08:00", "until": "2026-11-30T00:00:00+08:00"}
    everyone = client.get(f"{API}/standards/compliance", params=query, headers=headers["auditor"]).json()
    assert everyone["overall"]["entries"] == 8 and everyone["overall"]["met"] == 3
    assert {r["rep"] for r in everyone["reps"]} == {"Wang", "Li", "Zhao"}
    own = client.get(f"{API}/standards/compliance", params=query, headers=headers["wang"]).json()
    assert [r["rep"] for r in own["reps"]] == ["Wang"] and own["overall"]["met"] == 2
    team = client.get(f"{API}/standards/compliance", params={**query, "team_id": c.teams["south"].id},
                      headers=headers["ops"]).json()
    assert [t["team"] for t in team["teams"]] == ["South"]
    long = client.get(f"{API}/standards/compliance", params={"since": "2024-01-01T00:00:00Z"}, headers=headers["ops"])
    assert long.status_code == 422 and long.json()["error"]["field"] == "since"
