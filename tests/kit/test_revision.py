"""The configuration's revision: every write to a table the intake path caches changes it in the writer's own
transaction (a rolled-back write leaves it as it was), whatever writes it — here plain Core statements, which no
ORM hook sees; every such table carries its triggers at head; on PostgreSQL the revision's row is taken after
the audit chain's lock, in the lock order every writer keeps; and ``Revisioned`` keeps a value only for the
revision it was built at."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, delete, insert, text, update
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.kit import audit, revision
from evenhand.kit.revision import Revision, Revisioned
from evenhand.models import Base, Presence, ProductLine, Region, User
from evenhand.models.revision import AUDIT_LOCK_KEY, CACHED_TABLES, PG_FUNCTION, trigger_names
from tests.builders import Org
from tests.support import statements

SAMPLES: dict[type, Any] = {bool: False, int: 1, float: 0.1, Decimal: Decimal(1), str: "x", dict: {}, list: [],
                            datetime: datetime(2026, 1, 1), date: date(2026, 1, 1), object: {}}


def _now(engine: Engine) -> Revision:
    with session_scope(engine, readonly=True) as session:
        found = revision.current(session)
    assert found is not None
    return found


def _in(conn: Connection) -> Revision:
    row = conn.execute(text("SELECT revision, stamp FROM config_revision")).one()
    return Revision(row[0], row[1])


def _row(table: Table, refs: dict[str, int]) -> dict[str, Any]:
    """A row with every required column filled: references to the organisation's rows, else a sample value."""
    row = {}
    for column in table.columns:
        if column.foreign_keys and (column.primary_key or not column.nullable):
            row[column.name] = refs[next(iter(column.foreign_keys)).column.table.name]
        elif not column.nullable and not column.primary_key:
            kind: Any = getattr(column.type, "impl", column.type).python_type  # UTCDateTime: its DateTime
            row[column.name] = next(iter(kind)).value if hasattr(kind, "__members__") else SAMPLES[kind]
    return row


@pytest.fixture
def refs(engine: Engine, org: Org) -> dict[str, int]:
    with session_scope(engine) as session:
        line = ProductLine(code="cloud", name="云")
        session.add(line)
        session.flush()
        return {"users": org.id("rep_n1"), "teams": org.teams["north"].id,
                "departments": org.departments["sales"].id, "product_lines": line.id}


@pytest.mark.parametrize("name", CACHED_TABLES)
def test_every_write_to_a_cached_table_changes_the_revision_in_its_transaction(engine: Engine, refs: dict[str, int],
                                                                              name: str) -> None:
    table = Base.metadata.tables[name]
    keys = list(table.primary_key.columns)
    before = _now(engine)
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(insert(table).values(_row(table, refs)))
        assert _in(conn).revision > before.revision
        tx.rollback()
    assert _now(engine) == before  # rolled back: as it was
    with engine.begin() as conn:
        key = conn.execute(insert(table).values(_row(table, refs)).returning(*keys)).one()
    inserted = _now(engine)
    assert inserted.revision > before.revision and inserted.stamp != before.stamp
    where = [column == value for column, value in zip(keys, key, strict=True)]
    with engine.begin() as conn:
        conn.execute(update(table).where(*where).values({keys[0].name: key[0]}))
    updated = _now(engine)
    assert updated.revision > inserted.revision and updated.stamp != inserted.stamp
    with engine.begin() as conn:
        conn.execute(delete(table).where(*where))
    assert _now(engine).revision > updated.revision


def test_every_cached_table_carries_its_triggers(engine: Engine, backend: str) -> None:
    """A later migration that rebuilds one of these tables (SQLite's batch alteration) must create them again."""
    found = "SELECT tgname FROM pg_trigger" if backend == "postgresql" else \
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with engine.connect() as conn:
        names: set[str] = set(conn.execute(text(found)).scalars())
    assert {n for table in CACHED_TABLES for n in trigger_names(table, backend)} <= names


def test_a_value_is_kept_for_its_revision_only(engine: Engine, org: Org) -> None:
    cache: Revisioned[str, int] = Revisioned()
    built: list[int] = []

    def build(n: int) -> int:
        built.append(n)
        return n

    with session_scope(engine) as session:
        at = revision.current(session)
        assert cache.get(session, at, "k", lambda: build(1)) == 1
        assert cache.get(session, at, "k", lambda: build(2)) == 1  # kept
        assert cache.get(session, at, "other", lambda: build(3)) == 3  # another key
        session.execute(text("UPDATE regions SET name = name"))
        later = revision.current(session)
        assert later != at and cache.get(session, later, "k", lambda: build(4)) == 4
    assert built == [1, 3, 4]


