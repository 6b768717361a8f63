"""The home page's figures on the demo company: milliseconds (p50 and p95 over repeated runs) of each read behind the
company tiles of sales ops and the head of sales (funnel of both months, first response, routing health, the two
months' fairness reports, alerts by team, and the whole overview), of a supervisor's team board in brief and of a
rep's month so far — this month being the demo's last month, November 2026.

The demo (seed 7, ending 2026-11-27) is built into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when
set (``evenhand demo --no-serve --db FILE --end-date 2026-11-27``; upgraded to the current schema first); the alert
scan runs once first, so the alerts tile has rows to count. Baseline in the same run: a plain count through the
driver's cursor of the two months' leads and deals, the floor any funnel pays.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from evenhand.alerts import service as alerts
from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.board import service as board
from evenhand.board.repository import Filters
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import frozen
from evenhand.models import Lead, Role, Team, User
from evenhand.reports import overview, service
from evenhand.reports.monthly import Month

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url, page_timed

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the demo's last afternoon, 17:00 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")
RUNS = 15
BASELINE = ("SELECT COUNT(*) FROM leads WHERE created_at >= '2026-09-30 16:00:00'",
            "SELECT COUNT(*) FROM opportunities WHERE created_at >= '2026-09-30 16:00:00' "
            "OR closed_at >= '2026-09-30 16:00:00'")


def _baseline(session: Any) -> int:
    cursor = session.connection().connection.cursor()
    try:
        return sum(cursor.execute(sql).fetchone()[0] for sql in BASELINE)
    finally:
        cursor.close()


def _people(engine: Any) -> tuple[Principal, Principal, Principal]:
    """The head of sales (an ops user), the supervisor of the first team, and the rep of that team with the most
    leads, as they sign in."""
    with session_scope(engine, readonly=True) as session:
        ops = session.scalars(select(User).where(User.role == Role.OPS).order_by(User.id)).first()
        team = session.scalars(select(Team).where(Team.supervisor_id.is_not(None)).order_by(Team.id)).first()
        assert ops is not None and team is not None
        rep_id = session.scalars(select(Lead.owner_id).join(User, User.id == Lead.owner_id).where(
            User.team_id == team.id, User.role == Role.REP).group_by(Lead.owner_id).order_by(
            func.count().desc()).limit(1)).one()
        return (principal_for(session, ops), principal_for(session, session.get_one(User, team.supervisor_id)),
                principal_for(session, session.get_one(User, rep_id)))


def _reads(ops: Principal, boss: Principal, rep: Principal) -> dict[str, Callable[[Any], Any]]:
    period = board.period(ZONE, month="2026-11", now=NOW)
    team = min(boss.supervised_team_ids)
    return {
        "funnel_two_months": lambda s: (overview.funnel(s, ops, since=period.since, until=NOW),
                                        overview.funnel(s, ops, since=period.previous_since, until=period.since)),
        "first_response": lambda s: board.first_response(s, ops, board.Query(period, Filters(), NOW)),
        "routing_health": lambda s: overview.routing_health(s, since=period.since, now=NOW),
        "fairness_two_months": lambda s: [service.build(s, month=m, zone=ZONE, principal=ops, now=NOW)
                                          for m in (Month(2026, 11), Month(2026, 10))],
        "alerts_by_team": lambda s: alerts.counts_by_team(s, ops, now=NOW),
        "company_overview": lambda s: overview.overview(s, ops, zone=ZONE, now=NOW),
        "supervisor_team_brief": lambda s: board.brief(s, boss, team_id=team, zone=ZONE, now=NOW),
        "rep_month_so_far": lambda s: overview.month_so_far(s, rep, zone=ZONE, now=NOW),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), NOW.date()))
        with frozen(NOW), session_scope(engine) as session:
            alerts.scan(session, now=NOW)
        ops, boss, rep = _people(engine)
        figures: dict[str, Any] = {"baseline_cursor_count": page_timed(engine, _baseline, RUNS)}
        figures |= {name: page_timed(engine, work, RUNS) for name, work in _reads(ops, boss, rep).items()}
        with session_scope(engine, readonly=True) as session:
            found = overview.overview(session, ops, zone=ZONE, now=NOW)
            figures["rows"] = {"funnel": [f.steps for f in found.funnel], "live_alerts": found.alerts.total,
                               "first_response_leads": found.response[0]["leads"]}
        engine.dispose()
    return figures
