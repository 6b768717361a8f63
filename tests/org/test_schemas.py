"""The organisation's request shapes (``org.schemas``): a grant's expiry outside the years the API takes is refused
naming the field — at the edges such a time cannot even be turned into UTC to be stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.builders import Org
from tests.support import error_of, row_counts


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-01:00", "2101-01-01T00:00:00Z"])
def test_a_grant_expiring_outside_the_years_is_refused(client: TestClient, org: Org, engine: Engine,
                                                       expires_at: str) -> None:
    counts = row_counts(engine)
    response = client.put(f"/api/v1/users/{org.id('rep_n1')}/grants", headers=org.headers("admin"),
                          json={"grant": "key_account", "expires_at": expires_at})
    assert response.status_code == 422 and error_of(response)["field"] == "expires_at", response.text
    assert row_counts(engine) == counts


def test_a_grant_expiring_at_the_end_of_the_years_is_given(client: TestClient, org: Org) -> None:
    response = client.put(f"/api/v1/users/{org.id('rep_n1')}/grants", headers=org.headers("admin"),
                          json={"grant": "key_account", "expires_at": "2100-12-31T23:00:00-05:00"})
    assert response.status_code == 200, response.text
