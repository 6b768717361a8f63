"""The scoring model's endpoints under hostile and broken documents: a problem naming its line, never a 500;
checking, previewing and saving a model is for admin and ops."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.leads.scoring.schema import default_text
from tests.builders import Org
from tests.kit.documents import BAD_DATES, BOMB_LINE, BOMBS, BRACKETS
from tests.support import error_of, row_counts

REFUSED = [*((name, body, BOMB_LINE) for name, body in BOMBS.items()), ("brackets", BRACKETS, 2)]


def send(client: TestClient, endpoint: str, body: str, headers: dict[str, str]) -> httpx.Response:
    if endpoint == "validate":
        return client.post("/api/v1/scoring/validate", json={"body": body}, headers=headers)
    if endpoint == "save":
        return client.put("/api/v1/scoring/model", json={"body": body}, headers=headers)
    return client.post("/api/v1/scoring/preview", json={"body": body, "days": 30}, headers=headers)


def where(details: list[dict[str, Any]]) -> list[tuple[str | None, int | None]]:
    return [(d["field"], d["line"]) for d in details]


@pytest.mark.parametrize("endpoint", ["validate", "save", "preview"])
def test_a_document_too_costly_to_read_is_a_422_naming_its_line(client: TestClient, engine: Engine, org: Org,
                                                                endpoint: str) -> None:
    counts = row_counts(engine)
    for name, body, line in REFUSED:
        error = error_of(send(client, endpoint, body, org.headers("ops")))
        assert (error["code"], error["field"], where(error["details"])) == ("invalid", "body", [("", line)]), name
    assert row_counts(engine) == counts


@pytest.mark.parametrize("endpoint", ["save", "preview"])
def test_dates_that_are_no_dates_are_read_as_text_and_checked_by_the_schema(client: TestClient, engine: Engine,
                                                                           org: Org, endpoint: str) -> None:
    counts = row_counts(engine)
    for name, body in BAD_DATES.items():
        response = send(client, endpoint, body, org.headers("admin"))
        assert response.status_code == 422, (name, response.text)
        assert ("starts", 2) in where(error_of(response)["details"]), name
    assert row_counts(engine) == counts


def test_validate_lists_the_problems_of_a_document_with_dates_in_it(client: TestClient, org: Org) -> None:
    for name, body in BAD_DATES.items():
        checked = send(client, "validate", body, org.headers("ops"))
        assert checked.status_code == 200 and checked.json()["valid"] is False, (name, checked.text)
        assert ("starts", 2) in where(checked.json()["problems"]), name


def test_only_admin_and_ops_check_preview_or_save_a_model(client: TestClient, org: Org) -> None:
    for who in ("rep_n1", "sup_a", "auditor"):
        for endpoint in ("validate", "preview"):
            assert send(client, endpoint, BOMBS["bomb-8"], org.headers(who)).status_code == 403, (who, endpoint)
        assert send(client, "save", default_text(), org.headers(who)).status_code == 403, who
        assert client.get("/api/v1/scoring/model", headers=org.headers(who)).status_code == 200, who
    for who in ("ops", "admin"):
        checked = send(client, "validate", default_text(), org.headers(who))
        assert checked.status_code == 200 and checked.json() == {"valid": True, "problems": []}, who
