"""What rarely changes, built once per configuration revision and kept in process.

The intake path reads the same configuration for every lead: the active scoring model and routing policy, the
running canary, the roster, the regions, where notifications go. Each domain keeps what it builds from them in a
``Revisioned`` cache, keyed by the configuration's revision (``models.revision``) read at the start of the work,
in the same transaction, through one primary-key read. Every write to those tables changes the revision in the
writer's transaction (database triggers), so a cached value is never used by a transaction that can see a change
it was not built with — in this process or another one sharing the database.

A value is stored only when the revision read again after building it is the one read before: on PostgreSQL a
commit landing between the reads, or the builder's own write (the first read installing a default version),
leaves the value to that one call. A database without the revision's row (emptied by ``TRUNCATE`` of that table
alone) is read afresh every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.models.revision import ROW_ID, ConfigRevision

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_READ = select(ConfigRevision.revision, ConfigRevision.stamp).where(ConfigRevision.id == ROW_ID)


class Revision(NamedTuple):
    """The count of changes and the random stamp the last one drew: together they name one configuration."""

    revision: int
    stamp: int


def current(session: Session) -> Revision | None:
    """The revision this transaction sees, its own pending changes flushed first (so they count)."""
    session.flush()
    row = session.connection().execute(_READ).first()
    return None if row is None else Revision(row[0], row[1])


class Revisioned(Generic[K, V]):
    """Values kept for the revision they were built at, under a key naming whatever else they depend on.

    A value is shared by every transaction (and thread) at that revision, so it must not be changed once built.
    The most recent ``keep`` values are kept; an older revision's are only dropped as newer ones come in."""

    def __init__(self, *, keep: int = 64) -> None:
        self._keep = keep
        self._values: dict[tuple[Revision, K], V] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, revision: Revision | None, key: K, build: Callable[[], V]) -> V:
        """The value for ``key`` at ``revision`` (what ``current(session)`` gave at the start of the work), built
        by ``build()`` in ``session`` if this process has none yet."""
        if revision is None:
            return build()
        found = self._values.get((revision, key))
        if found is not None:
            return found
        value = build()
        if current(session) == revision:
            self._store((revision, key), value)
        return value

    def _store(self, key: tuple[Revision, K], value: V) -> None:
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._keep:
                del self._values[next(iter(self._values))]
