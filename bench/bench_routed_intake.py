"""Durable routed intake on SQLite: each lead validated, deduplicated, scored, routed, and committed
with its decision, audit entry and pool state in one transaction — against the raw single-row commit
rate of the same SQLite file, measured in the same run.

The organisation is bench/routed_org.py: 120 online reps in 15 teams under the shipped default
policy, with two months of history. The raw baseline is one ``BEGIN IMMEDIATE; INSERT; COMMIT`` per
row through the same engine (WAL, synchronous=NORMAL) — the floor any durable write pays here.
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
from evenhand.leads.schemas import LeadCreate
from evenhand.routing import flows

ROUTED = 1500
RAW = 3000
WARM = 50


def _raw_commits(engine: Any) -> float:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"))
    started = time.perf_counter()
    for n in range(RAW):
        with session_scope(engine) as session:
            session.execute(text("INSERT INTO bench_raw (payload) VALUES (:p)"), {"p": f"row {n}"})
    return RAW / (time.perf_counter() - started)


def _routed(engine: Any) -> tuple[float, list[float], dict[str, int]]:
    outcomes: dict[str, int] = {}

    def one(n: int) -> None:
        with session_scope(engine) as session:
            _, decision = flows.intake_and_route(session, LeadCreate(**lead_payload(n)), actor=None,  # type: ignore[arg-type]
                                                 dedup=["email", "phone"])
            assert decision is not None
            outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1

    for n in range(WARM):
        one(n)
    latencies = []
    started = time.perf_counter()
    for n in range(WARM, WARM + ROUTED):
        t = time.perf_counter()
        one(n)
        latencies.append((time.perf_counter() - t) * 1000)
    return ROUTED / (time.perf_counter() - started), latencies, outcomes


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = build(f"sqlite:///{Path(tmp) / 'routed.sqlite'}")
        try:
            raw = _raw_commits(engine)
            routed, latencies, outcomes = _routed(engine)
            raw_again = _raw_commits_again(engine)
        finally:
            engine.dispose()
    raw_rate = (raw + raw_again) / 2  # before and after, so drift on a shared machine shows in both
    cuts = statistics.quantiles(latencies, n=100)
    return {"raw_single_row_commits_per_s": round(raw_rate, 1), "raw_before": round(raw, 1),
            "raw_after": round(raw_again, 1), "routed_intakes_per_s": round(routed, 1),
            "routed_vs_raw": round(routed / raw_rate, 3), "routed_p50_ms": round(cuts[49], 2),
            "routed_p99_ms": round(cuts[98], 2), "outcomes": outcomes, "aim_routed_vs_raw": 0.25}


def _raw_commits_again(engine: Any) -> float:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_raw"))
    return _raw_commits(engine)


if __name__ == "__main__":
    print(run())
