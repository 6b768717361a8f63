"""The lead request shapes (``leads.schemas``): a time an event states is refused, naming its place, when it lies
outside the years the API takes — at the edges such a time cannot even be turned into UTC to be stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.builders import Org
from tests.support import error_of, row_counts

LEAD = {"source": "website", "external_id": "W-1", "company": "华东精密制造有限公司"}
# The last second of year 9999 an hour west of UTC is in year 10000 in UTC; the first of year 1 east of it, year 0.
EDGES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z"]


def _event(at: str) -> dict[str, Any]:
    return {"kind": "webinar", "occurred_at": at}


@pytest.mark.parametrize("at", EDGES)
def test_an_event_outside_the_years_is_refused_naming_its_place(client: TestClient, org: Org, engine: Engine,
                                                                at: str) -> None:
    lead_id, ops = org.leads[0].id, org.headers("ops")
    counts = row_counts(engine)
    for path, body, field in [
        (f"/api/v1/leads/{lead_id}/events", _event(at), "occurred_at"),
        (f"/api/v1/leads/{lead_id}/events/batch", {"events": [_event("2026-11-20T02:00:00Z"), _event(at)]},
         "events.1.occurred_at"),
        ("/api/v1/leads", {**LEAD, "events": [_event(at)]}, "events.0.occurred_at"),
    ]:
        response = client.post(path, json=body, headers=ops)
        assert response.status_code == 422 and error_of(response)["field"] == field, response.text
    batch = client.post("/api/v1/leads/batch", json={"leads": [{**LEAD, "events": [_event(at)]}]}, headers=ops)
    assert batch.status_code == 422, batch.text
    assert row_counts(engine) == counts


def test_an_event_at_the_ends_of_the_years_is_taken(client: TestClient, org: Org) -> None:
    lead_id, ops = org.leads[0].id, org.headers("ops")
    for at in ("2000-01-01T00:00:00+08:00", "2100-12-31T23:59:59-05:00"):
        assert client.post(f"/api/v1/leads/{lead_id}/events", json=_event(at), headers=ops).status_code == 201
