"""``POST /api/v1/leads`` serves a well-formed, signed lead without FastAPI's parameter solving
(``intake.routes._Door``), and answers everything else exactly as FastAPI's own handler does (R1.1, R1.2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from starlette.exceptions import HTTPException

from evenhand.db import session_scope
from evenhand.intake import routes
from evenhand.models import Lead, RoutingDecision
from tests import test_own_company as own
from tests.builders import bearer
from tests.intake.test_doors import LEADS, company
from tests.support import Run, on_a_loop_of_its_own


@pytest.fixture
def generic_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The requests FastAPI's own handler served on the intake door (their paths)."""
    calls: list[str] = []
    served = APIRoute.handle

    async def counted(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        if isinstance(self, routes._Door):
            calls.append(scope["path"])
        await served(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", counted)
    yield calls


def _without_moments(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if not key.endswith("_at")}


def test_a_signed_lead_is_served_by_the_lean_handler_and_routed(
        client: TestClient, engine: Engine, generic_calls: list[str]) -> None:
    token = company(engine)
    for headers in ({}, {"Content-Type": "application/json; charset=utf-8"}):
        lead = {**LEADS[0], "external_id": f"L-{len(headers)}", "email": f"l{len(headers)}@lean.cn"}
        answer = client.post("/api/v1/leads", json=lead, headers={**bearer(token), **headers})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["external_id"] == lead["external_id"] and body["assignment"]["outcome"] == "assigned"
        with session_scope(engine) as session:
            stored = session.get(Lead, body["id"])
            assert stored is not None and stored.owner_id == body["assignment"]["rep_id"] == body["owner_id"]
    again = client.post("/api/v1/leads", json={**LEADS[0], "external_id": "L-0", "email": "l0@lean.cn"},
                        headers=bearer(token))
    assert again.status_code == 200 and again.json()["assignment"] is None
    assert generic_calls == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(RoutingDecision)) == 2


def test_a_lead_answers_as_it_would_through_fastapis_handler(
        client: TestClient, engine: Engine, generic_calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same lead, once through each handler (the lean one switched off the second time): the same answer."""
    token = company(engine)
    lean = client.post("/api/v1/leads", json={**LEADS[1], "external_id": "P-1"}, headers=bearer(token))
    monkeypatch.setattr(routes._Door, "handle", APIRoute.handle)
    generic = client.post("/api/v1/leads", json={**LEADS[2], "external_id": "P-1"}, headers=bearer(token))
    assert (lean.status_code, generic.status_code) == (201, 200)  # the second finds the first: same external id
    assert _without_moments(lean.json()) == {**_without_moments(generic.json()),
                                             "assignment": lean.json()["assignment"]}
    assert lean.headers["content-type"] == generic.headers["content-type"] == "application/json"


REFUSED: list[tuple[str, dict[str, str | None], bytes, bool]] = [
    # (what, headers besides the token's and a JSON content type (None: the header left out), body, signed)
    ("no credentials", {}, b'{"source": "web", "external_id": "R-1", "company": "Acme"}', False),
    ("no credentials, not JSON", {}, b'{"source": ', False),
    ("not JSON", {}, b'{"source": ', True),
    ("empty", {}, b"", True),
    ("not UTF-8", {}, b'{"source": "\xff"}', True),
    ("no content type", {"Content-Type": None}, b'{"source": "web", "external_id": "R-0", "company": "A"}', True),
    ("text/plain", {"Content-Type": "text/plain"}, b'{"source": "web", "external_id": "R-2", "company": "A"}', True),
    ("an unknown field", {}, b'{"source": "web", "external_id": "R-3", "company": "A", "colour": "red"}', True),
    ("a bad e-mail", {}, b'{"source": "web", "external_id": "R-4", "company": "A", "email": "nobody"}', True),
    ("a control character", {}, b'{"source": "web", "external_id": "R-5", "company": "A\\u0000B"}', True),
    ("NaN", {}, b'{"source": "web", "external_id": "R-6", "company": "A", "company_size": NaN}', True),
    ("a list", {}, b'[{"source": "web"}]', True),
    ("a bad event", {}, b'{"source": "web", "external_id": "R-7", "company": "A", '
                        b'"events": [{"kind": "webinar", "dwell_seconds": 5}]}', True),
]


@pytest.mark.parametrize(("what", "headers", "body", "signed"), REFUSED, ids=[case[0] for case in REFUSED])
def test_a_refusal_is_fastapis_own(client: TestClient, engine: Engine, generic_calls: list[str],
                                   monkeypatch: pytest.MonkeyPatch, what: str, headers: dict[str, str | None],
                                   body: bytes, signed: bool) -> None:
    token = company(engine)
    given = {"Content-Type": "application/json", **(bearer(token) if signed else {}), **headers}
    sent = {name: value for name, value in given.items() if value is not None}
    lean = client.post("/api/v1/leads", content=body, headers=sent)
    assert generic_calls == ["/api/v1/leads"], "FastAPI's handler answers it"
    monkeypatch.setattr(routes._Door, "handle", APIRoute.handle)
    generic = client.post("/api/v1/leads", content=body, headers=sent)
    assert lean.status_code == generic.status_code and lean.status_code in (400, 401, 422), lean.text
    assert lean.json() == generic.json()
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


@pytest.mark.parametrize("what", ["a wrong token", "an unknown region"])
def test_a_lead_refused_in_its_group_is_answered_by_the_apps_error_handlers(
        client: TestClient, engine: Engine, generic_calls: list[str], monkeypatch: pytest.MonkeyPatch,
        what: str) -> None:
    """Refusals found once the lead reaches its group (signing in, the organisation's regions) are raised by the
    endpoint itself, on either path: the same status and error."""
    token = company(engine)
    lead, headers = {**LEADS[3], "external_id": "G-1"}, bearer(token)
    if what == "a wrong token":
        headers = bearer("ehk_" + "x" * 40)
    else:
        lead["region"] = "atlantis"
    lean = client.post("/api/v1/leads", json=lead, headers=headers)
    assert generic_calls == []
    monkeypatch.setattr(routes._Door, "handle", APIRoute.handle)
    generic = client.post("/api/v1/leads", json=lead, headers=headers)
    assert lean.status_code == generic.status_code == (401 if what == "a wrong token" else 422), lean.text
    assert lean.json() == generic.json()
    assert lean.headers["x-content-type-options"] == "nosniff"  # the app's headers on the lean path too


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_another_method_on_the_door_stores_nothing(client: TestClient, engine: Engine, method: str) -> None:
    token = company(engine)
    answer = client.request(method, "/api/v1/leads", json={**LEADS[4], "external_id": "M-1"}, headers=bearer(token))
    assert answer.status_code == 405 and "POST" in answer.headers["allow"], answer.text
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_the_door_answers_another_method_as_fastapi_does(app: FastAPI, engine: Engine) -> None:
    """Called for a request of another method (as a router does for a partial match), the route answers 405 as
    FastAPI's own route would, and takes nothing in."""
    token = company(engine)
    door = next(route for route in routes.router.routes if isinstance(route, routes._Door))
    body = json.dumps({**LEADS[5], "external_id": "M-2"}).encode()
    scope = {"type": "http", "method": "PUT", "path": "/api/v1/leads", "raw_path": b"/api/v1/leads",
             "root_path": "", "query_string": b"", "app": app, "http_version": "1.1", "scheme": "http",
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(HTTPException) as refused:
        on_a_loop_of_its_own(door.handle(scope, receive, send))
    assert refused.value.status_code == 405 and sent == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_a_company_from_its_own_exports_takes_leads_in_through_the_door(
        run: Run, client: TestClient, engine: Engine, tmp_path: Path, generic_calls: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A company set up from its sales-team export (``evenhand init``, ``import org``, an ops user and its token
    made with the commands) takes a lead in through the lean handler, its decision stored; the same lead through
    FastAPI's handler gives the same answer."""
    files = own.exports(tmp_path)
    (tmp_path / "team.yaml").write_text(own.MAPPINGS["team"], encoding="utf-8")
    for command in (("init", "--starter", "neutral"),
                    ("import", "org", str(files["team"]), "--mapping", str(tmp_path / "team.yaml")),
                    ("users", "create", "forms", "--role", "ops", "--password", "a long passphrase 1")):
        done = run(*command)
        assert done.exit_code == 0, done.output
    minted = run("tokens", "create", "--user", "forms", "--role", "ops")
    assert minted.exit_code == 0, minted.output
    token = minted.output.strip().splitlines()[-1]
    lead = {"source": "website", "external_id": "OWN-1", "company": "Acme Medical", "industry": "medical",
            "email": "buyer@acme.example", "company_size": 120}
    lean = client.post("/api/v1/leads", json=lead, headers=bearer(token))
    assert lean.status_code == 201, lean.text
    assert generic_calls == []
    with session_scope(engine) as session:
        decision = session.scalar(select(RoutingDecision).where(RoutingDecision.lead_id == lean.json()["id"]))
        assert decision is not None and decision.outcome == lean.json()["assignment"]["outcome"]
    monkeypatch.setattr(routes._Door, "handle", APIRoute.handle)
    generic = client.post("/api/v1/leads", json=lead, headers=bearer(token))
    assert generic.status_code == 200 and generic_calls == ["/api/v1/leads"]
    assert _without_moments(generic.json()) == {**_without_moments(lean.json()), "assignment": None}
