"""Leads posted at the same moment are taken in and routed together: group commit.

A request hands its lead to ``Arrivals.take`` and waits. Whoever arrives when no group is being written
writes one — its own lead and every lead queued meanwhile (up to ``max_group``) — in one transaction
(``flows.take_in``), then passes the turn to the oldest lead still waiting, whose request
writes the next group. One lead on its own is written at once, with no hand-off; under load, the fixed
cost of a transaction (reading the policy, the roster, the counts; the commit) is paid once per group
instead of once per lead. Every lead still gets its own decision, evidence and audit entries, exactly as
if routed alone (tests/routing/test_router.py), and the response waits until its group is committed.

If a group fails, each of its leads is tried again in a transaction of its own, so a lead that cannot be
taken fails alone, with its own error, and the others are not held back. The group's writer owns the
transaction: a request that uses this must not hold a write transaction of its own while it waits
(``deps.ReadWriter`` authenticates through a read-only session).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.intake import flows
from evenhand.leads.schemas import LeadCreate

Routed = flows.Routed


@dataclass(eq=False)
class _Waiting:
    data: LeadCreate
    actor: Principal
    dedup: tuple[str, ...]
    woken: threading.Event = field(default_factory=threading.Event)
    writes: bool = False  # its request writes the next group
    result: Routed | None = None
    error: BaseException | None = None


class Arrivals:
    """The queue of one database. ``gather_ms``: under load (the last group carried more than one lead) a
    writer waits up to this long for as many leads as the last group had, as PostgreSQL's ``commit_delay``
    does; a lead on its own never waits."""

    def __init__(self, engine: Engine, *, max_group: int = 200, gather_ms: float = 2.0) -> None:
        self._engine, self._max, self._gather = engine, max_group, gather_ms / 1000
        self._lock = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False
        self._last = 1

    def take(self, data: LeadCreate, *, actor: Principal, dedup: Sequence[str]) -> Routed:
        """Intake and route one lead; returns once the transaction carrying it has committed."""
        me = _Waiting(data, actor, tuple(dedup))
        with self._lock:
            self._queue.append(me)
            if not self._writing:
                self._writing = me.writes = True
            self._lock.notify_all()
        if not me.writes:
            me.woken.wait()  # done by someone else's group, or asked to write the next one
        if me.writes and me.result is None and me.error is None:
            self._write_next()
        if me.error is not None:
            raise me.error
        if me.result is None:
            raise RuntimeError("the transaction carrying this lead was interrupted")
        return me.result

    def _write_next(self) -> None:
        """Write the group at the head of the queue (the caller's lead is in it), then pass the turn on."""
        with self._lock:
            if self._last > 1:
                self._lock.wait_for(lambda: len(self._queue) >= min(self._last, self._max), self._gather)
            group, self._queue = self._queue[:self._max], self._queue[self._max:]
            self._last = len(group)
        try:
            self._write(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].writes = True
                    self._queue[0].woken.set()
                else:
                    self._writing = False
            for waiting in group:
                waiting.woken.set()

    def _write(self, group: list[_Waiting]) -> None:
        ordered = sorted(group, key=_key)  # stable: arrival order within each actor
        # One batch per actor and dedup rule: each audit entry names its own actor.
        chunks = [list(run) for _, run in groupby(ordered, key=_key)]
        try:
            with session_scope(self._engine) as session:
                results = [result for chunk in chunks
                           for result in flows.take_in(session, [w.data for w in chunk], actor=chunk[0].actor,
                                                       dedup=chunk[0].dedup)]
        except Exception as exc:  # find the lead that failed, and write the others without it
            if len(group) == 1:
                group[0].error = exc
                return
            for waiting in group:
                self._write_alone(waiting)
            return
        for waiting, result in zip(ordered, results, strict=True):
            waiting.result = result

    def _write_alone(self, waiting: _Waiting) -> None:
        try:
            with session_scope(self._engine) as session:
                waiting.result = flows.take_in(session, [waiting.data], actor=waiting.actor,
                                               dedup=waiting.dedup)[0]
        except Exception as exc:  # the request raises it
            waiting.error = exc


_BY_ENGINE: WeakKeyDictionary[Engine, Arrivals] = WeakKeyDictionary()
_MADE = threading.Lock()


def arrivals_for(engine: Engine) -> Arrivals:
    """The one queue of a database, shared by every request that posts leads to it."""
    with _MADE:
        if engine not in _BY_ENGINE:
            _BY_ENGINE[engine] = Arrivals(engine)
        return _BY_ENGINE[engine]


def _key(waiting: _Waiting) -> tuple[int, tuple[str, ...]]:
    return waiting.actor.user_id, waiting.dedup
