"""Scoring-model text with characters YAML forbids is a validation problem, not a server error.

Found by tests/test_openapi_fuzz.py.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.builders import Org
from tests.support import row_counts

CONTROL_CHARACTERS = ["\u001f", "rules:\n  - \u0008"]


@pytest.mark.parametrize("text", CONTROL_CHARACTERS, ids=["unit-separator", "backspace-in-rules"])
def test_validate_reports_the_problem(app: FastAPI, org: Org, text: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/scoring/validate", json={"body": text}, headers=org.headers("ops"))
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False and response.json()["problems"]


def test_saving_is_refused_and_writes_nothing(app: FastAPI, engine: Engine, org: Org) -> None:
    counts = row_counts(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.put("/api/v1/scoring/model", json={"body": "\u001f"}, headers=org.headers("admin"))
    assert response.status_code == 422, response.text
    assert row_counts(engine) == counts
