"""What a SQLite connection's committed transactions leave for its next ones (``kit.carry``): carried while nothing
else writes, dropped at once when another connection commits, when a statement on the same connection writes past
it, after a rollback of a savepoint, and never carried by a read-only transaction or on PostgreSQL. Then the three
values carried on the intake path, each after another connection wrote what it describes: the audit chain's tail,
the configuration revision and a pool's state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from evenhand.db import session_scope
from evenhand.kit import audit, audit_check, carry, revision
from evenhand.models import AuditEntry, Region
from evenhand.routing import router
from evenhand.routing.values import PoolState
from tests.builders import Org

KEY = ("test", "value")
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def kept(engine: Engine) -> Iterator[Connection]:
    """One connection kept, as the group commit keeps its own: each transaction on it is one ``session_scope``."""
    with engine.connect() as conn:
        yield conn


def _left(conn: Connection, value: object) -> None:
    with session_scope(connection=conn) as session:
        carry.leave(session, KEY, value)


def _carried(conn: Connection) -> object:
    with session_scope(connection=conn) as session:
        return carry.carried(session, KEY)


def _other_commit(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Region(code="elsewhere", name="别处"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_value_left_is_carried_until_another_connection_commits(engine: Engine, kept: Connection) -> None:
    _left(kept, 41)
    assert _carried(kept) == 41
    assert _carried(kept) == 41  # a transaction that left nothing changes nothing
    _left(kept, 42)
    assert _carried(kept) == 42
    _other_commit(engine)
    assert _carried(kept) is None
    _left(kept, 43)
    assert _carried(kept) == 43


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_write_on_the_same_connection_that_left_nothing_drops_what_was_kept(engine: Engine,
                                                                               kept: Connection) -> None:
    _left(kept, 41)
    with session_scope(connection=kept) as session:
        session.execute(text("INSERT INTO alert_marks (entity_type, entity_id) VALUES ('test', 1)"))
    assert _carried(kept) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_write_after_the_value_was_left_drops_it_at_commit(engine: Engine, kept: Connection) -> None:
    with session_scope(connection=kept) as session:
        carry.leave(session, KEY, 41)
        carry.leave(session, ("test", "after"), 1)
        assert carry.carried(session, KEY) == 41
        session.execute(text("INSERT INTO alert_marks (entity_type, entity_id) VALUES ('test', 1)"))
        assert carry.carried(session, KEY) is None  # within the transaction already
        carry.leave(session, ("test", "after"), 2)  # left again after the write: known
    with session_scope(connection=kept) as session:
        assert carry.carried(session, KEY) is None
        assert carry.carried(session, ("test", "after")) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_rolled_back_transaction_keeps_nothing_of_its_own(engine: Engine, kept: Connection) -> None:
    _left(kept, 41)
    with pytest.raises(RuntimeError), session_scope(connection=kept) as session:
        carry.leave(session, KEY, 99)
        raise RuntimeError
    assert _carried(kept) == 41  # the database is as the last commit left it


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_what_a_savepoint_left_or_rolled_back_is_never_carried(engine: Engine, kept: Connection) -> None:
    _left(kept, 41)
    with session_scope(connection=kept) as session, session.begin_nested():
        carry.leave(session, KEY, 42)  # may still roll back: forgotten
    assert _carried(kept) is None
    _left(kept, 43)
    with session_scope(connection=kept) as session:
        carry.leave(session, ("test", "before"), 1)
        savepoint = session.begin_nested()
        savepoint.rollback()
        assert carry.carried(session, ("test", "before")) is None
        carry.leave(session, ("test", "after"), 2)
    with session_scope(connection=kept) as session:
        assert [carry.carried(session, key) for key in (KEY, ("test", "before"), ("test", "after"))] == [None] * 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_read_only_transaction_carries_nothing(engine: Engine, kept: Connection) -> None:
    _left(kept, 41)
    with session_scope(engine, readonly=True) as session:
        carry.leave(session, KEY, 42)
        assert carry.carried(session, KEY) is None


@pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True)
def test_nothing_is_carried_on_postgresql(engine: Engine, kept: Connection) -> None:
    _left(kept, 41)
    assert _carried(kept) is None


# --- the values carried on the intake path, each written meanwhile through another connection -----------------


def _append(engine: Engine | None, action: str, *, on: Connection | None = None) -> None:
    with session_scope(engine, connection=on) as session:
        audit.append_many(session, [audit.Entry(action, "test", None, {"n": action})])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_chain_continues_after_another_connection_appended(engine: Engine, org: Org, kept: Connection) -> None:
    _append(None, "one", on=kept)
    _append(None, "two", on=kept)  # from the tail carried
    _append(engine, "elsewhere")
    _append(None, "three", on=kept)  # the tail read again
    with session_scope(engine, readonly=True) as session:
        actions = session.scalars(AuditEntry.__table__.select().with_only_columns(AuditEntry.action)
                                  .order_by(AuditEntry.seq.desc()).limit(4)).all()
        assert list(reversed(actions)) == ["one", "two", "elsewhere", "three"]
        assert audit_check.verify(session)[1] is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_configuration_change_elsewhere_is_seen_at_the_next_transaction(engine: Engine, org: Org,
                                                                           kept: Connection) -> None:
    with session_scope(connection=kept) as session:
        before = revision.current(session)
    with session_scope(connection=kept) as session:
        assert revision.current(session) == before
    _other_commit(engine)  # regions are configuration: the revision moves
    with session_scope(connection=kept) as session:
        after = revision.current(session)
    assert after is not None and before is not None and after.revision == before.revision + 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_pool_state_saved_elsewhere_is_read_again(engine: Engine, org: Org, kept: Connection) -> None:
    def step(on: Connection | None, served: dict[int, int]) -> PoolState:
        with session_scope(None if on is not None else engine, connection=on) as session:
            before = router.lock_pool_state(session, "carried_pool")
            after = PoolState("carried_pool", before.seq + 1, before.ticket + 1, served, {})
            router.save_pool_state(session, after, AT + timedelta(seconds=after.seq))
        return before

    step(kept, {7: 1})
    assert step(kept, {7: 2}).served == {7: 1}
    step(None, {8: 1})  # another connection
    assert step(kept, {8: 2}).served == {8: 1}
    assert step(kept, {8: 3}).seq == 4
