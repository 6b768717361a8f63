"""The rep's and the supervisor's home page on the demo company: milliseconds per tile's read (p50 and p95 over
repeated runs) for the rep with the most open leads and for the supervisor of their team — new leads waiting for
acceptance, follow-ups due by the stage standards, open alerts (count and newest), QA feedback and coaching, the QA
queue, appeals to rule on.

The demo (seed 7, ending 2026-11-27) is built into a temporary SQLite file, or read from EVENHAND_BENCH_DEMO_DB when
set (``evenhand demo --no-serve --db FILE --end-date 2026-11-27``); the alert scan runs once first, so the alert
tiles have rows to count. Baseline in the same run: a plain read through the driver's cursor of what the follow-ups
judge (the rep's open leads and deals, their stage changes and every activity on them), the floor that read pays.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from evenhand.alerts import service as alerts
from evenhand.appeals import reading
from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import frozen
from evenhand.models import Lead, Team, User
from evenhand.notify import service as notify
from evenhand.qa import service as qa
from evenhand.standards import service as standards

sys.path.insert(0, str(Path(__file__).parent))
from demo_db import demo_url, page_timed

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the demo's last afternoon, 17:00 in Shanghai
RUNS = 15
BASELINE = ("SELECT id, assigned_at, closed_at FROM leads WHERE owner_id = :rep AND closed_at IS NULL",
            "SELECT id, stage, stage_changed_at, lead_id FROM opportunities WHERE owner_id = :rep "
            "AND stage NOT IN ('won', 'lost')",
            "SELECT s.opportunity_id, s.to_stage, s.changed_at FROM stage_changes s JOIN opportunities o "
            "ON o.id = s.opportunity_id WHERE o.owner_id = :rep AND o.stage NOT IN ('won', 'lost')",
            "SELECT a.id, a.type, a.occurred_at, a.rep_id, a.direction FROM activities a WHERE a.lead_id IN "
            "(SELECT id FROM leads WHERE owner_id = :rep AND closed_at IS NULL) OR a.opportunity_id IN "
            "(SELECT id FROM opportunities WHERE owner_id = :rep AND stage NOT IN ('won', 'lost'))")


def _baseline(rep_id: int) -> Callable[[Any], int]:
    def read(session: Any) -> int:
        cursor = session.connection().connection.cursor()
        try:
            return sum(len(cursor.execute(sql.replace(":rep", str(rep_id))).fetchall()) for sql in BASELINE)
        finally:
            cursor.close()
    return read


def _people(engine: Any) -> tuple[Principal, Principal]:
    """The rep with the most open leads and the supervisor of their team, as they sign in."""
    with session_scope(engine, readonly=True) as session:
        rep_id = session.scalars(select(Lead.owner_id).where(Lead.closed_at.is_(None), Lead.owner_id.is_not(None))
                                 .group_by(Lead.owner_id).order_by(func.count().desc()).limit(1)).one()
        rep = session.get(User, rep_id)
        assert rep is not None and rep.team_id is not None
        boss = session.get(User, session.scalars(select(Team.supervisor_id).where(Team.id == rep.team_id)).one())
        assert boss is not None
        return principal_for(session, rep), principal_for(session, boss)


def _tiles(rep: Principal, boss: Principal) -> dict[str, Callable[[Any], Any]]:
    return {
        "rep_waiting_leads": lambda s: notify.waiting_leads(s, rep.user_id),
        "rep_follow_ups": lambda s: standards.follow_ups(s, rep, now=NOW),
        "rep_alerts": lambda s: (alerts.counted(s, rep, scope="mine", now=NOW),
                                 alerts.listed(s, rep, scope="mine", limit=5, now=NOW)),
        "rep_qa_feedback": lambda s: (qa.feedback(s, rep), qa.open_coaching(s, rep, rep.user_id)),
        "supervisor_alerts": lambda s: (alerts.counted(s, boss, scope="teams", now=NOW),
                                        alerts.listed(s, boss, scope="teams", limit=5, now=NOW)),
        "supervisor_qa_queue": lambda s: qa.queue(s, boss),
        "supervisor_appeals": lambda s: reading.waiting(s, boss),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(demo_url(Path(folder), NOW.date()))
        with frozen(NOW), session_scope(engine) as session:
            alerts.scan(session, now=NOW)
        rep, boss = _people(engine)
        with frozen(NOW):
            figures: dict[str, Any] = {"baseline_cursor_read": page_timed(engine, _baseline(rep.user_id), RUNS)}
            figures |= {name: page_timed(engine, work, RUNS) for name, work in _tiles(rep, boss).items()}
            with session_scope(engine, readonly=True) as session:
                figures["rows"] = {"follow_ups": len(standards.follow_ups(session, rep, now=NOW)),
                                   "rep_alerts": alerts.counted(session, rep, scope="mine", now=NOW),
                                   "team_alerts": alerts.counted(session, boss, scope="teams", now=NOW)}
        engine.dispose()
    return figures
