"""Routed intake over HTTP, measured by ``wrk`` (a C load generator, so the client takes little of the two cores
the server runs on), against a bare durable-insert endpoint served the same way in the same run.

Rows, each at 1 connection (1 wrk thread) and 8 connections (2 threads), ``EVENHAND_BENCH_WRK_SECONDS`` (6) each
after a warm-up of ``EVENHAND_BENCH_WRK_WARM`` (2) seconds at the same load, interleaved and repeated
``EVENHAND_BENCH_WRK_ROUNDS`` (4) times so drift on a shared machine shows in every row:

- ``bare``: ``bench/wrk/bare_app.py``, a FastAPI endpoint that validates the same lead body (``LeadCreate``) and
  commits one row (SQLite: WAL, ``synchronous=FULL``; PostgreSQL: one ``INSERT … RETURNING`` + ``COMMIT`` through
  psycopg, the server's ``synchronous_commit=on``);
- ``healthz``: evenhand's ``GET /healthz`` (one ``SELECT 1``);
- ``routed``: evenhand's ``POST /api/v1/leads`` into bench/routed_org.py's organisation (120 online reps, 20,000
  leads of history): validated, deduplicated, scored, routed, audited and notified before the answer. Every request
  carries a lead never posted before (``bench/wrk/unique_lead.lua``) and the bench's ops token. The active policy
  is the shipped default with the weekly cap lifted (``uncapped_policy``), so no rep fills up during the run.

Both apps run under uvicorn in processes of their own: one each on SQLite, two each (``--workers 2``) on
PostgreSQL, in a database ``evenhand_bench_wrk`` created afresh on the server of ``EVENHAND_BENCH_PG_URL``
(default ``postgresql+psycopg:///postgres``); ``EVENHAND_BENCH_WRK_PG=0`` skips PostgreSQL. evenhand runs as
``evenhand.asgi:app`` without the notification worker (``evenhand serve`` would start one on SQLite).

The figures are worthless if they count errors, so the bench fails instead when wrk saw an error status (its
"Non-2xx or 3xx responses" line), a socket error, or a POST answered other than 201, and, after the servers stop,
when the rows written are not the leads answered (each answered lead stored; at most one unanswered in flight per
connection when wrk stopped) or a routed lead has no assignment. Per row: requests/s, p50 and p99 (wrk's
``--latency`` distribution) and the 1-minute load average when the row ended; per connection count, the ratio
routed / bare of each round, and their median.

    .venv/bin/python bench/bench_intake_wrk.py     # alone, with a table at the end
    .venv/bin/python bench/run.py intake_wrk       # written to bench/results/intake_wrk.json

The servers import evenhand as this process does: to measure another tree (a commit, unpacked with ``git archive``),
put its ``src`` first on ``PYTHONPATH``; ``evenhand_from`` in the figures names the package measured.

wrk must be on PATH (Debian/Ubuntu: ``apt-get install wrk``); without it the bench stops at once and says so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

HERE = Path(__file__).parent
WRK_DIR = HERE / "wrk"
sys.path[:0] = [str(HERE), str(WRK_DIR)]

import bare_app  # noqa: E402
import http_load  # noqa: E402
from routed_org import build  # noqa: E402

import evenhand  # noqa: E402
from evenhand.auth import service as auth_service  # noqa: E402
from evenhand.config import get_settings  # noqa: E402
from evenhand.db import make_engine, session_scope  # noqa: E402
from evenhand.models import Role  # noqa: E402
from evenhand.routing import policy, policy_versions  # noqa: E402

SECONDS = int(os.environ.get("EVENHAND_BENCH_WRK_SECONDS", "6"))
WARM = int(os.environ.get("EVENHAND_BENCH_WRK_WARM", "2"))
ROUNDS = int(os.environ.get("EVENHAND_BENCH_WRK_ROUNDS", "4"))
WITH_PG = os.environ.get("EVENHAND_BENCH_WRK_PG", "1") != "0"
ADMIN_URL = os.environ.get("EVENHAND_BENCH_PG_URL", "postgresql+psycopg:///postgres")
PG_DATABASE = "evenhand_bench_wrk"
UNCAPPED = 1_000_000
LOADS = ((1, 1), (8, 2))  # (connections, wrk threads)
TARGETS = ("bare", "healthz", "routed")
AIMS = {"routed_vs_bare_1": 0.3, "routed_vs_bare_8": 0.4, "routed_p99_ms_8": 25.0}
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench_intake_wrk needs wrk, the C HTTP load generator, on PATH "
                         "(Debian/Ubuntu: apt-get install wrk; elsewhere build https://github.com/wg/wrk).")
    return path


class Row(NamedTuple):  # not a dataclass: bench/run.py loads this module without registering it in sys.modules
    """One wrk run: what it measured and what it saw go wrong."""

    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    created: int | None  # answers 201 (POST rows only; the Lua script counts them)
    wrong: tuple[str, ...] = ()
    load1: float = 0.0


def _latency(output: str, cut: str) -> float:
    match = re.search(rf"^\s+{cut}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    assert match, f"no {cut}% latency in wrk's output:\n{output}"
    return round(float(match[1]) * _UNIT_MS[match[2]], 3)


def _problems(output: str) -> tuple[str, ...]:
    """What wrk saw go wrong: statuses above 399, socket errors, and (from the Lua script) any answer but 201."""
    wrong = [f"{m[1]} non-2xx/3xx answers" for m in re.finditer(r"Non-2xx or 3xx responses:\s+(\d+)", output)]
    if socket_errors := re.search(r"Socket errors:.*", output):
        wrong.append(socket_errors[0].strip())
    if (status := re.search(r"STATUS created=\d+ other=(\d+)", output)) and int(status[1]):
        wrong.append(f"{status[1]} answers other than 201")
    return tuple(wrong)


def parse(output: str, target: str, connections: int) -> Row:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    assert rps and requests, f"wrk's output has no rate:\n{output}"
    created = re.search(r"STATUS created=(\d+)", output)
    return Row(target, connections, round(float(rps[1]), 1), _latency(output, "50"), _latency(output, "99"),
               int(requests[1]), int(created[1]) if created else None, _problems(output))


class Bench:
    """The wrk runs against one database: the two servers' addresses and the bench token."""

    def __init__(self, wrk: str, bare: str, evenhand: str, token: str) -> None:
        self.wrk, self.bare, self.evenhand, self.token = wrk, bare, evenhand, token
        self.run_tag, self.posted = 0, {"bare": 0, "routed": 0}
        self.in_flight = {"bare": 0, "routed": 0}  # answers wrk stopped waiting for: at most one per connection

    def _command(self, target: str, threads: int, connections: int, seconds: int) -> list[str]:
        command = [self.wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                   "-H", f"Authorization: Bearer {self.token}"]
        if target == "healthz":
            return [*command, f"{self.evenhand}/healthz"]
        self.run_tag += 1
        base, path = (self.bare, "/leads") if target == "bare" else (self.evenhand, "/api/v1/leads")
        return [*command, "-s", str(WRK_DIR / "unique_lead.lua"), base, "--", str(self.run_tag), path]

    def once(self, target: str, threads: int, connections: int, seconds: int) -> Row:
        done = subprocess.run(self._command(target, threads, connections, seconds), capture_output=True, text=True,
                              check=True, timeout=seconds + 60)
        row = parse(done.stdout, target, connections)
        if target in self.posted:
            self.posted[target] += row.created or 0
            self.in_flight[target] += connections
        return row._replace(load1=round(os.getloadavg()[0], 2))

    def measure(self, target: str, threads: int, connections: int) -> Row:
        warm = self.once(target, threads, connections, WARM)
        row = self.once(target, threads, connections, SECONDS)
        return row._replace(wrong=row.wrong + tuple(f"warm-up: {problem}" for problem in warm.wrong))


