"""Who reads whose leads, opportunities and activities — through the API and through ``readable``.

The expectations are written out by hand from the rule (rep: own; supervisor: own plus the
members of every team they supervise; admin, ops, auditor: everything) rather than recomputed,
so a wrong rule in the code cannot also be the rule in the test.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.activities import repository as activity_repo
from evenhand.auth import service as auth_service
from evenhand.db import session_scope
from evenhand.leads import repository as lead_repo
from evenhand.models import Role, User
from evenhand.opportunities import repository as opportunity_repo
from tests.builders import RECORD_OWNERS, Org, bearer, token_for

EVERYONE = {*RECORD_OWNERS, None}
VISIBLE_OWNERS: dict[str, set[str | None]] = {
    "rep_n1": {"rep_n1"},
    "rep_e2": {"rep_e2"},
    "rep_solo": {"rep_solo"},
    "sup_a": {"sup_a", "rep_n1", "rep_n2", "rep_s1"},
    "sup_b": {"sup_b", "rep_e1", "rep_e2"},
    "ops": EVERYONE,
    "admin": EVERYONE,
    "auditor": EVERYONE,
}
RESOURCES: dict[str, tuple[str, str, ModuleType]] = {
    # path: (Org attribute with the records, owner attribute, repository)
    "leads": ("leads", "owner_id", lead_repo),
    "opportunities": ("opportunities", "owner_id", opportunity_repo),
    "activities": ("activities", "rep_id", activity_repo),
}


def expected_ids(org: Org, resource: str, viewer: str) -> set[int]:
    records, owner_attr, _ = RESOURCES[resource]
    return {r.id for r in getattr(org, records)
            if org.usernames({getattr(r, owner_attr)}) <= VISIBLE_OWNERS[viewer]}


def all_ids(org: Org, resource: str) -> set[int]:
    return {r.id for r in getattr(org, RESOURCES[resource][0])}


def listed(client: TestClient, org: Org, resource: str, viewer: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/{resource}", headers=org.headers(viewer), params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()


class TestOrgFixture:
    def test_scopes_differ(self, org: Org) -> None:
        """Guards the other tests: every viewer's scope is a proper, non-empty part of the whole."""
        for resource in RESOURCES:
            whole = all_ids(org, resource)
            for viewer, owners in VISIBLE_OWNERS.items():
                seen = expected_ids(org, resource, viewer)
                assert seen, (resource, viewer)
                assert (seen == whole) == (owners is EVERYONE), (resource, viewer)


@pytest.mark.parametrize("resource", list(RESOURCES))
@pytest.mark.parametrize("viewer", list(VISIBLE_OWNERS))
def test_api_lists_the_scope_and_hides_the_rest(client: TestClient, org: Org, resource: str, viewer: str) -> None:
    want = expected_ids(org, resource, viewer)
    page = listed(client, org, resource, viewer)
    assert {item["id"] for item in page["items"]} == want
    assert page["total"] == len(want)
    for record_id in sorted(all_ids(org, resource)):
        response = client.get(f"/api/v1/{resource}/{record_id}", headers=org.headers(viewer))
        if record_id in want:
            assert response.status_code == 200, (record_id, response.text)
            assert response.json()["id"] == record_id
        else:
            assert response.status_code == 404, (record_id, response.text)
            assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("viewer", list(VISIBLE_OWNERS))
def test_readable_matches_the_rule(engine: Engine, org: Org, viewer: str) -> None:
    with session_scope(engine, readonly=True) as session:
        principal = auth_service.principal_for(session, session.get_one(User, org.id(viewer)))
        for resource, (_, _, repo) in RESOURCES.items():
            got = {row.id for row in session.scalars(repo.readable(principal))}
            assert got == expected_ids(org, resource, viewer), resource


class TestFiltersStayInsideTheScope:
    def test_owner_filter_cannot_widen_a_reps_view(self, client: TestClient, org: Org) -> None:
        page = listed(client, org, "leads", "rep_n1", owner_id=org.id("rep_e1"))
        assert page["items"] == [] and page["total"] == 0

    def test_rep_filter_cannot_widen_a_supervisors_view(self, client: TestClient, org: Org) -> None:
        page = listed(client, org, "activities", "sup_a", rep_id=org.id("rep_e1"))
        assert page["total"] == 0

    def test_owner_filter_narrows_a_supervisors_view(self, client: TestClient, org: Org) -> None:
        page = listed(client, org, "opportunities", "sup_a", owner_id=org.id("rep_s1"))
        assert {item["owner_id"] for item in page["items"]} == {org.id("rep_s1")}
        assert page["total"] == 1


class TestNarrowTokens:
    def test_supervisor_with_a_rep_token_sees_only_their_own(self, engine: Engine, client: TestClient,
                                                             org: Org) -> None:
        with session_scope(engine) as session:
            token = token_for(session, org.users["sup_a"], Role.REP)
        response = client.get("/api/v1/leads", headers=bearer(token), params={"limit": 500})
        assert {i["owner_id"] for i in response.json()["items"]} == {org.id("sup_a")}

    def test_admin_with_a_supervisor_token_supervises_nothing(self, engine: Engine, client: TestClient,
                                                              org: Org) -> None:
        with session_scope(engine) as session:
            token = token_for(session, org.users["admin"], Role.SUPERVISOR)
        response = client.get("/api/v1/leads", headers=bearer(token), params={"limit": 500})
        assert response.status_code == 200
        assert response.json()["total"] == 0
