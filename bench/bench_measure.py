"""The performance metrics on the demo company: seconds (median of five runs, and the CPU time of this process, which
runs the database too) for ``performance.repository.measure`` of every rep over a quarter and over a month, each
source table's read on its own, and one rep measured alone.

The demo (seed 7, ending 2026-11-27) is built into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when
set (``evenhand demo --no-serve --db FILE --end-date 2026-11-27``, at the current migration). Baselines in the same
run: a plain read through the driver's cursor of the quarter's rows every metric is computed from (payments with
their contract's owner, contracts signed or ending, deals won, stage changes, visits and meetings, leads assigned,
survey answers, complaints), the floor any computation over them pays; and the compliance service's figures for the
quarter alone, which ``measure`` reads as they are.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evenhand.db import make_engine, session_scope
from evenhand.performance import period as periods
from evenhand.performance import repository

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the demo's last afternoon, 17:00 in Shanghai
QUARTER, MONTH = periods.parse("2026-Q3"), periods.parse("2026-09")
RUNS = 5
SINCE, UNTIL = "'2026-06-30 16:00:00'", "'2026-09-30 16:00:00'"  # the quarter's local days, in UTC
WITHIN = f">= {SINCE} AND {{c}} < {UNTIL}"
BASELINE = (
    "SELECT c.owner_id, p.amount FROM payments p JOIN contracts c ON c.id = p.contract_id WHERE p.received_at "
    + WITHIN.format(c="p.received_at"),
    "SELECT owner_id, kind, amount, renewed FROM contracts WHERE signed_at " + WITHIN.format(c="signed_at")
    + " OR ends_on >= '2026-07-01' AND ends_on < '2026-10-01'",
    "SELECT owner_id, discount_pct FROM opportunities WHERE stage = 'won' AND closed_at "
    + WITHIN.format(c="closed_at"),
    "SELECT opportunity_id, to_stage, changed_at FROM stage_changes WHERE changed_at " + WITHIN.format(c="changed_at"),
    "SELECT rep_id, type FROM activities WHERE type IN ('visit', 'meeting') AND occurred_at "
    + WITHIN.format(c="occurred_at"),
    "SELECT owner_id, assigned_at, first_response_at FROM leads WHERE assigned_at " + WITHIN.format(c="assigned_at"),
    "SELECT rep_id, kind, score FROM survey_responses WHERE responded_at " + WITHIN.format(c="responded_at"),
    "SELECT rep_id FROM complaints WHERE received_at " + WITHIN.format(c="received_at"),
)


def _timed(engine: Any, work: Callable[[Any], Any]) -> dict[str, float]:
    """Median seconds and CPU seconds of ``work`` over ``RUNS`` runs, each in its own read-only session."""
    seconds, cpu = [], []
    for _ in range(RUNS):
        with session_scope(engine, readonly=True) as session:
            began, used = time.perf_counter(), time.process_time()
            work(session)
            seconds.append(time.perf_counter() - began)
            cpu.append(time.process_time() - used)
    return {"seconds": round(statistics.median(seconds), 3), "cpu_seconds": round(statistics.median(cpu), 3)}


def _baseline(session: Any) -> int:
    cursor = session.connection().connection.cursor()
    try:
        return sum(len(cursor.execute(sql).fetchall()) for sql in BASELINE)
    finally:
        cursor.close()


def _sources(engine: Any, reps: list[int]) -> dict[str, Any]:
    """Each source table's statement alone over the quarter (compliance: the service's figures)."""
    bounds = repository.span(QUARTER, now=NOW)
    reads: dict[str, Callable[[Any], Any]] = {
        f.__name__.strip("_"): (lambda s, f=f: f(s.connection(), bounds, reps)) for f in (  # type: ignore[misc]
            repository._payments, repository._contracts, repository._won, repository._proposals,
            repository._visits, repository._responses, repository._surveys, repository._complaints)}
    reads["compliance"] = lambda s: repository._compliance(s, bounds, reps)
    return {name: _timed(engine, read)["seconds"] for name, read in reads.items()}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), NOW.date()))
        with session_scope(engine, readonly=True) as session:
            reps = sorted(repository.rep_facts(session))
            rows = _baseline(session)
            measured = repository.measure(session, QUARTER, now=NOW)
        quarter = _timed(engine, lambda s: repository.measure(s, QUARTER, now=NOW))
        baseline = _timed(engine, _baseline)
        figures: dict[str, Any] = {
            "reps": len(reps), "baseline_rows": rows,
            "scored_cells": sum(m.value is not None for mine in measured.values() for m in mine.values()),
            "quarter": quarter, "baseline_plain_read": baseline,
            "ratio_to_plain_read": round(quarter["seconds"] / max(baseline["seconds"], 1e-6), 1),
            "month": _timed(engine, lambda s: repository.measure(s, MONTH, now=NOW)),
            "one_rep_quarter": _timed(engine, lambda s: repository.measure(s, QUARTER, [reps[0]], now=NOW)),
            "sources_quarter_seconds": _sources(engine, reps)}
        engine.dispose()
    return figures