@contextmanager
def served(app: list[str], env: dict[str, str], workers: int, cwd: Path) -> Iterator[str]:
    """A uvicorn serving ``app`` (its arguments) in processes of its own, the access log off, as an operator would."""
    port = http_load.free_port()
    command = [sys.executable, "-m", "uvicorn", *app, "--port", str(port), "--log-level", "warning",
               "--no-access-log", *(["--workers", str(workers)] if workers > 1 else [])]
    server = subprocess.Popen(command, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        http_load.wait_until_up(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


class Database(NamedTuple):
    """Where one measurement writes: evenhand's database, the bare endpoint's store, and the server processes."""

    name: str
    evenhand_url: str
    bare_target: str
    workers: int


def _sqlite(tmp: Path) -> Database:
    return Database("sqlite", f"sqlite:///{tmp / 'evenhand.sqlite'}", str(tmp / "bare.sqlite"), 1)


def _admin(*statements: str) -> None:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _postgresql() -> Database:
    """A fresh database on the bench's server, at the server's durability (no ``synchronous_commit = off``)."""
    _admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)', f'CREATE DATABASE "{PG_DATABASE}"')
    url = make_url(ADMIN_URL).set(database=PG_DATABASE)
    bare = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return Database("postgresql", url.render_as_string(hide_password=False), bare, 2)


def uncapped_policy() -> str:
    """The shipped default policy with its weekly cap out of the way, as routed_org's reps have their other caps:
    at 80 leads a rep a week the 40 reps of a pool are full after about 3,000 leads (fewer with the history's), a
    few seconds of a fast run, and every later lead would be held instead of routed."""
    body = policy.default_text()
    assert "weekly_lead_cap: 80 " in body, "the default policy's weekly cap moved: update the bench"
    return body.replace("weekly_lead_cap: 80 ", f"weekly_lead_cap: {UNCAPPED} ")


def _token(url: str) -> str:
    """The organisation of routed_org under ``uncapped_policy`` (version 1), and the bench's ops token."""
    engine = build(url)
    with session_scope(engine) as session:
        policy_versions.POLICIES.install(session, uncapped_policy(), note="bench: no weekly cap")
        token, _ = auth_service.create_token(session, username="forms", role=Role.OPS)
    engine.dispose()
    return token


def _environments(db: Database, tmp: Path) -> tuple[dict[str, str], dict[str, str]]:
    """evenhand's servers share this process's audit key (the chain it started with the token stays one chain) and
    one signing key, so two processes agree without racing to create it."""
    evenhand = {**os.environ, "EVENHAND_DATABASE_URL": db.evenhand_url, "EVENHAND_DATA_DIR": str(tmp),
                "EVENHAND_AUDIT_KEY": get_settings().audit_secret(), "EVENHAND_SECRET_KEY": secrets.token_urlsafe(48)}
    return evenhand, {**os.environ, "EVENHAND_BENCH_BARE_DB": db.bare_target}


def _rounds(bench: Bench) -> list[Row]:
    rows = []
    for _ in range(ROUNDS):
        for connections, threads in LOADS:
            rows += [bench.measure(target, threads, connections) for target in TARGETS]
    return rows


def _evenhand_counts(url: str) -> dict[str, int]:
    """The leads wrk posted, those assigned with a decision, and those whose new owner got the new-lead message."""
    sql = {"leads": "SELECT count(*) FROM leads WHERE external_id LIKE 'wrk-%'",
           "assigned": "SELECT count(*) FROM leads l JOIN routing_decisions d ON d.lead_id = l.id "
                       "WHERE l.external_id LIKE 'wrk-%' AND d.outcome = 'assigned' AND l.owner_id = d.rep_id",
           "notified": "SELECT count(DISTINCT n.lead_id) FROM notifications n JOIN leads l ON l.id = n.lead_id "
                       "WHERE l.external_id LIKE 'wrk-%' AND n.message_id IS NULL AND n.recipient_id = l.owner_id"}
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {name: int(conn.execute(text(query)).scalar_one()) for name, query in sql.items()}
    engine.dispose()
    return counts


def _bare_count(target: str) -> int:
    if target.startswith("postgresql"):
        with psycopg.connect(target) as pg:
            row = pg.execute("SELECT count(*) FROM bare_leads").fetchone()
            return int(row[0]) if row else 0
    with sqlite3.connect(target) as lite:
        return int(lite.execute("SELECT count(*) FROM bare_leads").fetchone()[0])


def check(bench: Bench, db: Database, rows: list[Row]) -> dict[str, Any]:
    """Fails, naming what went wrong, unless every answer was right and the rows are the leads answered."""
    counts = {**_evenhand_counts(db.evenhand_url), "bare_rows": _bare_count(db.bare_target),
              "routed_answered": bench.posted["routed"], "bare_answered": bench.posted["bare"]}
    wrong = [f"{r.target} at {r.connections}: {problem}" for r in rows for problem in r.wrong]
    for stored, kind in ((counts["leads"], "routed"), (counts["bare_rows"], "bare")):
        if not bench.posted[kind] <= stored <= bench.posted[kind] + bench.in_flight[kind]:
            wrong.append(f"{kind}: {stored} rows stored for {bench.posted[kind]} leads answered")
    if counts["assigned"] != counts["leads"]:
        wrong.append(f"routed: {counts['leads'] - counts['assigned']} leads stored without an assignment")
    if wrong:
        raise RuntimeError(f"{db.name}: the run measured errors, its figures are worthless: " + "; ".join(wrong))
    return counts


def _span(values: list[float]) -> list[float]:
    return [min(values), max(values)] if len(values) > 1 else values


def summary(rows: list[Row]) -> dict[str, Any]:
    """Per connection count: each target's range over the rounds, and routed / bare of each round (its range and
    median)."""
    out: dict[str, Any] = {}
    for connections, _ in LOADS:
        at = [r for r in rows if r.connections == connections]
        part: dict[str, Any] = {target: {key: _span([getattr(r, key) for r in at if r.target == target])
                                         for key in ("rps", "p50_ms", "p99_ms")} for target in TARGETS}
        bare = [r.rps for r in at if r.target == "bare"]
        routed = [r.rps for r in at if r.target == "routed"]
        ratios = [round(r / b, 3) for r, b in zip(routed, bare, strict=True)]
        part["routed_vs_bare"] = _span(ratios)
        # The middle round: the host's load shifts one round's ratio either way, the middle of several much less.
        part["routed_vs_bare_median"] = round(statistics.median(ratios), 3)
        out[str(connections)] = part
    return out


def measure(wrk: str, db: Database, tmp: Path) -> dict[str, Any]:
    token = _token(db.evenhand_url)
    bare_app.prepare(db.bare_target)
    evenhand_env, bare_env = _environments(db, tmp)
    with ExitStack() as servers:
        bare = servers.enter_context(served(["--factory", "--app-dir", str(WRK_DIR), "bare_app:from_environment"],
                                            bare_env, db.workers, tmp))
        evenhand = servers.enter_context(served(["evenhand.asgi:app"], evenhand_env, db.workers, tmp))
        bench = Bench(wrk, bare, evenhand, token)
        rows = _rounds(bench)
    counts = check(bench, db, rows)
    return {"server_processes": db.workers, "summary": summary(rows), "rows": [r._asdict() for r in rows],
            "check": counts, "load1": _span([r.load1 for r in rows])}


def _version(wrk: str) -> str:
    first = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.splitlines()
    return first[0].split(" [")[0] if first else "wrk"


def run() -> dict[str, Any]:
    wrk = _wrk()  # before anything is built: without wrk there is nothing to measure
    figures: dict[str, Any] = {"evenhand_from": str(Path(evenhand.__file__).parent), "wrk": _version(wrk),
                               "seconds_per_row": SECONDS, "warm_seconds": WARM,
                               "rounds": ROUNDS, "cpus": os.cpu_count(),
                               "load_average_before": [round(x, 2) for x in os.getloadavg()], "aims": AIMS}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = measure(wrk, _sqlite(Path(tmp)), Path(tmp))
    if WITH_PG:
        with tempfile.TemporaryDirectory() as tmp:
            figures["postgresql"] = measure(wrk, _postgresql(), Path(tmp))
        _admin(f'DROP DATABASE "{PG_DATABASE}" WITH (FORCE)')  # kept only when the run failed, to be looked into
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def table(figures: dict[str, Any]) -> str:
    """The summary as a Markdown table: one line per database, target and connection count."""
    def cell(span: list[float]) -> str:
        return "–".join(f"{v:,.1f}" if v >= 10 else f"{v:.2f}" for v in span)

    lines = ["| database | row | conns | req/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for name in ("sqlite", "postgresql"):
        for connections, part in figures.get(name, {}).get("summary", {}).items():
            lines += [f"| {name} | {target} | {connections} | {cell(part[target]['rps'])} | "
                      f"{cell(part[target]['p50_ms'])} | {cell(part[target]['p99_ms'])} |" for target in TARGETS]
            lines.append(f"| {name} | routed / bare | {connections} | {cell(part['routed_vs_bare'])} "
                         f"(median {part['routed_vs_bare_median']:.2f}) | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
