"""``audit.append_many`` writes the chain ``append`` would, through the connection: the same links, continued by
later ``append`` calls in the same transaction, and verified whole; inside a savepoint that rolls back, nothing."""

from __future__ import annotations

from sqlalchemy import Engine, delete

from evenhand.db import session_scope
from evenhand.kit import audit, audit_check
from evenhand.kit.clock import frozen
from evenhand.models import AuditEntry
from tests.builders import T0
from tests.support import audit_entries

ENTRIES = [audit.Entry("routing.intake", "leads", n, {"decision": {"rep_id": n, "score": 0.5 * n}}, None)
           for n in range(1, 4)]


def _fields(engine: Engine) -> list[tuple[object, ...]]:
    return [(e.seq, e.action, e.subject_id, e.payload, e.prev_hash, e.hash) for e in audit_entries(engine)]


def test_many_entries_link_as_one_by_one_would(engine: Engine) -> None:
    with frozen(T0), session_scope(engine) as session:
        first = audit.append(session, action="leads.intake", subject_type="leads", subject_id=9, flush=False)
        assert audit.append_many(session, ENTRIES) == [2, 3, 4]
        last = audit.append(session, action="leads.accept", subject_type="leads", subject_id=9)
        assert (first.seq, last.seq) == (1, 5)
    many = _fields(engine)
    with session_scope(engine) as session:
        assert audit_check.verify(session) == (5, None)
    with session_scope(engine) as session:  # the same entries appended one by one, over a fresh chain
        session.execute(delete(AuditEntry))
    with frozen(T0), session_scope(engine) as session:
        audit.append(session, action="leads.intake", subject_type="leads", subject_id=9, flush=False)
        for entry in ENTRIES:
            audit.append(session, **entry._asdict(), flush=False)
        audit.append(session, action="leads.accept", subject_type="leads", subject_id=9)
    assert _fields(engine) == many


def test_a_savepoint_that_rolls_back_takes_its_entries_with_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        audit.append_many(session, ENTRIES[:1])
        with session.begin_nested() as inner:
            audit.append_many(session, ENTRIES[1:])
            inner.rollback()
        audit.append_many(session, ENTRIES[1:2])
    assert [e.seq for e in audit_entries(engine)] == [1, 2]
    with session_scope(engine) as session:
        assert audit_check.verify(session) == (2, None)
