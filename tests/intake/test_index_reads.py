"""The reads of the intake path find their rows through an index, on both databases: the indexes on a column a new
row may leave empty hold only the rows that have it (migration 0016), and every read through them must still be
able to use them. A read that cannot falls back to scanning the whole table, which a company's history makes slow.

Each statement the intake of a few leads runs is explained with the parameters it ran with: SQLite's plan may not
SCAN the leads or the messages without an index; PostgreSQL's, with sequential scans priced out, may not scan them
sequentially (it would only if no index could answer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, func, select

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.intake import flows
from evenhand.kit.clock import utcnow
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Lead, Notification, Role, User
from evenhand.notify import escalation
from evenhand.notify import service as notify_service
from tests.routing.test_router import company

WATCHED = ("leads", "notifications")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent once (not an executemany: those are the writes) with its parameters, in order."""
    seen: list[tuple[str, Any]] = []

    def sent(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", sent)


def _scans(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan's lines that read a watched table whole."""
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            lines = [row[3] for row in cursor.fetchall()]
            return [line for line in lines
                    if any(line in (f"SCAN {t}", f"SCAN {t} USING INTEGER PRIMARY KEY") for t in WATCHED)]
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}", parameters)
        lines = [row[0] for row in cursor.fetchall()]
        conn.rollback()
        return [line for line in lines if any(f"Seq Scan on {t}" in line for t in WATCHED)]


def _lead(n: int, **given: Any) -> LeadCreate:
    return LeadCreate(**{"source": "website", "external_id": f"idx-{n}", "company": f"索引公司{n}", "region": "east",
                         "company_size": 120, **given})


def test_the_intake_reads_leads_and_messages_through_their_indexes(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        user_id = session.scalar(select(func.min(User.id)))
    assert user_id is not None
    actor = Principal(user_id=user_id, username="forms", display_name="官网表单", role=Role.OPS, via="token")
    leads = [_lead(1, email="Wang@Example.com", phone="13800000001"),
             _lead(2, email="wang@example.com"),  # a duplicate of the first, by its e-mail key
             _lead(3, phone="+86 138 0000 0001"),  # and by its phone key
             _lead(4)]  # no contact key at all
    with _statements(engine) as seen:
        with session_scope(engine) as session:
            flows.take_in(session, leads[:2], actor=actor, dedup=("email", "phone"))
        with session_scope(engine) as session:
            results = flows.take_in(session, [*leads[2:], leads[0]], actor=actor, dedup=("email", "phone"))
            message_id = session.scalar(select(func.max(Notification.id)).where(Notification.message_id.is_(None)))
            assert message_id is not None
            notify_service.deliveries(session, message_id, reader=actor)
            session.scalars(escalation._due(utcnow() + timedelta(days=1))).all()
            session.scalars(select(Lead).where(Lead.duplicate_of_id == results[0][0].lead.duplicate_of_id)).all()
    assert [r.lead.duplicate_of_id is not None for r, _ in results] == [True, False, False]
    assert [r.created for r, _ in results] == [True, True, False]
    reads = [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE"))
             and any(t in s for t in WATCHED)]
    assert len(reads) >= 8  # the existing leads, the duplicates, the members' counts, the messages, …
    scans = {statement: found for statement, parameters in reads if (found := _scans(engine, statement, parameters))}
    assert scans == {}
