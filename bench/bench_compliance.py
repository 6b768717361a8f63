"""Compliance with the stage standards on the demo company: seconds (median of five runs) for the figures of 7, 30
and 90 days and for the editor's 30-day preview (read once, judged under two versions).

The demo (seed 7, ending 2026-11-27, ~280,000 activities) is built into a temporary SQLite file, or read from
EVENHAND_BENCH_DEMO_DB when set (``evenhand demo --no-serve --db FILE --end-date 2026-11-27``). Baseline in the same
run: a plain read of the same activities' columns (every activity of the window's leads and deals, one statement),
the floor any computation over them pays.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.models import Role
from evenhand.standards import service

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the demo's last afternoon, 17:00 in Shanghai
DAYS = (7, 30, 90)
RUNS = 5
STAFF = Principal(user_id=0, username="bench", display_name="bench", role=Role.AUDITOR, via="system")
BASELINE = text("""SELECT id, type, occurred_at, rep_id, direction, source_system, duration_seconds, answered, replied,
                   attachment_count, message_count, lead_id, opportunity_id FROM activities
                   WHERE occurred_at >= :since AND (lead_id IN (SELECT id FROM leads WHERE assigned_at >= :since)
                   OR opportunity_id IN (SELECT opportunity_id FROM stage_changes WHERE changed_at >= :since))""")


def _timed(engine: Any, work: Any) -> tuple[Any, float]:
    """The result of ``work`` and its median seconds over ``RUNS`` runs, each in its own read-only session."""
    seconds = []
    for _ in range(RUNS):
        with session_scope(engine, readonly=True) as session:
            began = time.perf_counter()
            result = work(session)
            seconds.append(time.perf_counter() - began)
    return result, statistics.median(seconds)


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), NOW.date()))
        with session_scope(engine) as session:
            service.active(session)
        for days in DAYS:
            since = NOW - timedelta(days=days)
            naive = since.replace(tzinfo=None).isoformat(sep=" ")
            rows, read = _timed(engine, lambda s, n=naive: s.execute(BASELINE, {"since": n}).all())
            result, total = _timed(engine, lambda s, x=since: service.figures(s, STAFF, since=x, now=NOW))
            overall = result["overall"]
            figures[f"days_{days}"] = {"entries": overall["entries"], "share_on_time": overall["share_on_time"],
                                       "activities_read": len(rows), "seconds": round(total, 3),
                                       "baseline_plain_read_seconds": round(read, 3),
                                       "ratio_to_plain_read": round(total / read, 1) if read else None}
        draft = service.default_text().replace("within: 48h", "within: 24h")
        preview, seconds = _timed(engine, lambda s: service.preview(s, STAFF, draft, now=NOW))
        figures["preview_30_days"] = {"seconds": round(seconds, 3),
                                      "current_share": preview["current"]["overall"]["share_on_time"],
                                      "candidate_share": preview["candidate"]["overall"]["share_on_time"]}
        engine.dispose()
    return figures
