"""KPI monitoring on the demo company: how many days after the simulated CRM upgrade (2026-08-15) each signal of the
incident fired, what the scan named as its cause, and the statistical anomalies in the demo's stable months.

The demo (seed 7, ending 2026-11-27) is built into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB
when set. The series are rebuilt in full (timed), refreshed again with nothing new (timed: the incremental
refresh's floor), then the scan replays each day from the upgrade to six weeks after it (``--until`` each day,
as the worker's daily scan would have seen it) and once over the whole year. Baseline in the same run: a plain
read through the cursor of the rows the series come from (leads and notifications)."""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from evenhand.db import make_engine, session_scope
from evenhand.monitor import scan, service

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url

END = date(2026, 11, 27)
UPGRADE = date(2026, 8, 15)
SIGNALS = ("notification_delivery", "notification_ack", "first_response_p90", "first_response_mean",
           "first_response_p50", "lead_conversion")
INCIDENT = (date(2026, 8, 1), date(2026, 11, 27))  # the upgrade, the weeks of slow responses and the recovery
BASELINE = ("SELECT id, created_at, assigned_at, first_response_at, closed_at, status, source, region FROM leads",
            "SELECT lead_id, channel, platform, app_version, sent_at, delivered_at, acknowledged_at "
            "FROM notifications")


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), END))
        figures = {"baseline_read_s": _plain_read(engine), **_refresh(engine)}
        figures["first_signal_days_after_upgrade"] = _first_signals(engine)
        figures.update(_year(engine))
        engine.dispose()
    return figures


def _plain_read(engine: Any) -> float:
    began = time.perf_counter()
    with engine.connect() as conn:
        for statement in BASELINE:
            conn.execute(text(statement)).fetchall()
    return round(time.perf_counter() - began, 3)


def _refresh(engine: Any) -> dict[str, Any]:
    out = {}
    for name, full in (("refresh_full_s", True), ("refresh_nothing_new_s", False)):
        began = time.perf_counter()
        with session_scope(engine) as session:
            done = service.refresh(session, until=END, full=full)
        out[name] = round(time.perf_counter() - began, 3)
        out[name.replace("_s", "_points")] = done.points
    return out


def _first_signals(engine: Any) -> dict[str, int | None]:
    """For each signal, the first day a replayed daily scan reported a statistical shift that started on or after
    the upgrade (days after it), or None within six weeks."""
    first: dict[str, int | None] = dict.fromkeys(SIGNALS)
    for offset in range(0, 43):
        day = UPGRADE + timedelta(days=offset)
        with session_scope(engine, readonly=True) as session:
            reports = scan.scan(session, until=day, days=30)
        for r in reports:
            started = scan.day_date(r.finding.started)
            if r.kpi.id in first and first[r.kpi.id] is None and r.finding.kind == "statistical" \
                    and started >= UPGRADE - timedelta(days=2) and r.finding.detected == scan.day_number(day):
                first[r.kpi.id] = offset
    return first


def _year(engine: Any) -> dict[str, Any]:
    began = time.perf_counter()
    with session_scope(engine, readonly=True) as session:
        reports = scan.scan(session, until=END, days=330)
    seconds = round(time.perf_counter() - began, 3)
    statistical = [r for r in reports if r.finding.kind == "statistical"]
    outside = [r for r in statistical if not INCIDENT[0] <= scan.day_date(r.finding.started) <= INCIDENT[1]]
    drop = next((r for r in statistical if r.kpi.id == "lead_conversion"
                 and scan.day_date(r.finding.started) >= UPGRADE - timedelta(days=3)), None)
    return {"scan_year_s": seconds, "anomalies_year": len(reports), "statistical_year": len(statistical),
            "outside_incident": len(outside), "outside_incident_by_kpi": dict(Counter(r.kpi.id for r in outside)),
            "outside_incident_list": [(r.kpi.id, scan.day_date(r.finding.started).isoformat(),
                                       round(r.finding.effect, 3)) for r in outside],
            "outside_quarters": round(((INCIDENT[0] - date(2025, 12, 28)).days + (END - INCIDENT[1]).days) / 91, 2),
            "conversion_drop": None if drop is None else {
                "started": scan.day_date(drop.finding.started).isoformat(),
                "detected": scan.day_date(drop.finding.detected).isoformat(), "effect": round(drop.finding.effect, 3),
                "chain": drop.chain, "changes": [c.id for c in drop.changes],
                "top": [(d.dimension, [e.value for e in d.elements]) for d in drop.dimensions]}}
