"""What a SQLite connection's committed transactions leave for its next ones, so that they need not read it again.

A writer reads, at the start of each transaction, values that its own last transaction left as they are unless
something else wrote since: the configuration revision, the audit chain's tail, a pool's state. On SQLite, ``PRAGMA
data_version`` tells, in one statement a transaction, whether another connection (of this process or another) has
committed since this one last looked. And every statement that may write and goes through SQLAlchemy is counted
on the connection (``WRITES``, by ``kit.revision``'s listener), so a write on this same connection by anyone who
left nothing shows too. While neither has moved, the database is as this connection's own transactions left it, and
so are the values they left.

A transaction leaves a value (``leave``) after its last write to what the value describes; the value is kept for
the connection once the transaction commits. A rollback keeps nothing, and a value left inside a savepoint is
forgotten instead (the savepoint may still roll back; once one has, nothing is kept at all). ``carried`` gives the
next transactions on the connection what was kept, for as long as nothing else has written; once something has,
everything kept for the connection is dropped. Whatever leaves a value must be the only writer of what it describes
(the chain's tail: ``kit.audit``; a pool's state: ``routing.router``), and write it only where it leaves it.
Nothing is carried on PostgreSQL, nor by a read-only transaction (whose snapshot may begin after another
connection's commit; a writer's ``BEGIN IMMEDIATE`` holds the database from its start).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from evenhand.db import READONLY

WRITES = "evenhand.writes"  # on a connection's ``info``: statements through SQLAlchemy that may have written
_KEPT = "evenhand.carried"  # on a connection's ``info`` (the driver connection's, the same at every checkout)
_MINE = "evenhand.carry"  # on a session's ``info``: the transaction's ``_Mine``
_FORGET = object()  # left inside a savepoint: dropped at commit


class _Kept:
    """What a connection's transactions left, and what was true when it was: the driver connection, its data
    version, its count of writes."""

    __slots__ = ("driver", "values", "version", "writes")

    def __init__(self, driver: Any, version: int, writes: int) -> None:
        self.driver, self.version, self.writes = driver, version, writes
        self.values: dict[Hashable, Any] = {}


class _Mine:
    """One transaction's view: what its connection keeps, what it left with the count of writes then (None once a
    savepoint in it rolled back), the connection's ``info``, and its count of writes when the transaction began."""

    __slots__ = ("info", "kept", "left", "transaction", "writes")

    def __init__(self, transaction: SessionTransaction, kept: _Kept, info: dict[str, Any], writes: int) -> None:
        self.transaction, self.kept, self.info, self.writes = transaction, kept, info, writes
        self.left: dict[Hashable, tuple[Any, int]] | None = {}


def _this(session: Session) -> _Mine | None:
    """This transaction's view, made at its first call (which reads the data version, and drops what was kept if
    something else wrote); None when nothing is carried."""
    mine = session.info.get(_MINE)
    if mine is not None and mine.transaction is session.get_transaction():
        return mine
    conn = session.connection()  # begins the transaction, if none has begun
    transaction = session.get_transaction()
    if conn.dialect.name != "sqlite" or conn.get_execution_options().get(READONLY, False):
        return None
    driver = conn.connection.dbapi_connection
    version = driver.execute("PRAGMA data_version").fetchone()[0]  # type: ignore[union-attr]
    info, writes = conn.info, conn.info.get(WRITES, 0)
    kept = info.get(_KEPT)
    # A connection made again starts a count of its own.
    if kept is None or kept.driver is not driver or kept.version != version or kept.writes != writes:
        kept = info[_KEPT] = _Kept(driver, version, writes)
    mine = session.info[_MINE] = _Mine(transaction, kept, info, writes)  # type: ignore[arg-type]
    return mine


def carried(session: Session, key: Hashable) -> Any:
    """The value ``key`` holds in this transaction, as this connection's committed transactions (or this one) left
    it, if nothing else has written since; None if it is not known."""
    mine = _this(session)
    if mine is None or mine.left is None:
        return None
    if key not in mine.left:
        return mine.kept.values.get(key)
    value, writes = mine.left[key]
    return value if value is not _FORGET and writes == mine.info.get(WRITES, 0) else None


def leave(session: Session, key: Hashable, value: Any) -> None:
    """``value`` is what ``key`` holds once this transaction commits, unless something else writes after this call
    (call it after the last write that changes it); None, or a call inside a savepoint, forgets it."""
    mine = _this(session)
    if mine is not None and mine.left is not None:
        forget = value is None or session.in_nested_transaction()
        mine.left[key] = (_FORGET if forget else value, mine.info.get(WRITES, 0))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    mine = session.info.get(_MINE)
    if mine is None or session.in_nested_transaction() or mine.transaction is not session.get_transaction():
        return  # a savepoint released: what it left is the enclosing transaction's until that commits
    del session.info[_MINE]
    kept, writes = mine.kept, mine.info.get(WRITES, 0)
    # A savepoint rolled back, or the connection's keeping began afresh meanwhile: nothing is known for sure.
    if mine.left is None or kept is not mine.info.get(_KEPT):
        kept.values.clear()
        return
    if writes != mine.writes:  # something wrote past ``leave``: only what was left after it is known
        kept.values = {}
    kept.writes = writes
    for key, (value, then) in mine.left.items():
        if value is _FORGET or then != writes:
            kept.values.pop(key, None)
        else:
            kept.values[key] = value


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    """The whole transaction: the database is as it was, and so is what was kept. A savepoint: what the transaction
    left, or wrote before it, is not known any more, for the rest of the transaction."""
    mine = session.info.get(_MINE)
    if mine is None:
        return
    if previous.nested:
        mine.left = None
    else:
        del session.info[_MINE]
