"""Signed webhooks on one server process (uvicorn) over SQLite: call records posted to the telephony webhook
(``POST /api/v1/capture/telephony``), each request one distinct call signed with HMAC-SHA256, from a few concurrent
keep-alive connections of a lean asyncio client (bench/http_load.py). Every request is verified, its call
checked, receipted, counted, linked to its rep and to a lead
by the customer's phone, stored and audited, and committed (``synchronous=FULL``) before the answer.

Baselines, measured in the same run on an identical database: a plain ``executemany`` of the same activity rows
(read back from the server's database) in one transaction, and the same rows inserted one transaction each (what
a commit costs on this disk); and, on the same server from the same clients, ``GET /healthz`` (what the HTTP stack
answers with no work to do). Aim: at least 1,000 events/s.

    .venv/bin/python bench/bench_webhooks.py --events 3000      # alone
    .venv/bin/python bench/run.py webhooks                      # written to bench/results

EVENHAND_BENCH_WEBHOOKS changes the default number of events."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import http_load

N = int(os.environ.get("EVENHAND_BENCH_WEBHOOKS", "4000"))
CLIENTS = 32  # a call centre's senders posting at once; FEW connections are measured too
FEW = 8
BATCHED = 20  # calls in one request, the second measure: a call centre posting its records in batches
REPS, LEADS = 20, 1_000
SECRET = "bench-webhook-secret"
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
COLUMNS = ("type", "direction", "source_system", "external_id", "rep_id", "lead_id", "opportunity_id", "occurred_at",
           "duration_seconds", "answered", "replied", "attachment_count", "subject", "recording_ref", "message_count",
           "body", "declared_type")


def _seed(url: str) -> None:
    """A small company: 20 reps and 1,000 leads with phones (Core inserts: setup, not measured)."""
    from sqlalchemy import insert

    from evenhand.db import make_engine
    from evenhand.migrate import upgrade
    from evenhand.models import Lead, User

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": r, "username": f"rep{r}", "display_name": f"销售{r}", "role": "rep",
                                     "external_id": f"A{r:03d}"} for r in range(1, REPS + 1)])
        conn.execute(insert(Lead), [{"id": i, "source": "website", "external_id": f"L{i:06d}", "company": f"公司{i}",
                                     "owner_id": 1 + i % REPS, "phone": f"139{i:08d}", "phone_key": f"139{i:08d}",
                                     "created_at": START - timedelta(days=1)} for i in range(1, LEADS + 1)])
    engine.dispose()


def _call(i: int) -> bytes:
    return json.dumps(_record(i)).encode()


def _record(i: int) -> dict[str, Any]:
    lead = 1 + i % LEADS
    return {"call_id": f"CDR-{i:08d}", "rep_external_id": f"A{1 + i % REPS:03d}",
                       "customer_phone": f"+86 139{lead:08d}",
                       "started_at": (START + timedelta(seconds=i)).isoformat(), "duration_seconds": i % 600,
                       "direction": "outbound", "recording_ref": f"rec/{i}.mp3"}


def _signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Evenhand-Timestamp": stamp, "X-Evenhand-Signature": f"sha256={digest}",
            "Content-Type": "application/json"}


def _post_all(port: int, first: int, n: int, clients: int, per_request: int = 1) -> float:
    """Post calls ``first`` … ``first + n - 1`` over ``clients`` keep-alive connections, ``per_request`` calls in each
    request (one: the call alone; more: ``{"calls": [...]}``), signed before the clock starts; events per second."""
    requests, expected = [], []
    for i in range(first, first + n, per_request):
        ids = range(i, min(i + per_request, first + n))
        body = _call(i) if per_request == 1 else json.dumps({"calls": [_record(j) for j in ids]}).encode()
        requests.append(http_load.request("POST", "/api/v1/capture/telephony", _signed(body), body))
        expected.append(len(ids))
    seconds, answers = http_load.send_all(port, requests, clients)
    for (status, body), taken in zip(answers, expected, strict=True):
        assert status == 200 and json.loads(body)["taken"] == taken, body
    return n / seconds


def _pings(port: int, n: int, clients: int) -> float:
    """``GET /healthz`` (one ``SELECT 1``) over the same connections: what the server answers with no work to do."""
    seconds, answers = http_load.send_all(port, [http_load.request("GET", "/healthz", {})] * n, clients)
    assert all(status == 200 for status, _ in answers)
    return n / seconds


def _served(tmp: Path, url: str, n: int, clients: int) -> tuple[float, float, float, float]:
    port, log = http_load.free_port(), (tmp / "server.log").open("wb")
    env = {**os.environ, "EVENHAND_DATABASE_URL": url, "EVENHAND_DATA_DIR": str(tmp), "EVENHAND_LOCALE": "en",
           "EVENHAND_TELEPHONY_HMAC_SECRET": SECRET, "EVENHAND_WORKER_IN_SERVE": "false"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "evenhand.asgi:app", "--port", str(port),
                               "--log-level", "warning"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        http_load.wait_until_up(f"http://127.0.0.1:{port}")
        _post_all(port, 10_000_000, 200, clients)  # warm: statements compiled, connections opened
        _pings(port, 200, clients)
        single, few = _post_all(port, 0, n, clients), _post_all(port, 30_000_000, n, FEW)
        return single, few, _post_all(port, 20_000_000, n, clients, BATCHED), _pings(port, n, clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _rows(url: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    from evenhand.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = list(conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM activities WHERE external_id "
                                      "LIKE 'CDR-0%' ORDER BY id")))
    engine.dispose()
    return [tuple(r) for r in rows]


def _plain(url: str, rows: list[tuple[Any, ...]], *, per_row: bool) -> float:
    """The rows into ``activities`` by the driver's ``executemany``: in one transaction, or one each."""
    from evenhand.db import make_engine

    engine = make_engine(url)
    sql = f"INSERT INTO activities ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        started = time.perf_counter()
        if per_row:
            for row in rows:
                raw.execute("BEGIN IMMEDIATE")
                raw.execute(sql, row)
                raw.execute("COMMIT")
        else:
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(sql, rows)
            raw.execute("COMMIT")
        seconds = time.perf_counter() - started
    engine.dispose()
    return len(rows) / seconds


