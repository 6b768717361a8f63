"""Durable routed intake on SQLite: each lead validated, deduplicated, scored, routed, and committed with
its decision, audit entries, pool state and "new lead" message — against the raw single-row commit rate of
the same SQLite file, measured in the same run.

Two ways to commit: one lead per transaction (what one HTTP request does), and leads that arrive together
committed together (``intake.flows.take_in``: the batch endpoint, the importer) in groups of 10, 50
and 200 — each lead still gets its own decision, evidence and audit entries, identical to routing it alone
(tests/routing/test_router.py).

The organisation is bench/routed_org.py: 120 online reps in 15 teams under the shipped default policy,
with two months of history. The raw baseline is one ``BEGIN IMMEDIATE; INSERT; COMMIT`` per row through
the same engine (WAL, synchronous=FULL: a commit is on disk when it returns) — the floor any durable write
pays here. Beside it, for reference, transactions of seven bare inserts (``_floor_commits``): the least a lone
routed lead writes, with nothing read or decided.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))

from routed_org import build, lead_payload

from evenhand.db import session_scope
from evenhand.intake import flows as intake_flows
from evenhand.leads.schemas import LeadCreate

ROUTED = 1500
GROUPS = (10, 50, 200)
GROUPED = 2000
RAW = 3000
WARM = 50


def _raw_commits(engine: Any) -> float:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw"))
        conn.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"))
    started = time.perf_counter()
    for n in range(RAW):
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO bench_raw (payload) VALUES (:p)"), {"p": f"row {n}"})
    return RAW / (time.perf_counter() - started)


FLOOR_ROWS = 7  # rows a routed lead writes at least: lead, two audit entries, decision, message, pool state, score


def _floor_commits(engine: Any) -> float:
    """A reference, not a target: transactions that only insert ``FLOOR_ROWS`` indexed rows the size of a
    routed lead's, read nothing and decide nothing — what a lone lead per transaction could reach at best."""
    with engine.begin() as conn:
        for i in range(FLOOR_ROWS):
            conn.execute(text(f"DROP TABLE IF EXISTS bench_floor_{i}"))
            conn.execute(text(f"CREATE TABLE bench_floor_{i} (id INTEGER PRIMARY KEY, k TEXT, body TEXT, n INTEGER)"))
            conn.execute(text(f"CREATE INDEX ix_bench_floor_{i} ON bench_floor_{i} (k)"))
    started = time.perf_counter()
    for n in range(RAW):
        with session_scope(engine) as session:
            for i in range(FLOOR_ROWS):
                session.execute(text(f"INSERT INTO bench_floor_{i} (k, body, n) VALUES (:k, :b, :n)"),
                                {"k": f"key {n}", "b": "x" * 300, "n": n})
    return RAW / (time.perf_counter() - started)


class _Intake:
    def __init__(self, engine: Any) -> None:
        self.engine, self.next, self.outcomes = engine, 0, {}  # type: dict[str, int]

    def group(self, size: int) -> None:
        rows = [LeadCreate(**lead_payload(self.next + i)) for i in range(size)]  # type: ignore[arg-type]
        self.next += size
        with session_scope(self.engine) as session:
            for _, decision in intake_flows.take_in(session, rows, actor=None, dedup=["email", "phone"]):
                assert decision is not None
                self.outcomes[decision.outcome] = self.outcomes.get(decision.outcome, 0) + 1


def _one_by_one(intake: _Intake) -> tuple[float, list[float]]:
    for _ in range(WARM):
        intake.group(1)
    latencies = []
    started = time.perf_counter()
    for _ in range(ROUTED):
        t = time.perf_counter()
        intake.group(1)
        latencies.append((time.perf_counter() - t) * 1000)
    return ROUTED / (time.perf_counter() - started), latencies


def _grouped(intake: _Intake, size: int) -> float:
    started = time.perf_counter()
    for _ in range(GROUPED // size):
        intake.group(size)
    return (GROUPED // size) * size / (time.perf_counter() - started)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = build(f"sqlite:///{Path(tmp) / 'routed.sqlite'}")
        try:
            raw = _raw_commits(engine)
            floor = _floor_commits(engine)
            intake = _Intake(engine)
            routed, latencies = _one_by_one(intake)
            grouped = {size: _grouped(intake, size) for size in GROUPS}
            raw_again = _raw_commits(engine)
        finally:
            engine.dispose()
    raw_rate = (raw + raw_again) / 2  # before and after, so drift on a shared machine shows in both
    cuts = statistics.quantiles(latencies, n=100)
    return {"raw_single_row_commits_per_s": round(raw_rate, 1), "raw_before": round(raw, 1),
            "raw_after": round(raw_again, 1), "routed_intakes_per_s": round(routed, 1),
            "routed_vs_raw": round(routed / raw_rate, 3), f"floor_{FLOOR_ROWS}_rows_per_s": round(floor, 1),
            f"floor_{FLOOR_ROWS}_rows_vs_raw": round(floor / raw_rate, 3), "routed_p50_ms": round(cuts[49], 2),
            "routed_p99_ms": round(cuts[98], 2),
            **{f"grouped_{size}_per_s": round(rate, 1) for size, rate in grouped.items()},
            **{f"grouped_{size}_vs_raw": round(rate / raw_rate, 3) for size, rate in grouped.items()},
            "outcomes": intake.outcomes, "aim_routed_vs_raw": 0.25}


if __name__ == "__main__":
    print(run())
