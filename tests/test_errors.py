"""Bad input is refused whole, with ``{"error": {"code", "message", "field"}}`` naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.builders import Org
from tests.support import error_of, row_counts

API = "/api/v1"
USER = {"username": "new.rep", "display_name": "New Rep"}


def _ids(org: Org) -> dict[str, int]:
    return {"sales": org.departments["sales"].id, "ka": org.departments["ka"].id, "north": org.teams["north"].id,
            "rep": org.id("rep_n1"), "region": org.region.id if org.region else 0}


# (method, path, body, status, field); paths and bodies are formatted with the org's ids.
BAD_INPUT: list[tuple[str, str, Any, int, str]] = [
    ("POST", "/departments", {"name": "No code"}, 422, "code"),
    ("POST", "/departments", {"code": "has space", "name": "x"}, 422, "code"),
    ("POST", "/departments", {"code": "OK", "name": ""}, 422, "name"),
    ("POST", "/departments", {"code": "OK", "name": "x", "colour": "red"}, 422, "colour"),
    ("POST", "/regions", {"code": 7, "name": "x"}, 422, "code"),
    ("POST", "/teams", {"name": "T", "department_id": "abc"}, 422, "department_id"),
    ("POST", "/users", {**USER, "role": "king"}, 422, "role"),
    ("POST", "/users", {**USER, "level": "emperor"}, 422, "level"),
    ("POST", "/users", {"display_name": "No name"}, 422, "username"),
    ("POST", "/users", {**USER, "username": "a b"}, 422, "username"),
    ("POST", "/users", {**USER, "working_hours": {"mon": [["9:00", "18:00"]]}}, 422, "working_hours"),
    ("POST", "/users", {**USER, "working_hours": {"mon": [["09:00", "25:00"]]}}, 422, "working_hours"),
    ("POST", "/users", {**USER, "working_hours": {"funday": [["09:00", "18:00"]]}}, 422, "working_hours"),
    ("POST", "/users", {**USER, "timezone": "Mars/Olympus_Mons"}, 422, "timezone"),
    ("POST", "/users", {**USER, "timezone": "Asia/Shanghai/"}, 422, "timezone"),
    ("POST", "/users", {**USER, "monthly_quota": -1}, 422, "monthly_quota"),
    ("POST", "/users", {**USER, "email": "not-an-email"}, 422, "email"),
    ("POST", "/users", {**USER, "password": "short"}, 422, "password"),
    ("POST", "/users", {**USER, "max_open_leads": "many"}, 422, "max_open_leads"),
    ("POST", "/users", {**USER, "username": "rep_n1"}, 409, "username"),
    ("POST", "/departments", {"code": "SALES", "name": "Again"}, 409, "code"),
    ("POST", "/product-lines", {"code": "P", "name": "p"}, 201, ""),  # control: valid, and it writes
    ("PATCH", "/departments/{ka}", {"code": "SALES"}, 409, "code"),
    ("POST", "/teams", {"name": "North", "department_id": "{sales}"}, 409, "name"),
    ("PATCH", "/users/{rep}", {"display_name": None}, 422, "display_name"),
    ("PATCH", "/users/{rep}", {"role": None}, 422, "role"),
    ("PATCH", "/users/{rep}", {"working_hours": {"sat": [["10:00", "10:00"]]}}, 422, "working_hours"),
    ("PATCH", "/users/{rep}", {"username": "renamed"}, 422, "username"),
    ("PUT", "/users/{rep}/presence", {"presence": "asleep"}, 422, "presence"),
    ("PUT", "/users/{rep}/presence", {}, 422, "presence"),
    ("POST", "/users/{rep}/leaves", {"starts_on": "2026-05-08", "ends_on": "2026-05-04"}, 422, "ends_on"),
    ("POST", "/users/{rep}/leaves", {"starts_on": "2026-02-30", "ends_on": "2026-03-01"}, 422, "starts_on"),
    ("PATCH", "/departments/999", {"name": "x"}, 404, "id"),
    ("DELETE", "/teams/999", None, 404, "id"),
    ("GET", "/departments/0", None, 422, "obj_id"),
    ("GET", "/users/abc", None, 422, "user_id"),
    ("GET", "/leads?status=bogus", None, 422, "status"),
    ("GET", "/leads?limit=0", None, 422, "limit"),
    ("GET", "/activities?limit=501", None, 422, "limit"),
    ("GET", "/opportunities?offset=-1", None, 422, "offset"),
    ("GET", "/opportunities?stage=closed", None, 422, "stage"),
]


def _format(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _format(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method, path, body, status, field", BAD_INPUT,
                         ids=[f"{m} {p} {f or s}" for m, p, _, s, f in BAD_INPUT])
def test_bad_input_names_the_field_and_writes_nothing(client: TestClient, engine: Engine, org: Org, method: str,
                                                      path: str, body: Any, status: int, field: str) -> None:
    ids = _ids(org)
    counts = row_counts(engine)
    response = client.request(method, API + _format(path, ids), json=_format(body, ids),
                              headers=org.headers("admin"))
    assert response.status_code == status, response.text
    if status < 300:
        assert row_counts(engine) != counts
        return
    error = error_of(response)
    assert error["field"] == field, error
    assert error["code"] == {404: "not_found", 409: "conflict", 422: "invalid"}[status]
    assert row_counts(engine) == counts


UNKNOWN_REFERENCES: list[tuple[str, str, Any, str]] = [
    ("POST", "/teams", {"name": "T", "department_id": 999}, "department_id"),
    ("POST", "/teams", {"name": "T", "department_id": "{sales}", "supervisor_id": 999}, "supervisor_id"),
    ("PATCH", "/teams/{north}", {"region_id": 999}, "region_id"),
    ("POST", "/users", {**USER, "team_id": 999}, "team_id"),
    ("PATCH", "/users/{rep}", {"team_id": 999}, "team_id"),
]


@pytest.mark.parametrize("method, path, body, field", UNKNOWN_REFERENCES,
                         ids=[f"{m} {p} {f}" for m, p, _, f in UNKNOWN_REFERENCES])
def test_unknown_reference_is_422_naming_the_field(app: FastAPI, engine: Engine, org: Org, method: str, path: str,
                                                   body: Any, field: str) -> None:
    ids = _ids(org)
    counts = row_counts(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.request(method, API + _format(path, ids), json=_format(body, ids),
                                  headers=org.headers("admin"))
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["field"] == field and "999" in error["message"], error
    assert row_counts(engine) == counts


def test_empty_required_user_field_message_names_the_field(client: TestClient, org: Org) -> None:
    response = client.patch(f"{API}/users/{org.id('rep_n1')}", json={"timezone": None},
                            headers=org.headers("admin"))
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "timezone"
    assert "{" not in error["message"] and "timezone" in error["message"], error


@pytest.mark.parametrize("path, body, field", [("/departments/{ka}", {"name": None}, "name"),
                                               ("/teams/{north}", {"department_id": None}, "department_id")])
def test_null_for_a_required_field_is_invalid_not_a_conflict(client: TestClient, engine: Engine, org: Org,
                                                             path: str, body: Any, field: str) -> None:
    counts = row_counts(engine)
    response = client.patch(API + path.format(**_ids(org)), json=body, headers=org.headers("admin"))
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert row_counts(engine) == counts


def test_text_with_a_nul_character_is_refused_as_invalid(app: FastAPI, engine: Engine, org: Org) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        counts = row_counts(engine)
        response = client.post(f"{API}/departments", json={"code": "NUL", "name": "a\u0000b"},
                               headers=org.headers("admin"))
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == "name"
    assert row_counts(engine) == counts


def test_malformed_json_is_422_json(client: TestClient, org: Org) -> None:
    response = client.post(f"{API}/departments", content=b'{"code": "X", ', headers={
        **org.headers("admin"), "content-type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"


def test_validation_lists_every_problem(client: TestClient, org: Org) -> None:
    response = client.post(f"{API}/users", json={"role": "king", "timezone": "Nowhere"},
                           headers=org.headers("admin"))
    details = {d["field"] for d in response.json()["error"]["details"]}
    assert {"username", "display_name", "role", "timezone"} <= details


class TestAuthErrors:
    def test_no_credentials_is_401_with_a_challenge(self, client: TestClient, org: Org) -> None:
        response = client.get(f"{API}/leads")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert error_of(response)["code"] == "unauthorized"

    @pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "bearer eht_x"])
    def test_bad_credentials_are_401(self, client: TestClient, org: Org, header: str) -> None:
        response = client.get(f"{API}/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"