def run(n: int = N, clients: int = CLIENTS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        served, template = tmp / "served.sqlite", tmp / "template.sqlite"
        _seed(f"sqlite:///{template}")
        for copy in (served, tmp / "plain.sqlite", tmp / "each.sqlite"):
            shutil.copy(template, copy)
        events, few, batched, bare = _served(tmp, f"sqlite:///{served}", n, clients)
        rows = _rows(f"sqlite:///{served}")
        assert len(rows) == n and all(r[5] is not None and r[4] is not None for r in rows), "calls not all linked"
        plain = _plain(f"sqlite:///{tmp / 'plain.sqlite'}", rows, per_row=False)
        each = _plain(f"sqlite:///{tmp / 'each.sqlite'}", rows, per_row=True)
    return {"events": n, "clients": clients, "webhook_events_per_s": round(events, 1),
            "executemany_rows_per_s": round(plain, 1), "one_commit_per_row_per_s": round(each, 1),
            "webhooks_vs_executemany": round(events / plain, 4),
            "webhooks_vs_one_commit_per_row": round(events / each, 3), "bare_healthz_per_s": round(bare, 1),
            "webhooks_vs_bare_healthz": round(events / bare, 3),
            f"webhook_events_per_s_{FEW}_connections": round(few, 1),
            f"webhook_events_per_s_{BATCHED}_calls_a_request": round(batched, 1), "aim_events_per_s": 1000}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=N)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    options = parser.parse_args()
    print(json.dumps(run(options.events, options.clients), indent=2))
