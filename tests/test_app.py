"""The application shell: health, routing misses, and errors that are always JSON, never HTML."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand import __version__
from evenhand.app import create_app
from evenhand.config import Settings
from tests.builders import Org
from tests.support import error_of


def test_health_reports_the_version(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["version"]) == ("ok", __version__)


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/nope"), ("POST", "/api/v1/nope/deeper"), ("DELETE", "/api/v1/leads/1/owner"),
    ("GET", "/api/v1/"), ("GET", "/api/v1/departments/"), ("GET", "/nope"),
])
def test_unknown_route_is_404_json(client: TestClient, org: Org, method: str, path: str) -> None:
    for headers in ({}, org.headers("admin")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 404, (headers, response.text)
        assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/v1/me", {"GET"}),
    ("PUT", "/api/v1/departments", {"GET", "POST"}),
    ("PUT", "/api/v1/departments/1", {"GET", "PATCH", "DELETE"}),
    ("POST", "/api/v1/leads/1", {"GET"}),
    ("DELETE", "/api/v1/opportunities/1/stages", {"GET"}),
    ("PATCH", "/api/v1/users/1/presence", {"PUT"}),
    ("GET", "/auth/login", {"POST"}),
])
def test_wrong_method_is_405_json_with_allow(client: TestClient, org: Org, method: str, path: str,
                                             allowed: set[str]) -> None:
    for headers in ({}, org.headers("admin")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 405, (headers, response.text)
        assert error_of(response)["code"] == "method_not_allowed"
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


def test_an_unexpected_error_is_a_bare_500_json(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine, ui=False)  # its own: this test adds a route

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError("secret detail that must not leak")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-boom")
    assert response.status_code == 500
    assert error_of(response) == {"code": "internal", "message": "internal error", "field": None}
    assert "secret detail" not in response.text and "Traceback" not in response.text


def test_openapi_describes_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/me", "/api/v1/leads", "/api/v1/leads/{lead_id}", "/api/v1/opportunities",
                 "/api/v1/activities", "/api/v1/users", "/api/v1/teams/{team_id}/members"):
        assert "get" in paths[path], path
    assert not any("{rest" in p for p in paths), "the catch-all must stay out of the schema"
    assert not any(p.startswith("/auth/") for p in paths)
