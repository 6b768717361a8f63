"""Call QA's monthly draw on SQLite: a month of 300,000 recorded outbound calls by 400 reps (plus as many calls that
are not in the population: inbound, unrecorded, another month), stratified at 10 %, end to end (read the population,
draw, write a review row per sampled call, audit), and verifying it from its seed; against, in the same run on the
same database, the plain SQL a report would write for an unstratified sample (``ORDER BY random() LIMIT quota``) and
an ``executemany`` of as many review rows. The pure sampler is timed on 1,000,000 calls, and the draw's
stratification checked (every rep drawn from, the size within the quota plus the reps with under 10 calls).

    .venv/bin/python bench/bench_qa_sample.py            # alone
    .venv/bin/python bench/run.py qa_sample               # written to bench/results/qa_sample.json

EVENHAND_BENCH_QA_CALLS changes the month's call count."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, text

CALLS = int(os.environ.get("EVENHAND_BENCH_QA_CALLS", "300000"))
REPS = 400
PERIOD = "2026-10"
START = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 1 October, 00:00 in Shanghai
SHARE = 0.1


def _seed(engine: Engine, calls: int) -> None:
    """Reps with skewed volumes (a few with fewer than ten calls), the month's calls and as many others."""
    from evenhand.models import Activity, User

    rng = np.random.default_rng(5)
    weights = rng.pareto(1.2, REPS) + 0.02
    reps = rng.choice(np.arange(1, REPS + 1), size=2 * calls, p=weights / weights.sum())
    seconds = rng.uniform(0, 31 * 86400, 2 * calls)
    kind = np.arange(2 * calls) % 2  # odd rows are not in the population
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": i, "username": f"rep{i}", "display_name": f"Rep {i}", "role": "rep"}
                                    for i in range(1, REPS + 1)])
        rows = [{"id": i + 1, "type": "call", "direction": "inbound" if k and i % 4 == 1 else "outbound",
                 "source_system": "telephony", "external_id": f"T-{i}", "rep_id": int(r),
                 "occurred_at": (START + timedelta(seconds=float(s) + (0 if k == 0 or i % 4 != 3 else 40 * 86400))
                                 ).replace(tzinfo=None),
                 "recording_ref": None if k and i % 4 == 0 else f"recordings/{PERIOD}/call-{i:09d}.mp3",
                 "attachment_count": 0}
                for i, (r, s, k) in enumerate(zip(reps.tolist(), seconds.tolist(), kind.tolist(), strict=True))]
        for at in range(0, len(rows), 20_000):
            conn.execute(insert(Activity), rows[at:at + 20_000])


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _draw(engine: Engine) -> tuple[float, float, Any, bool]:
    from evenhand.db import session_scope
    from evenhand.qa import service

    def draw() -> Any:
        with session_scope(engine) as session:
            drawn = service.draw(session, PERIOD, seed=2026, share=SHARE)
            return drawn.sample.calls, drawn.ids

    seconds, (population, ids) = _timed(draw)

    def verify() -> bool:
        with session_scope(engine, readonly=True) as session:
            return service.verify(session, PERIOD).matches

    verify_seconds, matches = _timed(verify)
    return seconds, verify_seconds, (population, ids), matches


BASELINE = """SELECT id, rep_id FROM activities WHERE type = 'call' AND direction = 'outbound'
  AND recording_ref IS NOT NULL AND occurred_at >= :start AND occurred_at < :end ORDER BY random() LIMIT :n"""


def _baseline(engine: Engine, n: int) -> float:
    end = START + timedelta(days=31)
    started = time.perf_counter()
    with engine.begin() as conn:
        picked = conn.execute(text(BASELINE), {"start": START.replace(tzinfo=None), "end": end.replace(tzinfo=None),
                                               "n": n}).all()
        conn.execute(text("INSERT INTO qa_samples (period, seed, share, calls, drawn, drawn_at, current) "
                          "VALUES ('2026-09', 1, 0.1, 0, 0, '2026-10-01', 0)"))
        sample: int = conn.execute(text("SELECT max(id) FROM qa_samples")).scalar_one()
        conn.execute(text("INSERT INTO qa_reviews (sample_id, activity_id, rep_id, status, scores, comment, coaching) "
                          "VALUES (:s, :a, :r, 'pending', '{}', '', '[]')"),
                     [{"s": sample, "a": a, "r": r} for a, r in picked])
    return time.perf_counter() - started


def _stratification(engine: Engine, ids: list[int]) -> dict[str, Any]:
    with engine.connect() as conn:
        reps: dict[int, int] = dict(conn.execute(text(
            "SELECT rep_id, count(*) FROM activities WHERE type = 'call' AND direction = 'outbound' AND "
            "recording_ref IS NOT NULL AND occurred_at >= :start AND occurred_at < :end GROUP BY rep_id"),
            {"start": START.replace(tzinfo=None), "end": (START + timedelta(days=31)).replace(tzinfo=None)}).all())
        drawn: dict[int, int] = dict(conn.execute(text(
            "SELECT rep_id, count(*) FROM qa_reviews r JOIN qa_samples s ON s.id = r.sample_id WHERE s.period = :p "
            "GROUP BY rep_id"), {"p": PERIOD}).all())
    small = len([n for n in reps.values() if n * SHARE < 1])
    quota = int(np.floor(sum(reps.values()) * SHARE + 0.5))
    return {"reps_with_calls": len(reps), "reps_drawn_from": len(drawn), "quota": quota, "drawn": len(ids),
            "reps_under_one_call_of_quota": small, "within_rule": quota <= len(ids) <= quota + small}


def _pure(n: int = 1_000_000) -> dict[str, Any]:
    from evenhand.qa import sampling

    rng = np.random.default_rng(1)
    ids = rng.permutation(np.arange(1, n + 1, dtype=np.int64))
    reps = rng.integers(1, 2001, n).astype(np.int64)
    seconds, result = _timed(lambda: sampling.draw(ids, reps, SHARE, 7))
    return {"calls": n, "reps": 2000, "drawn": len(result.ids), "seconds": round(seconds, 3)}


def run() -> dict[str, Any]:
    from evenhand.db import make_engine
    from evenhand.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="bench-qa-") as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'qa.sqlite'}")
        upgrade(engine)
        _seed(engine, CALLS)
        seconds, verify_seconds, (population, ids), matches = _draw(engine)
        baseline = _baseline(engine, len(ids))
        figures = {"activities": 2 * CALLS, "population": population, "draw_seconds": round(seconds, 3),
                   "verify_seconds": round(verify_seconds, 3), "verify_matches": matches,
                   "baseline_unstratified_sql_seconds": round(baseline, 3),
                   "draw_vs_baseline_time": round(seconds / baseline, 3) if baseline else None,
                   "stratification": _stratification(engine, ids), "pure_sampler": _pure()}
        engine.dispose()
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    print(json.dumps(run(), indent=2, ensure_ascii=False))
