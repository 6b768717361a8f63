"""Hot statements on the driver's cursor (``kit.cursor.Prepared``) and new ORM objects inserted through them
(``kit.written.insert``), on SQLite and PostgreSQL: the same rows as SQLAlchemy's own execution, values bound and
read through their types, errors raised as SQLAlchemy raises them, and nothing left for the ORM to flush."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Table, bindparam, event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.kit import written
from evenhand.kit.cursor import FEW, Prepared, writes
from evenhand.models import AlertMark, AuditEntry, Lead, LeadStatus
from tests.support import statements

BEIJING = timezone(timedelta(hours=8))
MARKS: Table = AlertMark.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]
_BY_ID = Prepared(select(Lead.id, Lead.status, Lead.assigned_at, Lead.score).where(Lead.id == bindparam("id")))
_MARK = Prepared(writes(MARKS, ["entity_type", "entity_id"]))


def _lead(n: int, **values: Any) -> Lead:
    return Lead(source="form", external_id=f"prepared-{n}", company=f"公司{n}", **values)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


def test_values_go_through_their_types_both_ways(session: Session) -> None:
    """An aware time is stored as naive UTC and read back aware; an enum by its value."""
    lead = _lead(1, status=LeadStatus.ASSIGNED, assigned_at=datetime(2026, 3, 1, 18, 0, tzinfo=BEIJING), score=70)
    written.insert(session, [lead])
    found = _BY_ID.first(session.connection(), {"id": lead.id})
    assert found == (lead.id, "assigned", datetime(2026, 3, 1, 10, 0, tzinfo=UTC), 70)
    core = session.connection().execute(select(Lead.assigned_at).where(Lead.id == lead.id)).scalar_one()
    assert core == found[2]
    assert _BY_ID.first(session.connection(), {"id": -1}) is None


def test_an_inserted_object_holds_what_was_stored_and_tracks_later_changes(engine: Engine, session: Session) -> None:
    """The defaults filled in are on the object (read with no statement), which is persistent and clean, as if
    loaded: a fresh load reads the same values, and a change made afterwards is flushed like any other."""
    lead = _lead(4, score=40)
    written.insert(session, [lead])
    with statements(engine) as seen:
        assert (lead.status, lead.page_views, lead.backfilled) == (LeadStatus.NEW, 0, False) and lead.created_at
    assert seen == []
    assert inspect(lead).persistent and lead in session and not session.dirty and not session.new
    held = {name: getattr(lead, name) for name in ("id", "status", "page_views", "score", "created_at")}
    session.expire(lead)
    assert {name: getattr(lead, name) for name in held} == held
    lead.score = 90
    assert lead in session.dirty
    session.flush()
    assert session.connection().execute(select(Lead.score).where(Lead.id == lead.id)).scalar_one() == 90


def _stored(session: Session, external_id: str) -> dict[str, Any]:
    row = session.connection().execute(select(LEADS).where(LEADS.c.external_id == external_id)).mappings().one()
    return {k: v for k, v in row.items() if k not in ("id", "external_id", "created_at")}


def test_an_object_made_without_its_constructor_is_stored_as_a_constructed_one(session: Session) -> None:
    """``written.new`` (no attribute events): inserted by ``insert`` or flushed by the ORM (a decision recorded on
    its own), its row is the constructed object's, but for its keys; a change made before it is stored is tracked
    as on any transient object, and one made after it, flushed."""
    values = {"source": "form", "company": "公司", "score": 40, "region": "east"}
    built = [written.new(Lead, {**values, "external_id": f"made-{n}"}) for n in range(2)]
    constructed = [Lead(**values, external_id=f"constructed-{n}") for n in range(2)]
    for lead in (built[0], constructed[0]):
        lead.owner_id, lead.status = None, LeadStatus.ASSIGNED  # as routing gives a lead not stored yet its rep
    written.insert(session, [built[0], constructed[0]])
    session.add_all([built[1], constructed[1]])
    session.flush()
    assert inspect(built[1]).persistent and not session.dirty and not session.new
    for made, twin in zip(built, constructed, strict=True):
        assert made.id and _stored(session, made.external_id) == _stored(session, twin.external_id)
    assert _stored(session, "made-0")["status"] == "assigned" and _stored(session, "made-1")["status"] == "new"
    built[0].score = 90
    session.flush()
    assert _stored(session, "made-0")["score"] == 90
    with pytest.raises(TypeError, match="no attribute colour"):
        written.new(Lead, {**values, "external_id": "made-2", "colour": "red"})


def test_a_listener_on_the_cursor_sees_every_statement(engine: Engine, session: Session) -> None:
    """With a statement counter on the engine the statements go through ``exec_driver_sql`` and are seen; the rows
    are the same either way."""
    written.insert(session, [_lead(2)])
    quiet = _BY_ID.rows(session.connection(), {"id": 1})
    with statements(engine) as seen:
        heard = _BY_ID.rows(session.connection(), {"id": 1})
        _MARK.many(session.connection(), [{"entity_type": "lead", "entity_id": 1}])
    assert heard == quiet
    assert [s.split(" ")[0] for s in seen] == ["SELECT", "INSERT"]


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(session: Session) -> None:
    """Callers catch one kind of error (the HTTP layer answers an IntegrityError with 409)."""
    written.insert(session, [_lead(3)])
    with pytest.raises(IntegrityError), session.begin_nested():
        written.insert(session, [_lead(3)])  # the same source and external id


def test_a_default_computed_in_python_must_be_given(session: Session) -> None:
    """``writes`` binds fixed defaults itself; a computed one (a time) left out would be written NULL: refused
    before anything is sent."""
    with pytest.raises(AssertionError, match="created_at"):
        Prepared(LEADS.insert().values(source=bindparam("source"))).rows(session.connection(), {"source": "x"})


@pytest.mark.parametrize("count", [1, FEW, FEW + 5])
def test_new_objects_are_inserted_in_order_and_joined_clean(session: Session, count: int) -> None:
    """A few go one statement each on the driver, more in one multi-row statement: either way each object gets its
    own row's id and joins the session with nothing to flush and nothing left to load."""
    leads = [_lead(100 + n, score=n) for n in range(count)]
    written.insert(session, leads)
    assert all(lead in session and not session.is_modified(lead) for lead in leads)
    assert not session.new and not session.dirty
    stored = dict(session.connection().execute(select(Lead.external_id, Lead.id)
                                                .where(Lead.external_id.like("prepared-1%"))).all())
    assert {lead.external_id: lead.id for lead in leads} == stored
    assert all(lead.status is LeadStatus.NEW and lead.created_at is not None for lead in leads)  # Python defaults
    flushed: list[object] = []
    event.listen(session, "before_flush", lambda *args: flushed.append(args))
    assert [lead.page_views for lead in leads] == [0] * count  # loaded: no query, nothing to flush
    session.flush()
    assert flushed == []


