"""Lead intake through the HTTP API on SQLite, one server process (uvicorn), against /healthz in the same run.

Single-lead POSTs from 1 and 4 keep-alive clients, and the batch endpoint; every lead is validated,
deduplicated, scored with its explanation and audited in its own transaction.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from evenhand.auth import service as auth_service
from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade
from evenhand.models import Role
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate

SINGLE = 2000
BATCHES = 5
BATCH_SIZE = 1000
PING = 2000


def _lead(n: int) -> dict[str, object]:
    return {"source": "website", "external_id": f"api-{n}", "company": f"华东智能制造{n}有限公司",
            "contact_name": "李雷", "email": f"buyer{n}@corp{n % 500}.cn", "phone": f"139{n:08d}",
            "title": "采购经理", "industry": "制造业", "region": "east", "company_size": 100 + n % 900}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        org_service.create_user(session, UserCreate(username="forms", display_name="官网表单", role=Role.OPS),
                                actor=None)
        token, _ = auth_service.create_token(session, username="forms", role=Role.OPS)
    engine.dispose()
    return token


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def _timed(fn, n: int, clients: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(fn, range(n)))
    return _rate(n, time.perf_counter() - started)


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.sqlite'}"
        token = _token(url)
        port = _port()
        env = {**os.environ, "EVENHAND_DATABASE_URL": url, "EVENHAND_DATA_DIR": tmp}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "evenhand.asgi:app", "--port", str(port),
                                   "--log-level", "warning"], env=env, cwd=tmp)
        base = f"http://127.0.0.1:{port}"
        try:
            return _measure(base, token)
        finally:
            server.terminate()
            server.wait(timeout=20)


def _measure(base: str, token: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    local = __import__("threading").local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=base, headers=headers, timeout=30)
        return local.c  # type: ignore[no-any-return]

    for _ in range(100):
        if client().get("/healthz").status_code == 200 if _up(base) else False:
            break
        time.sleep(0.2)

    def post(n: int) -> None:
        assert client().post("/api/v1/leads", json=_lead(n)).status_code == 201

    def ping(_: int) -> None:
        assert client().get("/healthz").status_code == 200

    figures = {"healthz_per_s": _timed(ping, PING, 1)}
    figures["leads_per_s_1_client"] = _timed(post, SINGLE, 1)
    figures["leads_per_s_4_clients"] = _timed(lambda n: post(SINGLE + n), SINGLE, 4)
    started = time.perf_counter()
    for b in range(BATCHES):
        rows = [_lead(10 * SINGLE + b * BATCH_SIZE + i) for i in range(BATCH_SIZE)]
        assert client().post("/api/v1/leads/batch", json={"leads": rows}).json()["created"] == BATCH_SIZE
    figures["leads_per_s_batch_of_1000"] = _rate(BATCHES * BATCH_SIZE, time.perf_counter() - started)
    figures["single_vs_healthz"] = round(figures["leads_per_s_1_client"] / figures["healthz_per_s"], 3)
    return figures


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
