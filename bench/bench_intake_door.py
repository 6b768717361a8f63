"""The event loop's share of ``POST /api/v1/leads``: the ASGI app's own work for one lead, from the request handed
in to the answer sent, with the group commit answered at once (the lead taken in, routed and committed once
before the clock starts, and that result given back to every request). What remains is what the event loop does
for a lead: the middleware, routing, the body read and validated, the credentials, the answer built and sent.

Measured in the same run, alternating, on the app as it serves (``intake.routes._Door``: a signed, well-formed lead
served without FastAPI's parameter solving) and on the same app with that route handled by FastAPI's own handler
(``APIRoute.handle``), the baseline. ``EVENHAND_BENCH_DOOR_ROUNDS`` (7) rounds of 2,000 requests each; the figures
are each side's median round in µs per request and the ratio lean / FastAPI's.

    .venv/bin/python bench/bench_intake_door.py
    .venv/bin/python bench/run.py intake_door
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fastapi import FastAPI
from fastapi.routing import APIRoute
from routed_org import REGIONS, lead_payload

from evenhand.app import create_app
from evenhand.auth import service as auth_service
from evenhand.config import Settings
from evenhand.db import make_engine, session_scope
from evenhand.intake import arrivals, flows, routes
from evenhand.leads.schemas import LeadCreate
from evenhand.migrate import upgrade
from evenhand.models import Department, Region, Role, User

ROUNDS = int(os.environ.get("EVENHAND_BENCH_DOOR_ROUNDS", "7"))
PER_ROUND = 2000


def _app(tmp: Path) -> tuple[FastAPI, str, flows.Routed]:
    """An app on a small company (routed_org's regions, one department, an ops user), and one lead taken in."""
    engine = make_engine(f"sqlite:///{tmp / 'door.sqlite'}")
    upgrade(engine)
    with session_scope(engine) as session:
        session.add_all([Department(code="smb", name="中小企业部"), *(Region(code=c, name=c) for c in REGIONS)])
        session.add(User(username="ops", display_name="运营", role=Role.OPS))
        session.flush()
        token, _ = auth_service.create_token(session, username="ops", role=Role.OPS)
        routed = flows.take_in(session, [LeadCreate.model_validate(lead_payload(1))], actor=None, dedup=("email",))[0]
        session.expunge_all()
    app = create_app(Settings(database_url=str(engine.url), data_dir=tmp, mode="test"), engine, ui=False)
    return app, token, routed


def _scope(token: str, body: bytes) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/api/v1/leads", "raw_path": b"/api/v1/leads", "root_path": "", "query_string": b"",
            "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {}}


async def _round(app: FastAPI, scope: dict[str, Any], body: bytes) -> float:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    began = time.perf_counter()
    for _ in range(PER_ROUND):
        await app({**scope, "app": app}, receive, send)
    spent = time.perf_counter() - began
    assert statuses == [201] * PER_ROUND, f"unexpected answers: {sorted(set(statuses))}"
    return spent / PER_ROUND * 1e6


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app, token, routed = _app(Path(tmp))

        async def answered(self: arrivals.Arrivals, data: Any, *, sent: Any, dedup: Any) -> flows.Routed:
            return routed

        lean_handle = routes._Door.handle
        arrivals.Arrivals.take_async = answered  # type: ignore[method-assign]
        body = json.dumps(lead_payload(1)).encode()
        scope = _scope(token, body)
        times: dict[str, list[float]] = {"lean": [], "fastapi": []}

        async def measure() -> None:
            for handle in (lean_handle, APIRoute.handle):
                routes._Door.handle = handle  # type: ignore[method-assign]
                await _round(app, scope, body)  # warm-up
            for _ in range(ROUNDS):
                for side, handle in (("lean", lean_handle), ("fastapi", APIRoute.handle)):
                    routes._Door.handle = handle  # type: ignore[method-assign]
                    times[side].append(await _round(app, scope, body))
            routes._Door.handle = lean_handle  # type: ignore[method-assign]

        asyncio.run(measure())
    lean, generic = statistics.median(times["lean"]), statistics.median(times["fastapi"])
    return {"lean_us_per_request": round(lean, 1), "fastapi_us_per_request": round(generic, 1),
            "lean_over_fastapi": round(lean / generic, 3), "rounds": ROUNDS, "requests_per_round": PER_ROUND}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
