"""The demo company a benchmark measures (the one the environment names, or one built in a folder, seed 7), and
how a page's read is timed on it.

- ``EVENHAND_BENCH_DEMO_URL``: a demo built in another database (PostgreSQL), used as it is;
- ``EVENHAND_BENCH_DEMO_DB``: a demo SQLite file, brought up to the current schema first;
- otherwise the demo is built in ``folder`` up to ``end_date`` (a few minutes).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade


def demo_url(folder: Path, end_date: date) -> str:
    if os.environ.get("EVENHAND_BENCH_DEMO_URL"):
        return os.environ["EVENHAND_BENCH_DEMO_URL"]
    given = os.environ.get("EVENHAND_BENCH_DEMO_DB")
    url = f"sqlite:///{Path(given).resolve()}" if given else f"sqlite:///{folder / 'demo.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    if not given:
        from evenhand.demo.service import build

        build(engine, seed=7, end_date=end_date)
    engine.dispose()
    return url


def page_timed(engine: Any, work: Callable[[Any], Any], runs: int) -> dict[str, float]:
    """p50 and p95 milliseconds of ``work`` over ``runs`` runs, each in its own read-only session (as a page)."""
    seconds = []
    for _ in range(runs):
        with session_scope(engine, readonly=True) as session:
            began = time.perf_counter()
            work(session)
            seconds.append(time.perf_counter() - began)
    ordered = sorted(seconds)
    return {"p50_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1)}
