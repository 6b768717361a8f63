"""The application shell: health, routing misses, and errors that are always JSON, never HTML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand import __version__
from evenhand.app import create_app
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.i18n import t
from evenhand.models import Role
from tests.builders import PASSWORD, Org, make_user
from tests.support import error_of

FRAMING_AND_SNIFFING = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
                        "referrer-policy": "same-origin"}


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


def _protected(response: Any) -> None:
    assert {k: response.headers.get(k) for k in FRAMING_AND_SNIFFING} == FRAMING_AND_SNIFFING, response.headers
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "default-src 'self'" in policy


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/me", 200), ("GET", "/api/v1/nope", 404), ("DELETE", "/api/v1/me", 405), ("GET", "/healthz", 200),
    ("GET", "/api/v1/leads?created_from=0", 422), ("GET", "/openapi.json", 200), ("GET", "/auth/login", 405),
])
def test_every_answer_carries_the_security_headers(client: TestClient, org: Org, method: str, path: str,
                                                   status: int) -> None:
    response = client.request(method, path, headers=org.headers("admin"))
    assert response.status_code == status, response.text
    _protected(response)
    assert "cdn.jsdelivr.net" not in response.headers["content-security-policy"]


def test_an_unexpected_error_carries_the_security_headers(settings: Settings, engine: Engine) -> None:
    app = create_app(settings, engine, ui=False)  # its own: this test adds a route

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-boom")
    assert response.status_code == 500
    _protected(response)


def test_the_api_docs_may_load_swagger_from_its_cdn_and_nothing_else_does(client: TestClient) -> None:
    docs = client.get("/docs")
    _protected(docs)
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]


@pytest.mark.parametrize("method, path, allowed", [
    ("TRACE", "/api/v1/me", {"GET"}), ("TRACE", "/api/v1/departments", {"GET", "POST"}),
    ("CONNECT", "/api/v1/leads/1", {"GET"}), ("PROPFIND", "/api/v1/users/1/presence", {"PUT"}),
    ("TRACE", "/", {"GET", "HEAD"}), ("TRACE", "/leads/1", {"GET", "HEAD"}), ("FOO", "/login", {"GET", "HEAD"}),
    ("TRACE", "/auth/login", {"POST"}), ("TRACE", "/healthz", {"GET"}),
])
def test_a_method_served_nowhere_is_405_json_with_allow(client: TestClient, org: Org, method: str, path: str,
                                                        allowed: set[str]) -> None:
    for headers in ({}, org.headers("admin")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 405, (headers, response.text)
        assert error_of(response)["code"] == "method_not_allowed"
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
        _protected(response)


def test_a_method_served_nowhere_on_an_unknown_api_path_is_404_json(client: TestClient) -> None:
    response = client.request("TRACE", "/api/v1/nope")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


PATH_SAMPLES = {"kpi_id": "lead_conversion"}  # a path parameter of an endpoint with date parameters, filled in


def _date_parameters(app: FastAPI) -> list[tuple[str, str, str | None]]:
    return [(re.sub(r"\{(\w+)\}", lambda m: PATH_SAMPLES[m.group(1)], path), p["name"], _format(p["schema"]))
            for path, item in app.openapi()["paths"].items() for op in item.values()
            for p in op.get("parameters", []) if p["in"] == "query" and _format(p["schema"]) in ("date", "date-time")]


def _format(schema: dict[str, Any]) -> str | None:
    return next((s.get("format") for s in [schema, *schema.get("anyOf", [])] if s.get("format")), None)


NOT_DATES = ["0", "-1", "99999999", "20261127", "1e9", "2026-02-30", "2026-13-01", "1999-12-31", "2101-01-01",
             "0001-01-01", "9999-12-31", "today", "2026-11-27T09:30:00Z"]
NOT_DATETIMES = ["0", "-1", "99999999", "1700000000", "2026-02-30T00:00:00Z", "1999-12-31T23:59:59Z",
                 "2101-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "now"]


def test_every_date_query_parameter_takes_iso_dates_in_sane_years_only(app: FastAPI, client: TestClient,
                                                                       org: Org) -> None:
    parameters = _date_parameters(app)
    assert len(parameters) >= 8, parameters
    admin = org.headers("admin") | {"Accept-Language": "en"}
    for path, name, kind in parameters:
        for value in NOT_DATES if kind == "date" else NOT_DATETIMES:
            response = client.get(path, params={name: value}, headers=admin)
            assert response.status_code == 422, (path, name, value, response.text)
            assert error_of(response)["field"] == name, (path, name, value, response.text)
    by_path: dict[str, list[tuple[str, str | None]]] = {}
    for path, name, kind in parameters:
        by_path.setdefault(path, []).append((name, kind))
    for path, names in by_path.items():  # the first parameter (from, since) earlier than the second
        valid = {name: f"2026-03-0{i + 1}" + ("T09:30:00+08:00" if kind == "date-time" else "")
                 for i, (name, kind) in enumerate(names)}
        response = client.get(path, params=valid, headers=admin)
        assert response.status_code == 200, (path, valid, response.text)


def _sign_in(client: TestClient, engine: Engine, origin: str) -> list[str]:
    with session_scope(engine) as session:
        make_user(session, username="alice", role=Role.ADMIN, password=PASSWORD, locale="en")
    response = client.post("/auth/login", data={"username": "alice", "password": PASSWORD},
                           headers={"Origin": origin}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers.get_list("set-cookie")


def test_cookies_are_secure_when_the_request_came_over_https(app: FastAPI, engine: Engine) -> None:
    with TestClient(app, base_url="https://evenhand.example") as client:
        cookies = _sign_in(client, engine, "https://evenhand.example")
    assert len(cookies) == 2  # the session and the language
    assert all("; secure" in c.lower() for c in cookies), cookies


def test_cookies_over_plain_http_are_secure_only_when_configured(app: FastAPI, engine: Engine) -> None:
    with TestClient(app, base_url="http://evenhand.example") as client:
        assert not any("secure" in c.lower() for c in _sign_in(client, engine, "http://evenhand.example"))
    app.state.settings = app.state.settings.model_copy(update={"cookie_secure": True})
    with TestClient(app, base_url="http://evenhand.example") as client:
        response = client.post("/auth/login", data={"username": "alice", "password": PASSWORD},
                               headers={"Origin": "http://evenhand.example"}, follow_redirects=False)
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("; secure" in c.lower() for c in cookies), cookies


def test_two_apps_in_one_process_each_read_their_own_settings(tmp_path: Path) -> None:
    """What a service reads through ``get_settings`` is the serving app's configuration, not the process's."""
    english = create_app(Settings(data_dir=tmp_path, database_url="sqlite://", locale="en"), ui=False)
    chinese = create_app(Settings(data_dir=tmp_path, database_url="sqlite://", locale="zh-CN"), ui=False)
    with TestClient(english) as a, TestClient(chinese) as b:
        said = [client.get("/api/v1/me").json()["error"]["message"] for client in (a, b, a)]
    assert said[0] == said[2] != said[1]
    assert said[0] == t(said[0], locale="en") and said[1] == t(said[0], locale="zh-CN")
