"""Batch intake, duplicates and behaviour events through the API, on SQLite and PostgreSQL (R1.1)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import BehaviourEvent, Lead
from tests.builders import Org
from tests.support import error_of, row_counts


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {"source": "website", "external_id": f"W-{n}", "company": f"华东制造{n}有限公司", "industry": "制造业",
            "region": "east", "company_size": 300, "title": "采购经理", "phone": f"1380000{n:04d}", **extra}


def test_batch_creates_scores_and_links_duplicates(client: TestClient, org: Org) -> None:
    rows = [lead(1, email="li@hd.cn"), lead(2, email="LI@HD.CN "), lead(3), lead(1)]
    response = client.post("/api/v1/leads/batch", json={"leads": rows}, headers=org.headers("ops"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["existing"], body["rejected"]) == (3, 1, [])
    first, second, third, repeat = body["items"]
    assert second["duplicate_of_id"] == first["id"]  # same email, different case and spacing
    assert third["duplicate_of_id"] is None and repeat["id"] == first["id"] and not repeat["created"]
    assert all(isinstance(item["score"], int) and 0 <= item["score"] <= 100 for item in body["items"])


def test_one_bad_row_rejects_the_batch_and_names_row_and_field(client: TestClient, engine: Engine, org: Org) -> None:
    before = row_counts(engine)
    rows = [lead(1), lead(2, email="not-an-email"), lead(3, company_size="many")]
    response = client.post("/api/v1/leads/batch", json={"leads": rows}, headers=org.headers("ops"))
    error = error_of(response)
    assert response.status_code == 422
    assert error["field"] == "leads.1.email"
    assert [(d["row"], d["field"]) for d in error["details"]] == [(2, "leads.1.email"), (3, "leads.2.company_size")]
    assert row_counts(engine) == before  # nothing half-written, not even an audit entry


def test_skip_invalid_keeps_the_good_rows_and_lists_the_rest(client: TestClient, org: Org) -> None:
    rows = [lead(1), {"source": "website", "external_id": "X"}, lead(3)]
    body = client.post("/api/v1/leads/batch", json={"leads": rows, "skip_invalid": True},
                       headers=org.headers("ops")).json()
    assert body["created"] == 2
    assert body["rejected"] == [{"row": 2, "field": "company", "message": "必填"}]
    assert [item["row"] for item in body["items"]] == [1, 3]


def test_oversize_and_empty_batches_are_refused(client: TestClient, org: Org) -> None:
    too_many = client.post("/api/v1/leads/batch", json={"leads": [lead(1)] * 10_001}, headers=org.headers("ops"))
    assert too_many.status_code == 422 and error_of(too_many)["field"] == "leads"
    empty = client.post("/api/v1/leads/batch", json={"leads": []}, headers=org.headers("ops"))
    assert empty.status_code == 422


def test_auditors_cannot_take_in_leads(client: TestClient, engine: Engine, org: Org) -> None:
    before = row_counts(engine)
    assert client.post("/api/v1/leads/batch", json={"leads": [lead(1)]}, headers=org.headers("auditor")).status_code \
        == 403
    assert row_counts(engine) == before


def test_events_update_aggregates_and_the_score(client: TestClient, engine: Engine, org: Org) -> None:
    created = client.post("/api/v1/leads", json=lead(7), headers=org.headers("ops")).json()
    events = [{"kind": "page_view", "dwell_seconds": 200}, {"kind": "page_view", "dwell_seconds": 30},
              {"kind": "whitepaper_download"}, {"kind": "webinar"}]
    after = client.post(f"/api/v1/leads/{created['id']}/events/batch", json={"events": events},
                        headers=org.headers("ops"))
    assert after.status_code == 201, after.text
    lead_now = after.json()
    assert (lead_now["page_views"], lead_now["dwell_seconds"], lead_now["downloads"], lead_now["webinars"]) == \
        (2, 230, 1, 1)
    assert lead_now["score"] > created["score"]
    score = client.get(f"/api/v1/leads/{created['id']}/score", headers=org.headers("ops")).json()
    labels = {line["label"] for line in score["lines"]}
    assert {"下载白皮书", "参加线上研讨会"} <= labels
    assert round(sum(line["points"] for line in score["lines"])) == score["score"]
    timeline = client.get(f"/api/v1/leads/{created['id']}/events", headers=org.headers("ops")).json()
    assert [e["kind"] for e in timeline].count("page_view") == 2


def test_dwell_time_only_on_page_views_and_nothing_saved(client: TestClient, engine: Engine, org: Org) -> None:
    created = client.post("/api/v1/leads", json=lead(8), headers=org.headers("ops")).json()
    bad = client.post(f"/api/v1/leads/{created['id']}/events/batch",
                      json={"events": [{"kind": "page_view", "dwell_seconds": 5},
                                       {"kind": "webinar", "dwell_seconds": 60}]}, headers=org.headers("ops"))
    assert bad.status_code == 422 and error_of(bad)["field"] == "events.1.dwell_seconds"
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(BehaviourEvent)).all() == []
        assert session.get(Lead, created["id"]).page_views == 0  # type: ignore[union-attr]


def test_score_distribution_per_source_and_week(client: TestClient, org: Org) -> None:
    client.post("/api/v1/leads/batch", json={"leads": [lead(1), lead(2), lead(3, source="partner")]},
                headers=org.headers("ops"))
    weeks = client.get("/api/v1/leads/score-distribution", headers=org.headers("ops")).json()
    by_source = {w["source"]: w for w in weeks}
    assert by_source["website"]["scored"] == 2 and by_source["partner"]["scored"] == 1
    assert sum(by_source["website"]["bands"].values()) == 2


def test_list_filters_by_score_band_region_and_search(client: TestClient, org: Org) -> None:
    client.post("/api/v1/regions", json={"code": "north", "name": "华北"}, headers=org.headers("admin"))
    client.post("/api/v1/leads/batch", json={"leads": [lead(1), lead(2, region="north", company="北方物流")]},
                headers=org.headers("ops"))
    headers = org.headers("ops")
    north = client.get("/api/v1/leads", params={"region": "north"}, headers=headers).json()
    assert [i["company"] for i in north["items"]] == ["北方物流"]
    found = client.get("/api/v1/leads", params={"q": "物流"}, headers=headers).json()
    assert [i["company"] for i in found["items"]] == ["北方物流"]
    high = client.get("/api/v1/leads", params={"score_min": 101}, headers=headers)
    assert high.status_code == 422 and error_of(high)["field"] == "score_min"
