"""A lead may arrive with what its contact did before (site visits, a whitepaper, a webinar): the events are
stored with it, counted on it and in the score it is routed on — so a warm lead can reach the weighted
track at intake (R1.1, R1.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.builders import Org
from tests.support import error_of, row_counts

COLD = {"source": "website", "external_id": "W-1", "company": "华东精密制造有限公司", "contact_name": "王芳",
        "email": "wang.fang@jingmi.cn", "phone": "13800000001", "title": "采购总监", "industry": "制造业",
        "region": "east", "company_size": 800}
_AGO = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # scores fade with their events' age


def _ago(days: float) -> str:
    return (_AGO - timedelta(days=days)).isoformat().replace("+00:00", "Z")


EVENTS = [{"kind": "whitepaper_download", "occurred_at": _ago(6)},
          {"kind": "webinar", "occurred_at": _ago(2)},
          {"kind": "webinar", "occurred_at": _ago(1)},
          {"kind": "page_view", "occurred_at": _ago(0.25), "dwell_seconds": 240},
          {"kind": "email_click", "occurred_at": _ago(0.125)}]


def _post(client: TestClient, org: Org, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=body, headers=org.headers("ops"))
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_events_brought_with_a_lead_are_stored_counted_and_scored(client: TestClient, org: Org) -> None:
    cold = _post(client, org, COLD)
    warm = _post(client, org, {**COLD, "external_id": "W-2", "email": "li.na@jingmi.cn", "phone": "13800000002",
                               "events": EVENTS})
    assert (warm["downloads"], warm["webinars"], warm["page_views"], warm["email_clicks"]) == (1, 2, 1, 1)
    assert warm["dwell_seconds"] == 240 and cold["webinars"] == 0
    assert warm["score"] >= 80 > cold["score"]  # the default model: a perfect profile alone stays below 80
    assert (cold["assignment"]["track"], warm["assignment"]["track"]) == ("round_robin", "weighted")
    stored = client.get(f"/api/v1/leads/{warm['id']}/events", headers=org.headers("admin")).json()
    assert [e["kind"] for e in stored] == [e["kind"] for e in EVENTS]
    lines = client.get(f"/api/v1/leads/{warm['id']}/score", headers=org.headers("admin")).json()["lines"]
    assert {"下载白皮书", "参加线上研讨会"} <= {line["label"] for line in lines}


def test_a_lead_posted_again_does_not_take_its_events_twice(client: TestClient, org: Org, engine: Engine) -> None:
    first = _post(client, org, {**COLD, "events": EVENTS})
    counts = row_counts(engine)
    again = _post(client, org, {**COLD, "events": EVENTS})
    assert again["id"] == first["id"] and again["webinars"] == 2
    assert row_counts(engine) == counts


def test_a_bad_event_names_its_place_and_nothing_is_written(client: TestClient, org: Org, engine: Engine) -> None:
    counts = row_counts(engine)
    for event, field in [({"kind": "fax"}, "events.1.kind"),
                         ({"kind": "webinar", "dwell_seconds": 30}, "events.1.dwell_seconds"),
                         ({"kind": "webinar", "occurred_at": "2026-11-25 06:00"}, "events.1.occurred_at")]:
        response = client.post("/api/v1/leads", json={**COLD, "events": [EVENTS[0], event]},
                               headers=org.headers("ops"))
        assert response.status_code == 422 and error_of(response)["field"] == field, response.text
    response = client.post("/api/v1/leads", json={**COLD, "events": EVENTS * 101}, headers=org.headers("ops"))
    assert response.status_code == 422 and error_of(response)["field"] == "events"
    assert row_counts(engine) == counts
