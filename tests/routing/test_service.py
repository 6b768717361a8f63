"""Routing with the database: leads routed on intake, evidence in the audit chain, holds and replay (R1.2–R1.3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.auth.service import create_token
from evenhand.db import session_scope
from evenhand.kit import audit_check
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Department, HeldLead, Lead, Presence, Region, Role, Team, User
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from evenhand.routing import holds, policy_versions, router, service
from tests.support import error_of

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 11:00 in Shanghai
POLICY = """
name: 测试策略
pools:
  - id: east
    label: 华东
    condition: 'lead.region == "east"'
    members: {regions: [east]}
  - id: rest
    label: 其他
    members: {regions: [south]}
"""


def company(session: Session) -> dict[str, User]:
    dept = Department(code="smb", name="中小企业部")
    east, south = Region(code="east", name="华东"), Region(code="south", name="华南")
    session.add_all([dept, east, south])
    session.flush()
    team = Team(name="华东组", department_id=dept.id, region_id=east.id)
    session.add(team)
    session.flush()
    people = {}
    for name, region, role in (("a", east, Role.REP), ("b", east, Role.REP), ("c", east, Role.REP),
                               ("s", south, Role.REP), ("boss", east, Role.SUPERVISOR)):
        user = org_service.create_user(session, UserCreate(username=f"rep_{name}", display_name=name.upper(), role=role,
                                                           team_id=team.id, password="password-123"), actor=None)
        user.region_id, user.presence, user.working_hours = region.id, Presence.ONLINE, {}
        people[name] = user
    team.supervisor_id = people["boss"].id
    people["boss"].presence = Presence.OFFLINE
    policy_versions.save(session, POLICY, author=None, note="test")
    session.flush()
    return people


def bearer(engine: Engine, username: str, role: Role) -> dict[str, str]:
    with session_scope(engine) as session:
        return {"Authorization": f"Bearer {create_token(session, username=username, role=role)[0]}"}


def lead(session: Session, n: int, region: str = "east") -> Lead:
    data = LeadCreate(source="website", external_id=f"L{n}", company=f"公司{n}", region=region, company_size=50)
    return lead_service.intake(session, data, actor=None, dedup=[]).lead


def test_round_robin_rotates_and_records_replayable_evidence(engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        decisions = [router.route(session, lead(session, n), now=NOW) for n in range(9)]
    counts = Counter(d.rep_id for d in decisions)
    assert set(counts) == {people["a"].id, people["b"].id, people["c"].id}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert all(d.outcome == "assigned" and d.track == "round_robin" and d.pool_id == "east" for d in decisions)
    with session_scope(engine, readonly=True) as session:
        for d in decisions:
            recorded, replayed = service.replay(session, d.id)
            assert recorded.to_dict() == replayed.to_dict()
            assert session.get(Lead, d.lead_id).owner_id == d.rep_id  # type: ignore[union-attr]
        assert audit_check.verify(session)[1] is None


def test_nobody_available_holds_the_lead_until_a_rep_comes_online(engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        people["s"].presence = Presence.OFFLINE
        waiting = lead(session, 1, region="south")
        held = router.route(session, waiting, now=NOW)
        assert (held.outcome, held.rep_id) == ("held", None)
        assert session.get(HeldLead, waiting.id) is not None
        _, payload = service.decision(session, held.id)
        verdict = {v["rep_id"]: v["code"] for v in payload["decision"]["verdicts"]}
        assert verdict[people["s"].id] == "offline"
        assert people["a"].id not in verdict  # outside the pool: not a candidate, not in the evidence
        people["s"].presence = Presence.ONLINE
        released = holds.release_held(session, now=NOW)
        assert [(d.lead_id, d.rep_id, d.kind) for d in released] == [(waiting.id, people["s"].id, "release")]
        assert session.get(HeldLead, waiting.id) is None


def test_intake_api_routes_and_explains_why_not_me(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        people["b"].presence = Presence.OFFLINE
    tokens = {name: bearer(engine, f"rep_{name}", Role.REP) for name in ("a", "b", "s")}
    ops = bearer(engine, "rep_boss", Role.SUPERVISOR)
    body = {"source": "website", "external_id": "API-1", "company": "华东制造", "region": "east"}
    created = client.post("/api/v1/leads", json=body, headers=ops)
    assert created.status_code == 201, created.text
    assignment = created.json()["assignment"]
    assert assignment["outcome"] == "assigned" and assignment["rep_id"] in (people["a"].id, people["c"].id)
    again = client.post("/api/v1/leads", json=body, headers=ops).json()
    assert again["assignment"] is None  # a repeat keeps its owner
    decision_id = assignment["decision_id"]
    mine = client.get(f"/api/v1/routing/decisions/{decision_id}", headers=tokens["b"]).json()
    assert [(v["rep_id"], v["code"]) for v in mine["verdicts"]] == [(people["b"].id, "offline")]
    assert mine["state_before"] is None  # colleagues' details stay with staff
    with session_scope(engine) as session:
        policy_versions.save(session, POLICY.replace("label: 华东", "label: 华东大区"), author=None, note="renamed")
    mine = client.get(f"/api/v1/routing/decisions/{decision_id}", headers=tokens["b"]).json()
    assert (mine["pool_id"], mine["pool_label"]) == ("east", "华东")  # the label of the version that decided
    outsider = client.get(f"/api/v1/routing/decisions/{decision_id}", headers=tokens["s"])
    assert outsider.status_code == 404  # s is outside the pool and cannot read the lead: nothing to see
    assert error_of(client.get("/api/v1/routing/decisions/999", headers=ops))["field"] == "decision_id"


def test_policy_versions_validate_and_name_the_path(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        org_service.create_user(session, UserCreate(username="ops", display_name="运营", role=Role.OPS,
                                                    password="password-123"), actor=None)
    boss, ops = bearer(engine, "rep_boss", Role.SUPERVISOR), bearer(engine, "ops", Role.OPS)
    broken = POLICY.replace('lead.region == "east"', 'lead.regoin == "east"')
    checked = client.post("/api/v1/routing/validate", json={"body": broken}, headers=ops).json()
    assert checked["valid"] is False and checked["problems"][0]["field"].startswith("pools.0.condition")
    assert client.post("/api/v1/routing/validate", json={"body": broken}, headers=boss).status_code == 403
    assert client.put("/api/v1/routing/policy", json={"body": POLICY}, headers=boss).status_code == 403
    assert client.get("/api/v1/routing/policy", headers=boss).json()["version"] == 2


@pytest.mark.parametrize("count", [12])
def test_many_leads_in_one_transaction_stay_balanced(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        company(session)
        for n in range(count):
            router.route(session, lead(session, n), now=NOW)
    with session_scope(engine, readonly=True) as session:
        owners = Counter(session.scalars(select(Lead.owner_id)))
    assert sorted(owners.values()) == [count // 3] * 3
