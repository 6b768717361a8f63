"""What rarely changes, built once per configuration revision and kept in process.

The intake path reads the same configuration for every lead: the active scoring model and routing policy, the
running canary, the roster, the regions, where notifications go. Each domain keeps what it builds from them in a
``Revisioned`` cache, keyed by the configuration's revision (``models.revision``) read at the start of the work,
in the same transaction, through one primary-key read. Every write to those tables changes the revision in the
writer's transaction (database triggers), so a cached value is never used by a transaction that can see a change
it was not built with — in this process or another one sharing the database.

A transaction reads the revision once: later calls in it answer from a memo on the session, until the transaction
ends or writes to one of the cached tables (any statement naming one, counted on the connection by an engine
listener; a plain-text write counts whatever it names). On PostgreSQL another process's commit is therefore seen at
the next transaction, not halfway through this one: the configuration a transaction works with is one revision.
On SQLite, what a connection's last transaction read carries over to its next ones while nothing else has written
(``kit.carry``), and is not read again.

A value is stored only when the revision read again (past the memo) after building it is the one read before: on
PostgreSQL a commit landing between the reads, or the builder's own write (the first read installing a default
version), leaves the value to that one call. A database without the revision's row (emptied by ``TRUNCATE`` of that
table alone) is read afresh every time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from evenhand.kit import carry
from evenhand.kit.bounded import Bounded
from evenhand.kit.cursor import Prepared
from evenhand.models.revision import CACHED_TABLES, ROW_ID, ConfigRevision

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_READ = Prepared(select(ConfigRevision.revision, ConfigRevision.stamp).where(ConfigRevision.id == ROW_ID))


class Revision(NamedTuple):
    """The count of changes and the random stamp the last one drew: together they name one configuration."""

    revision: int
    stamp: int


_MEMO = "evenhand.revision"
_WRITES = "evenhand.config_writes"  # on a connection's ``info``: statements that wrote to a cached table
_ALL_WRITES = carry.WRITES  # on a connection's ``info``: statements that may have written anything
_CACHED = frozenset(CACHED_TABLES)
_READS = ("SELECT", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET", "SHOW")


def current(session: Session, *, fresh: bool = False) -> Revision | None:
    """The revision this transaction works with, its own pending changes flushed first (so they count): read at
    its first call, then remembered until it writes to a cached table; ``fresh`` reads it again regardless."""
    session.flush()
    conn = session.connection()
    transaction, writes = session.get_transaction(), conn.info.get(_WRITES, 0)
    memo = session.info.get(_MEMO)
    if not fresh and memo is not None and memo[0] is transaction and memo[1] == writes:
        return memo[2]
    left = None if fresh else carry.carried(session, _MEMO)
    if left is not None and left[0] == writes:  # the connection's own last read, and nothing has written since
        found = left[1]
    else:
        row = _READ.first(conn)
        found = None if row is None else Revision(row[0], row[1])
    session.info[_MEMO] = (transaction, writes, found)
    carry.leave(session, _MEMO, None if found is None else (writes, found))  # no row: read afresh every time
    return found


@event.listens_for(Engine, "after_execute")
def _count_writes(conn: Connection, statement: object, *_: object) -> None:
    """Count on the connection each statement that may have written (``writes_seen``), and those that may have
    changed a cached table (``current``'s memo)."""
    if getattr(statement, "is_dml", False):
        config = getattr(getattr(statement, "table", None), "name", None) in _CACHED
    elif isinstance(statement, TextClause | str):
        words = str(statement).lstrip().split(None, 1)
        if not words or words[0].upper() in _READS:
            return
        config = True
    else:
        return
    conn.info[_ALL_WRITES] = conn.info.get(_ALL_WRITES, 0) + 1
    if config:
        conn.info[_WRITES] = conn.info.get(_WRITES, 0) + 1


def writes_seen(session: Session) -> int:
    """How many statements that may have written went through SQLAlchemy on the session's connection so far (an ORM
    flush's, a Core or a text statement's; not ``kit.cursor.Prepared``'s): equal twice, none of them ran between."""
    return int(session.connection().info.get(_ALL_WRITES, 0))


class Revisioned(Generic[K, V]):
    """Values kept for the revision they were built at, under a key naming whatever else they depend on.

    A value is shared by every transaction (and thread) at that revision, so it must not be changed once built.
    The most recent ``keep`` values are kept; an older revision's are only dropped as newer ones come in."""

    def __init__(self, *, keep: int = 64) -> None:
        self._values: Bounded[tuple[Revision, K], V] = Bounded(keep)

    def get(self, session: Session, revision: Revision | None, key: K, build: Callable[[], V]) -> V:
        """The value for ``key`` at ``revision`` (what ``current(session)`` gave at the start of the work), built
        by ``build()`` in ``session`` if this process has none yet."""
        if revision is None:
            return build()
        found = self._values.get((revision, key))
        if found is not None:
            return found
        value = build()
        if current(session, fresh=True) == revision:
            self._values.store({(revision, key): value})
        return value
