"""The monthly fairness report on the demo company (SQLite): one month's report, and each export.

Two cases: the demo as built (its history was handed out before routing, so every lead is measured
against an equal share), and the same database after routing ROUTED more leads on intake (each decision
read back from the audit chain). Set EVENHAND_BENCH_DEMO to a demo database built with
``evenhand demo --no-serve --end-date 2026-11-27`` to skip building one (~25 s); it is copied, not changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update

from evenhand.db import make_engine, session_scope
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Presence, User
from evenhand.reports import export, service
from evenhand.reports.monthly import FairnessReport, Month
from evenhand.routing import router

ZONE = ZoneInfo("Asia/Shanghai")
HISTORY_MONTH = Month(2026, 10)
ROUTED = int(os.environ.get("EVENHAND_BENCH_ROUTED", "2500"))
REGIONS = ["east", "south", "north", "central", "southwest"]


def _demo(workdir: Path) -> Path:
    given = os.environ.get("EVENHAND_BENCH_DEMO")
    target = workdir / "demo.sqlite"
    if given:
        shutil.copy(given, target)
        return target
    from evenhand.demo.service import build
    from evenhand.migrate import upgrade

    engine = make_engine(f"sqlite:///{target}")
    upgrade(engine)
    build(engine, seed=7, end_date=datetime(2026, 11, 27).date())
    engine.dispose()
    return target


def _timed_report(engine: Engine, month: Month) -> tuple[float, FairnessReport]:
    started = time.perf_counter()
    with session_scope(engine, readonly=True) as session:
        report = service.build(session, month=month, zone=ZONE, principal=None)
    return time.perf_counter() - started, report


def _exports(report: FairnessReport) -> dict[str, float]:
    out = {}
    for fmt in export.FORMATS:
        started = time.perf_counter()
        export.export(report, fmt, "zh-CN")
        out[f"export_{fmt}_s"] = round(time.perf_counter() - started, 3)
    return out


def _route(engine: Engine, count: int) -> tuple[float, int]:
    """Everyone online, always at work and without an open-lead cap; then ``count`` leads routed on intake,
    spread evenly over 25 days so daily caps rarely bite. Returns the seconds taken and the assigned count."""
    with session_scope(engine) as session:
        session.execute(update(User).values(presence=Presence.ONLINE, working_hours={}, max_open_leads=100_000))
    started, assigned = time.perf_counter(), 0
    at, step = datetime(2026, 11, 1, 1, 0, tzinfo=UTC), timedelta(days=25) / count
    with session_scope(engine) as session:
        for n in range(count):
            data = LeadCreate(source="website", external_id=f"BENCH-{n}", company=f"基准客户{n}",
                              region=REGIONS[n % 5], company_size=20 + n % 400)
            lead = lead_service.intake(session, data, actor=None, dedup=[]).lead
            assigned += router.route(session, lead, now=at + step * n).outcome == "assigned"
    return time.perf_counter() - started, assigned


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{_demo(Path(tmp))}")
        seconds, report = _timed_report(engine, HISTORY_MONTH)
        seconds, report = _timed_report(engine, HISTORY_MONTH)  # warm: the figure a second reader sees
        figures: dict[str, object] = {"history_month": HISTORY_MONTH.label, "history_report_s": round(seconds, 3),
                                      "history_leads": sum(t.leads for t in report.teams),
                                      **_exports(report)}
        routing_s, assigned = _route(engine, ROUTED)
        current = Month.of(datetime.now(UTC).astimezone(ZONE).date())
        seconds, routed = _timed_report(engine, current)
        figures |= {"routed_leads": ROUTED, "assigned": assigned, "routing_s": round(routing_s, 1),
                    "routed_month": current.label, "routed_report_s": round(seconds, 3),
                    "routed_month_leads": sum(t.leads for t in routed.teams)}
        engine.dispose()
    return figures


if __name__ == "__main__":
    print(run())
