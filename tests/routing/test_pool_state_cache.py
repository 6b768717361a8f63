"""A pool's state kept in process between transactions (``router._KNOWN``): used only while the row's seq (and the
moment it was written) is the one a committed transaction left, never after another writer's commit, a rollback or a
rolled-back savepoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from evenhand.db import make_engine, session_scope
from evenhand.models import PoolStateRow
from evenhand.routing import router, tracks
from evenhand.routing.values import PoolState
from tests.builders import Org

POOL = "cache_pool"
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _read(engine: Engine) -> PoolState:
    with session_scope(engine) as session:
        return router.lock_pool_state(session, POOL)


def _write(engine: Engine, served: dict[int, int], at: datetime = AT) -> PoolState:
    """The next state of the pool, as one committed routing transaction writes it."""
    with session_scope(engine) as session:
        before = router.lock_pool_state(session, POOL)
        after = PoolState(POOL, before.seq + 1, before.ticket + 1, served, {})
        router.save_pool_state(session, after, at)
    return after


def _stored(engine: Engine) -> PoolState:
    with session_scope(engine, readonly=True) as session:
        return PoolState.from_dict(session.scalars(select(PoolStateRow.state)
                                                   .where(PoolStateRow.pool_id == POOL)).one())


def test_a_committed_state_is_used_again_without_parsing(engine: Engine, org: Org,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    written = _write(engine, {7: 1})
    parsed: list[object] = []
    real = PoolState.from_dict
    monkeypatch.setattr(PoolState, "from_dict", lambda data: parsed.append(data) or real(data))
    again = _read(engine)
    assert parsed == []
    monkeypatch.undo()
    assert again == written == _stored(engine)
    with pytest.raises(TypeError):
        again.served[7] = 2  # type: ignore[index]  # shared between transactions: read-only


def test_each_transaction_leaves_its_state_known_to_the_next(engine: Engine, org: Org,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Lead after lead in one pool: a transaction that used the known state, then saved the next, leaves that one
    known (before, every other transaction read the document again and parsed it)."""
    _write(engine, {7: 1})
    parsed: list[object] = []
    real = PoolState.from_dict
    monkeypatch.setattr(PoolState, "from_dict", lambda data: parsed.append(data) or real(data))
    written = [_write(engine, {7: n}, AT + timedelta(seconds=n)) for n in range(2, 6)]
    assert parsed == []
    monkeypatch.undo()
    assert _read(engine) == written[-1] == _stored(engine)


def _written_by_another_process(db_url: str) -> None:
    other = make_engine(db_url)
    try:
        _write(other, {7: 1, 8: 2})
    finally:
        other.dispose()


def test_another_processs_commit_is_read_from_the_database(engine: Engine, org: Org, db_url: str) -> None:
    _write(engine, {7: 1})
    assert _read(engine).served == {7: 1}  # known here now
    _written_by_another_process(db_url)
    assert _read(engine) == _stored(engine) and _read(engine).served == {7: 1, 8: 2}


def test_a_rolled_back_state_is_never_used(engine: Engine, org: Org, db_url: str) -> None:
    first = _write(engine, {7: 1})
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        router.lock_pool_state(session, POOL)
        router.save_pool_state(session, PoolState(POOL, first.seq + 1, 99, {9: 99}, {}), AT)
        raise RuntimeError("rolled back")
    _written_by_another_process(db_url)  # the same seq with other content, at the same moment
    assert _read(engine) == _stored(engine) and _read(engine).served == {7: 1, 8: 2}


def test_a_state_saved_in_a_rolled_back_savepoint_is_not_kept(engine: Engine, org: Org, db_url: str) -> None:
    first = _write(engine, {7: 1})
    with session_scope(engine) as session:
        router.lock_pool_state(session, POOL)
        savepoint = session.begin_nested()
        router.save_pool_state(session, PoolState(POOL, first.seq + 1, 99, {9: 99}, {}), AT)
        savepoint.rollback()
    _written_by_another_process(db_url)
    assert _read(engine) == _stored(engine) and _read(engine).served == {7: 1, 8: 2}


def test_a_row_rewritten_at_the_same_seq_is_read_again(engine: Engine, org: Org) -> None:
    """Rows restored or rewritten at the same configuration revision: the moment written tells them apart."""
    written = _write(engine, {7: 1})
    assert _read(engine) == written
    with session_scope(engine) as session:
        row = session.get(PoolStateRow, POOL)
        assert row is not None
        row.state, row.updated_at = PoolState(POOL, written.seq, 5, {8: 5}, {}).to_dict(), AT + timedelta(seconds=1)
    assert _read(engine).served == {8: 5}


def test_a_transaction_sees_its_own_write(engine: Engine, org: Org) -> None:
    first = _write(engine, {7: 1})
    with session_scope(engine) as session:
        router.lock_pool_state(session, POOL)
        mine = PoolState(POOL, first.seq + 1, 2, {7: 1, 8: 2}, {})
        router.save_pool_state(session, mine, AT)
        assert router.lock_pool_state(session, POOL) == mine
    assert _read(engine) == mine == _stored(engine)


def test_a_state_a_decision_made_is_kept_as_it_is(engine: Engine, org: Org) -> None:
    """Its tables are read-only already: saved, it is used again by the next transaction as the same object (whose
    record is made once), not a copy."""
    _write(engine, {7: 1})
    with session_scope(engine) as session:
        _, after = tracks.round_robin([7, 8], router.lock_pool_state(session, POOL))
        router.save_pool_state(session, after, AT + timedelta(seconds=5))
    with pytest.raises(TypeError):
        after.served[8] = 2  # type: ignore[index]
    assert _read(engine) is after
    assert after == _stored(engine)
