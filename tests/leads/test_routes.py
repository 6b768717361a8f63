"""Lead endpoints beyond visibility (see tests/auth/test_visibility.py): filters, order, intake."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import LeadStatus
from tests.builders import Org, make_lead
from tests.support import audit_actions, audit_entries, error_of, row_counts

INTAKE = {"source": "webform", "external_id": "F-1001", "company": "华东精密制造有限公司",
          "contact_name": "王芳", "email": "wang.fang@example.cn", "company_size": 320}


def test_newest_first_and_paged(client: TestClient, org: Org) -> None:
    headers = org.headers("ops")
    everything = client.get("/api/v1/leads", params={"limit": 500}, headers=headers).json()
    created = [item["created_at"] for item in everything["items"]]
    assert created == sorted(created, reverse=True)
    second_page = client.get("/api/v1/leads", params={"limit": 3, "offset": 3}, headers=headers).json()
    assert [i["id"] for i in second_page["items"]] == [i["id"] for i in everything["items"][3:6]]
    assert (second_page["total"], second_page["limit"], second_page["offset"]) == (len(org.leads), 3, 3)


def test_filters_by_status_and_source(client: TestClient, engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        lead = make_lead(session, owner=org.users["rep_n1"], source="wecom", status=LeadStatus.QUALIFIED)
    headers = org.headers("rep_n1")
    by_status = client.get("/api/v1/leads", params={"status": "qualified"}, headers=headers).json()
    by_source = client.get("/api/v1/leads", params={"source": "wecom"}, headers=headers).json()
    assert [i["id"] for i in by_status["items"]] == [i["id"] for i in by_source["items"]] == [lead.id]
    unowned = client.get("/api/v1/leads", params={"status": "new"}, headers=org.headers("admin")).json()
    assert [i["owner_id"] for i in unowned["items"]] == [None]


class TestIntake:
    def test_creates_once_and_answers_repeats_with_the_same_lead(self, client: TestClient, engine: Engine,
                                                                 org: Org) -> None:
        before = len(audit_entries(engine))
        first = client.post("/api/v1/leads", json=INTAKE, headers=org.headers("ops"))
        assert first.status_code == 201, first.text
        lead = first.json()
        assert (lead["company"], lead["status"], lead["owner_id"]) == (INTAKE["company"], "new", None)
        again = client.post("/api/v1/leads", json={**INTAKE, "company": "Changed"}, headers=org.headers("ops"))
        assert again.status_code == 200
        assert again.json()["id"] == lead["id"] and again.json()["company"] == INTAKE["company"]
        assert audit_actions(engine, before) == [("leads.intake", str(lead["id"]), org.id("ops")),
                                                 ("routing.intake", str(lead["id"]), org.id("ops"))]

    def test_the_auditor_cannot_create_leads(self, client: TestClient, engine: Engine, org: Org) -> None:
        counts = row_counts(engine)
        response = client.post("/api/v1/leads", json=INTAKE, headers=org.headers("auditor"))
        assert response.status_code == 403
        assert row_counts(engine) == counts

    @pytest.mark.parametrize("change, field", [({"source": ""}, "source"), ({"email": "nope"}, "email"),
                                               ({"company_size": -1}, "company_size"), ({"owner_id": 1}, "owner_id")])
    def test_bad_intake_names_the_field(self, client: TestClient, engine: Engine, org: Org, change: dict[str, object],
                                        field: str) -> None:
        counts = row_counts(engine)
        response = client.post("/api/v1/leads", json={**INTAKE, **change}, headers=org.headers("ops"))
        assert response.status_code == 422
        assert error_of(response)["field"] == field
        assert row_counts(engine) == counts
