"""Activity endpoints beyond visibility: filters and order."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import Org


def test_newest_first(client: TestClient, org: Org) -> None:
    page = client.get("/api/v1/activities", params={"limit": 500}, headers=org.headers("auditor")).json()
    times = [i["occurred_at"] for i in page["items"]]
    assert times == sorted(times, reverse=True) and len(times) == len(org.activities)


def test_filters_by_type_lead_and_rep(client: TestClient, org: Org) -> None:
    headers = org.headers("sup_b")
    emails = client.get("/api/v1/activities", params={"type": "email"}, headers=headers).json()
    assert [(i["rep_id"], i["source_system"]) for i in emails["items"]] == [(org.id("rep_e1"), "outlook")]
    lead = org.leads[0]  # rep_n1's first lead
    by_lead = client.get("/api/v1/activities", params={"lead_id": lead.id}, headers=org.headers("sup_a")).json()
    assert [i["lead_id"] for i in by_lead["items"]] == [lead.id]
    by_rep = client.get("/api/v1/activities", params={"rep_id": org.id("rep_e2")}, headers=headers).json()
    assert {i["rep_id"] for i in by_rep["items"]} == {org.id("rep_e2")}