def test_a_value_whose_building_changed_the_revision_is_not_kept(engine: Engine, org: Org) -> None:
    """The first read of a document installs its default version: what it built belongs to no revision read."""
    cache: Revisioned[None, str] = Revisioned()

    def writes(session: Session) -> str:
        session.execute(text("UPDATE teams SET name = name"))
        return "built"

    with session_scope(engine) as session:
        at = revision.current(session)
        assert cache.get(session, at, None, lambda: writes(session)) == "built"
        assert cache.get(session, at, None, lambda: "again") == "again"


def _reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and "config_revision" in s]


WRITES = {
    "orm": lambda session, ids: setattr(session.get(User, ids["users"]), "display_name", "改名"),
    "core": lambda session, ids: session.execute(update(Region).values(name=Region.name)),
    "connection": lambda session, ids: session.connection().execute(
        update(Base.metadata.tables["teams"]).values(supervisor_id=None)),
    "text": lambda session, ids: session.execute(text("UPDATE departments SET name = name")),
}


def test_a_transaction_reads_the_revision_once(engine: Engine, org: Org) -> None:
    """Later calls answer from the memo while the transaction writes only what is not cached (leads); a plain-text
    write would count, whatever it names."""
    with statements(engine) as seen:
        with session_scope(engine) as session:
            first = revision.current(session)
            leads = Base.metadata.tables["leads"]
            session.execute(update(leads).where(leads.c.id < 0).values(score=1))
            assert [revision.current(session) for _ in range(3)] == [first] * 3
        assert len(_reads(seen)) == 1
        with session_scope(engine, readonly=True) as session:  # a new transaction reads again
            assert revision.current(session) == first
        assert len(_reads(seen)) == 2


@pytest.mark.parametrize("how", WRITES)
def test_a_write_to_a_cached_table_drops_the_memo(engine: Engine, refs: dict[str, int], how: str) -> None:
    with session_scope(engine) as session:
        before = revision.current(session)
        WRITES[how](session, refs)
        after = revision.current(session)
        assert after is not None and before is not None and after.revision > before.revision
        assert revision.current(session) == after


def test_another_writers_commit_is_seen_at_the_next_transaction(engine: Engine, org: Org) -> None:
    with session_scope(engine, readonly=True) as reader:
        before = revision.current(reader)
        with session_scope(engine) as writer:
            writer.execute(text("UPDATE regions SET name = name"))
        assert revision.current(reader) == before  # the same transaction works with one revision
        if engine.dialect.name == "postgresql":  # each statement sees the latest commit: past the memo, this one
            assert revision.current(reader, fresh=True) != before
    assert _now(engine) != before


def test_only_the_most_recent_values_are_kept(engine: Engine) -> None:
    cache: Revisioned[int, int] = Revisioned(keep=2)
    with session_scope(engine, readonly=True) as session:
        at = revision.current(session)
        for n in range(3):
            cache.get(session, at, n, lambda n=n: n)  # type: ignore[misc]
        assert cache.get(session, at, 0, lambda: -1) == -1  # the oldest went
        assert cache.get(session, at, 2, lambda: -1) == 2


def test_the_trigger_takes_the_audit_chains_lock_as_kit_audit_does() -> None:
    assert audit._LOCK_KEY == AUDIT_LOCK_KEY and f"pg_advisory_xact_lock({audit._LOCK_KEY})" in PG_FUNCTION


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_a_change_that_appends_after_its_write_and_one_that_locked_the_chain_first_take_turns(
        engine: Engine, org: Org) -> None:
    """A presence change writes the rep's row, then appends to the chain; a canary's start locks the chain, then
    writes. If the revision's row were taken before the chain's lock, each would wait for the other (PostgreSQL
    would end one as a deadlock)."""
    locked, done = threading.Event(), []

    def presence_change() -> None:
        locked.wait(10)
        with session_scope(engine) as session:
            session.execute(update(User).where(User.id == org.id("rep_n1")).values(presence=Presence.AWAY))
            audit.append(session, action="test.presence", subject_type="users", subject_id=org.id("rep_n1"),
                         payload={})
        done.append("presence")

    changer = threading.Thread(target=presence_change)
    changer.start()
    with session_scope(engine) as session:
        audit.lock(session)
        locked.set()
        time.sleep(0.5)  # the other writes the rep's row meanwhile, and waits
        session.execute(insert(Region).values(code="north", name="华北", created_at=datetime(2026, 1, 1)))
        done.append("canary")
    changer.join(10)
    assert done == ["canary", "presence"]
