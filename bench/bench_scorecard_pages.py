"""What the performance pages, exports and ``evenhand scorecard show`` read on the demo company: seconds (median of
five runs, and CPU seconds of this process, which runs the database too) for the team ranking of a quarter and of a
month (``ranking.read``: the live cards, the active templates, the high-volume low-quality pattern, the department
names), one rep's page (the ranking and six periods of their history), and the XLSX and PDF of the quarter.

Baseline in the same run: ``service.cards`` alone for the same period, the cards every one of these is built from;
the pattern and the names are what the ranking adds to it. The demo (seed 7, ending 2026-11-27) is built into a
temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when set (at the current migration).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from evenhand.db import make_engine, session_scope
from evenhand.performance import document, export, ranking, service
from evenhand.performance import period as periods

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url

END = date(2026, 11, 27)
QUARTER, MONTH = periods.parse("2026-Q3"), periods.parse("2026-09")
RUNS = 5
ZHANG_WEI = "zhangwei"


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


def _rep_page(session: Any, user_id: int) -> None:
    ranking.read(session, service.SYSTEM, QUARTER)
    ranking.history(session, service.SYSTEM, QUARTER, user_id)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), END))
        with session_scope(engine) as session:
            document.active(session)  # the templates' first version, written once, outside the timings
        with session_scope(engine, readonly=True) as session:
            found = ranking.read(session, service.SYSTEM, QUARTER)
            user_id = next(c.user_id for c in found.cards if c.name == "张伟")
        figures = {
            "cards": len(found.cards), "flagged": sorted(f.name for f in found.flags.values()),
            "baseline_cards_quarter": _timed(engine, lambda s: service.cards(s, service.SYSTEM, QUARTER)),
            "ranking_quarter": _timed(engine, lambda s: ranking.read(s, service.SYSTEM, QUARTER)),
            "baseline_cards_month": _timed(engine, lambda s: service.cards(s, service.SYSTEM, MONTH)),
            "ranking_month": _timed(engine, lambda s: ranking.read(s, service.SYSTEM, MONTH)),
            "rep_page_quarter_with_history": _timed(engine, lambda s: _rep_page(s, user_id)),
            "xlsx_quarter": _timed(engine, lambda s: export.to_xlsx(ranking.read(s, service.SYSTEM, QUARTER), "zh-CN")),
            "pdf_quarter": _timed(engine, lambda s: export.to_pdf(ranking.read(s, service.SYSTEM, QUARTER), "zh-CN")),
        }
        engine.dispose()
    return figures
