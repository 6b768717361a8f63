"""Grants: the hook the performance scores use to open key-account pools to a rep (R1.2, R3.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry, Role
from evenhand.routing import policy_versions, router
from tests.builders import make_user
from tests.routing.test_service import NOW, bearer, company, lead
from tests.support import error_of

KEY_POLICY = """
name: 大客户策略
pools:
  - id: key
    condition: 'lead.company_size != null && lead.company_size >= 300'
    key_account: true
    members: {regions: [east]}
  - id: rest
    members: {regions: [east]}
"""


def test_a_grant_opens_the_key_account_pool_and_its_revocation_closes_it(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        policy_versions.save(session, KEY_POLICY, author=None)
        a = people["a"].id
    ops = bearer(engine, "rep_boss", Role.SUPERVISOR)
    assert client.put(f"/api/v1/users/{a}/grants", json={"grant": "key_account"}, headers=ops).status_code == 403
    with session_scope(engine) as session:
        make_user(session, username="ops1", role=Role.OPS)
    ops = bearer(engine, "ops1", Role.OPS)
    granted = client.put(f"/api/v1/users/{a}/grants", headers=ops,
                         json={"grant": "key_account", "reason": "Q3 绩效前 20%"})
    assert granted.status_code == 200 and granted.json()["granted_by_id"] is not None
    assert [g["grant"] for g in client.get(f"/api/v1/users/{a}/grants", headers=ops).json()] == ["key_account"]

    def big_lead_goes_to(n: int) -> int | None:
        with session_scope(engine) as session:
            big = lead(session, n)
            big.company_size = 800
            return router.route(session, big, now=NOW).rep_id

    assert {big_lead_goes_to(n) for n in range(3)} == {a}  # only the holder may enter the key pool
    assert client.delete(f"/api/v1/users/{a}/grants/key_account", headers=ops).status_code == 204
    assert big_lead_goes_to(9) is None  # nobody holds the grant now: the lead waits
    with session_scope(engine, readonly=True) as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "user_grants")))
    assert actions == ["user_grants.grant", "user_grants.revoke"]


def test_bad_grants_name_the_field(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        make_user(session, username="ops1", role=Role.OPS)
        a = people["a"].id
    ops = bearer(engine, "ops1", Role.OPS)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert error_of(client.put(f"/api/v1/users/{a}/grants", headers=ops,
                               json={"grant": "key_account", "expires_at": past}))["field"] == "expires_at"
    assert error_of(client.put(f"/api/v1/users/{a}/grants", headers=ops, json={"grant": "Key Account"}))[
        "field"] == "grant"
    assert error_of(client.delete(f"/api/v1/users/{a}/grants/nothing", headers=ops))["field"] == "grant"
    assert client.put("/api/v1/users/99999/grants", headers=ops, json={"grant": "key_account"}).status_code == 404
