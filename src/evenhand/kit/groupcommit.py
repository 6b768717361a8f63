"""Group commit: work handed in by requests arriving at the same moment is written in one transaction.

A request hands its item to ``GroupCommit.submit`` and waits. Whoever arrives when no group is being written
writes one — its own item and every item queued meanwhile (up to ``max_group``) — in one transaction, then passes
the turn to the oldest item still waiting, whose request writes the next group. One item on its own is written at
once, with no hand-off; under load, the fixed cost of a transaction (what it reads first; the commit) is paid
once per group instead of once per item, and every request is answered after the commit that carries its item.

If a group fails, each of its items is tried again in a transaction of its own, so an item that cannot be written
fails alone, with its own error, and the others are not held back. An item the writer refuses before writing
anything for it (its sender may not write) comes back as an exception in its place among the results: raised to
its request alone, while the rest of the group is committed. The group's writer owns the transaction: a
request that submits must not hold a write transaction of its own while it waits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.db import session_scope

Item = TypeVar("Item")
Result = TypeVar("Result")
Queue = TypeVar("Queue")
# One result per item, in the items' order: an exception for an item refused without writing anything.
Write = Callable[[Session, Sequence[Item]], Sequence[Result | Exception]]


@dataclass(eq=False)
class _Waiting(Generic[Item, Result]):
    item: Item
    woken: threading.Event = field(default_factory=threading.Event)
    writes: bool = False  # its request writes the next group
    result: Result | None = None
    error: BaseException | None = None
    future: asyncio.Future[None] | None = None  # an asynchronous request waits on this instead of ``woken``

    def wake(self) -> None:
        self.woken.set()
        if self.future is not None:
            self.future.get_loop().call_soon_threadsafe(_settle, self.future)

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise RuntimeError("the transaction carrying this item was interrupted")
        return self.result


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class GroupCommit(Generic[Item, Result]):
    """The queue of one database for one kind of work. ``gather_ms``: under load (the last group carried more than
    one item) a writer waits up to this long for as many items as the last group had, as PostgreSQL's
    ``commit_delay`` does; an item on its own never waits."""

    def __init__(self, engine: Engine, write: Write[Item, Result], *, max_group: int = 200,
                 gather_ms: float = 2.0) -> None:
        self._engine, self._write_all, self._max, self._gather = engine, write, max_group, gather_ms / 1000
        self._lock = threading.Condition()
        self._queue: list[_Waiting[Item, Result]] = []
        self._writing = False
        self._last = 1

    def submit(self, item: Item) -> Result:
        """Write one item; returns its result once the transaction carrying it has committed."""
        me = self._enqueue(_Waiting(item))
        if not me.writes:
            me.woken.wait()  # done in someone else's group, or asked to write the next one
        if me.writes and me.result is None and me.error is None:
            self._write_next()
        return me.outcome()

    async def submit_async(self, item: Item) -> Result:
        """``submit`` for a request served on the event loop: it waits without a thread, and takes one only when it
        is its turn to write a group."""
        me = self._enqueue(_Waiting(item, future=asyncio.get_running_loop().create_future()))
        if not me.writes:
            assert me.future is not None
            await me.future
        if me.writes and me.result is None and me.error is None:
            await anyio.to_thread.run_sync(self._write_next)
        return me.outcome()

    def _enqueue(self, me: _Waiting[Item, Result]) -> _Waiting[Item, Result]:
        with self._lock:
            self._queue.append(me)
            if not self._writing:
                self._writing = me.writes = True
            self._lock.notify_all()
        return me

    def _write_next(self) -> None:
        """Write the group at the head of the queue (the caller's item is in it), then pass the turn on."""
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
                    self._queue[0].wake()
                else:
                    self._writing = False
            for waiting in group:
                waiting.wake()

    def _write(self, group: list[_Waiting[Item, Result]]) -> None:
        try:
            with session_scope(self._engine) as session:
                results = self._write_all(session, [waiting.item for waiting in group])
        except Exception as exc:  # find the item that failed, and write the others without it
            if len(group) == 1:
                group[0].error = exc
                return
            for waiting in group:
                self._write([waiting])
            return
        for waiting, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                waiting.error = result
            else:
                waiting.result = result


class PerEngine(Generic[Queue]):
    """One queue per database, made on first use and shared by every request to it."""

    def __init__(self, make: Callable[[Engine], Queue]) -> None:
        self._make = make
        self._queues: WeakKeyDictionary[Engine, Queue] = WeakKeyDictionary()
        self._made = threading.Lock()

    def __call__(self, engine: Engine) -> Queue:
        with self._made:
            if engine not in self._queues:
                self._queues[engine] = self._make(engine)
            return self._queues[engine]