def test_told_writes_reach_the_listeners(session: Session) -> None:
    """``wrote`` tells the layers above what went around the ORM (alerts mark the leads)."""
    heard: list[tuple[str, list[int]]] = []
    listener = written.listen(lambda _session, entity, ids: heard.append((entity, ids)))
    try:
        written.wrote(session, "lead", iter([4, 5]))
    finally:
        written._listeners.remove(listener)
    assert heard == [("lead", [4, 5])]


def test_audit_rows_written_on_the_driver_read_back_as_written(session: Session) -> None:
    from evenhand.kit import audit
    [seq] = audit.append_many(session, [audit.Entry("tests.prepared", "leads", 7, {"名": "值", "n": 1.5})])
    row = session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()
    assert row.payload == {"名": "值", "n": 1.5} and row.subject_id == "7" and row.at.tzinfo is not None


def test_ids_taken_first_are_the_rows_ids_and_the_insert_returns_nothing(engine: Engine, session: Session) -> None:
    """``take_ids`` gives ids no row has, none twice in one transaction (SQLite: after the largest stored and those
    taken before; PostgreSQL: from the key's sequence); objects carrying them are inserted as they are, in one
    statement without RETURNING, and join the session clean. An insert after them takes an id of its own."""
    before = _lead(200)
    written.insert(session, [before])
    first = written.take_ids(session, Lead, 2)
    second = written.take_ids(session, Lead, 1)  # nothing inserted in between
    assert len(set(first + second)) == 3 and min(first + second) > before.id
    leads = [_lead(201, id=first[0]), _lead(202, id=first[1], score=5)]
    with statements(engine) as seen:
        written.insert(session, leads)
    assert [s.split(" ")[0] for s in seen] == ["INSERT"] and "RETURNING" not in seen[0]
    assert not session.new and not session.dirty and all(lead in session for lead in leads)
    stored = dict(session.connection().execute(select(Lead.external_id, Lead.id)
                                                .where(Lead.external_id.in_(["prepared-201", "prepared-202"]))).all())
    assert stored == {"prepared-201": first[0], "prepared-202": first[1]}
    later = _lead(203)
    written.insert(session, [later])
    assert later.id not in first and later.id > 0
    assert written.take_ids(session, Lead, 0) == []


def test_ids_taken_in_one_transaction_are_forgotten_by_the_next(engine: Engine) -> None:
    """On SQLite the ids taken but never used go back with the transaction: the next one starts after the largest
    stored again (PostgreSQL's sequence never gives a value twice)."""
    with session_scope(engine) as session:
        written.insert(session, [_lead(210)])
        stored = session.scalars(select(Lead.id).where(Lead.external_id == "prepared-210")).one()
        taken = written.take_ids(session, Lead, 3)
    with session_scope(engine) as session:
        again = written.take_ids(session, Lead, 1)
    if engine.dialect.name == "sqlite":
        assert taken == [stored + 1, stored + 2, stored + 3] and again == [stored + 1]
    else:
        assert again[0] > max(taken)
