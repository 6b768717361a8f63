"""The process board on the demo company: milliseconds per board query (p50 and p95 over repeated runs) — the
board for the last 30 days and for a month (staff, one team, a supervisor, a rep), each drill-down, and the
compliance part (the standards' own figures, for the period and the one before).

The demo (seed 7, ending 2026-11-27) is built into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when
set (``evenhand demo --no-serve --db FILE --end-date 2026-11-27``). Baseline in the same run: a plain read of the
same rows through the driver's cursor (every deal, every stage change, the leads assigned in both periods), the
floor any computation over them pays.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.board import service
from evenhand.board.repository import Filters
from evenhand.db import make_engine, session_scope
from evenhand.models import Role, Team, User

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the demo's last afternoon, 17:00 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
RUNS = 15
STAFF = Principal(user_id=0, username="bench", display_name="bench", role=Role.AUDITOR, via="system")
BASELINE = ("SELECT id, owner_id, product_line_id, lead_id, created_at, stage, stage_changed_at FROM opportunities",
            "SELECT opportunity_id, to_stage, changed_at FROM stage_changes ORDER BY opportunity_id, changed_at, id",
            "SELECT id, owner_id, assigned_at FROM leads WHERE assigned_at >= '2026-09-27'")


def _demo(folder: Path) -> str:
    path = os.environ.get("EVENHAND_BENCH_DEMO_DB")
    if path:
        return f"sqlite:///{Path(path).resolve()}"
    from evenhand.demo.service import build
    from evenhand.migrate import upgrade

    url = f"sqlite:///{folder / 'demo.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    build(engine, seed=7, end_date=NOW.date())
    engine.dispose()
    return url


def _timed(engine: Any, work: Callable[[Any], Any]) -> dict[str, float]:
    """p50 and p95 milliseconds of ``work`` over ``RUNS`` runs, each in its own read-only session (as a request)."""
    seconds = []
    for _ in range(RUNS):
        with session_scope(engine, readonly=True) as session:
            began = time.perf_counter()
            work(session)
            seconds.append(time.perf_counter() - began)
    ordered = sorted(seconds)
    return {"p50_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1)}


def _baseline(session: Any) -> int:
    cursor = session.connection().connection.cursor()
    try:
        return sum(len(cursor.execute(sql).fetchall()) for sql in BASELINE)
    finally:
        cursor.close()


def _people(engine: Any) -> tuple[Principal, Principal, int]:
    """A supervisor and a rep of the demo as they sign in, and the first team's id."""
    with session_scope(engine, readonly=True) as session:
        boss = session.scalars(select(User).where(User.role == Role.SUPERVISOR).order_by(User.id)).first()
        rep = session.scalars(select(User).where(User.role == Role.REP).order_by(User.id)).first()
        team = session.scalars(select(Team.id).order_by(Team.id)).first()
        assert boss is not None and rep is not None and team is not None
        return principal_for(session, boss), principal_for(session, rep), team


def _board(session: Any, *, principal: Principal, query: service.Query) -> Any:
    return service.board(session, principal, query)


def _drill(session: Any, *, query: service.Query, what: service.Drill) -> Any:
    return service.drill(session, STAFF, query, what)


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(_demo(Path(folder)))
        boss, rep, team = _people(engine)
        last30 = service.period(ZONE, now=NOW)
        month = service.period(ZONE, month="2026-11", now=NOW)

        def query(period: service.Period, **filters: Any) -> service.Query:
            return service.Query(period, Filters(**filters), NOW)
        figures["baseline_plain_read"] = _timed(engine, _baseline)
        for name, principal, q in (("board_30_days_staff", STAFF, query(last30)),
                                   ("board_month_staff", STAFF, query(month)),
                                   ("board_30_days_one_team", STAFF, query(last30, team_id=team)),
                                   ("board_30_days_supervisor", boss, query(last30)),
                                   ("board_30_days_rep", rep, query(last30))):
            figures[name] = _timed(engine, partial(_board, principal=principal, query=q))
        for figure in service.FIGURES:
            figures[f"drill_{figure}"] = _timed(engine, partial(_drill, query=query(last30),
                                                                what=service.Drill(figure)))
        figures["compliance_30_days_and_before"] = _timed(
            engine, lambda s: service.compliance(s, STAFF, query(last30)))
        with session_scope(engine, readonly=True) as session:
            found = service.board(session, STAFF, query(last30))
            figures["rows"] = {"plain_read": _baseline(session), "reps": len(found["reps"]),
                               "teams": len(found["teams"])}
        engine.dispose()
    board = [v["p95_ms"] for k, v in figures.items() if k.startswith(("board_", "drill_"))]
    figures["slowest_board_query_p95_ms"] = max(board)
    return figures
