"""Route-on-intake over HTTP on SQLite, one server process (uvicorn), against a bare endpoint on the same
server in the same run.

Every lead is validated, deduplicated, scored with its explanation, routed (bench/routed_org.py: 120
online reps under the shipped default policy) and audited in its own transaction; the response carries
the assignment. The bare endpoint is ``/healthz`` (FastAPI, one ``SELECT 1``). Figures: requests/s and
p50/p99 latency for one keep-alive client; requests/s for four and for sixteen clients, where leads posted
at the same moment share a transaction (``intake.arrivals``), each against the bare endpoint under the
same load; and the batch endpoint.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

import http_load
from routed_org import build, lead_payload

from evenhand.auth import service as auth_service
from evenhand.db import session_scope
from evenhand.models import Role

SINGLE = 1500
PING = 1500
MANY = 16
BATCHES = 3
BATCH_SIZE = 500


def _token(url: str) -> str:
    engine = build(url)
    with session_scope(engine) as session:
        token, _ = auth_service.create_token(session, username="forms", role=Role.OPS)
    engine.dispose()
    return token


def _timed(fn: Callable[[int], None], n: int, clients: int, offset: int = 0) -> tuple[float, list[float]]:
    latencies: list[float] = []

    def one(i: int) -> None:
        t = time.perf_counter()
        fn(offset + i)
        latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return round(n / (time.perf_counter() - started), 1), latencies


def _cut(latencies: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(latencies, n=100)
    return round(q[49], 2), round(q[98], 2)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.sqlite'}"
        token = _token(url)
        port = http_load.free_port()
        env = {**os.environ, "EVENHAND_DATABASE_URL": url, "EVENHAND_DATA_DIR": tmp}
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "evenhand.asgi:app", "--port", str(port),
                                   "--log-level", "warning"], env=env, cwd=tmp)
        try:
            return _measure(f"http://127.0.0.1:{port}", token)
        finally:
            server.terminate()
            server.wait(timeout=20)


def _measure(base: str, token: str) -> dict[str, Any]:
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return local.c  # type: ignore[no-any-return]

    http_load.wait_until_up(base)
    assigned: list[int] = []

    def post(n: int) -> None:
        response = client().post("/api/v1/leads", json=lead_payload(n))
        assert response.status_code == 201, response.text
        assigned.append(response.json()["assignment"]["rep_id"] is not None)

    def ping(_: int) -> None:
        assert client().get("/healthz").status_code == 200

    _timed(ping, 100, 1)
    _timed(post, 50, 1, offset=900_000)  # warm: first requests compile policies and statements
    bare, bare_lat = _timed(ping, PING, 1)
    routed, routed_lat = _timed(post, SINGLE, 1)
    bare_again, _ = _timed(ping, PING, 1)
    routed_4, _ = _timed(post, SINGLE, 4, offset=SINGLE)
    bare_many, bare_many_lat = _timed(ping, PING, MANY)
    routed_many, many_lat = _timed(post, 2 * SINGLE, MANY, offset=2 * SINGLE)
    started = time.perf_counter()
    for b in range(BATCHES):
        rows = [lead_payload(10 * SINGLE + b * BATCH_SIZE + i) for i in range(BATCH_SIZE)]
        assert client().post("/api/v1/leads/batch", json={"leads": rows}).json()["created"] == BATCH_SIZE
    batch = round(BATCHES * BATCH_SIZE / (time.perf_counter() - started), 1)
    bare_rate = (bare + bare_again) / 2
    return {"bare_healthz_per_s": bare_rate, "bare_p50_ms": _cut(bare_lat)[0], "bare_p99_ms": _cut(bare_lat)[1],
            "routed_intake_per_s_1_client": routed, "routed_p50_ms": _cut(routed_lat)[0],
            "routed_p99_ms": _cut(routed_lat)[1], "routed_intake_per_s_4_clients": routed_4,
            f"bare_healthz_per_s_{MANY}_clients": bare_many, f"bare_p50_ms_{MANY}_clients": _cut(bare_many_lat)[0],
            f"routed_intake_per_s_{MANY}_clients": routed_many,
            f"routed_p50_ms_{MANY}_clients": _cut(many_lat)[0], f"routed_p99_ms_{MANY}_clients": _cut(many_lat)[1],
            f"routed_vs_bare_{MANY}_clients": round(routed_many / bare_many, 3),
            "routed_batch_of_500_per_s": batch, "assigned_share": round(sum(assigned) / len(assigned), 3),
            "routed_vs_bare": round(routed / bare_rate, 3), "aim_routed_vs_bare": 0.6}


if __name__ == "__main__":
    print(run())
