"""Group commit: work handed in by requests arriving at the same moment is written in one transaction.

A request hands its item to ``GroupCommit.submit`` (waiting in its thread) or ``submit_async`` (on the event loop)
and waits. Whoever arrives when no group is being written starts one — its own item and every item queued meanwhile
(up to ``max_group``) — in one transaction; a request on the event loop has it written on one of the queue's writer
threads, once the requests the loop read in the same turn have queued too. Once a group is committed, the next is
written at once: by the same writer thread while the oldest item still waiting came from the event loop, else by
that item's own thread, which is woken to do it. One item on its own is written at once; under load, the fixed cost
of a transaction (what it reads first; the commit) is paid once per group instead of once per item, and every
request is answered after the commit that carries its item. A request on the event loop only ever waits for its
result, so one that is cancelled while it waits holds nothing up.

On SQLite a request on the event loop whose item is alone has it written on the loop itself, if the write lock is
free at once (``db.NOWAIT``): handing it to a writer thread and waking the loop again cost about 5 % of the requests
a second at one connection. Only a lone item is, and only after a lone group (not under load): while it is written
the loop reads no other request, and the requests that were read already are written together on a thread. The loop
never waits for the lock: taken by another connection (an import, another process), the item goes to a writer
thread, which waits for it.

If a group fails, each of its items is tried again in a transaction of its own, so an item that cannot be written
fails alone, with its own error, and the others are not held back. An item the writer refuses before writing
anything for it (its sender may not write) comes back as an exception in its place among the results: raised to
its request alone, while the rest of the group is committed. The group's writer owns the transaction: a
request that submits must not hold a write transaction of its own while it waits.

On SQLite the writer does not copy the write-ahead log back into the database itself after a commit (SQLite's
automatic checkpoint, a few milliseconds every thousand pages, paid by whichever request's commit crosses the line):
once a group's requests are woken, a checkpoint is handed to a thread of its own, which copies what was committed
while the next groups are written (one at a time, ``checkpoint_ms`` apart while groups keep coming). The log is
started again from its beginning only when a write begins with all of it copied; the writer's own automatic
checkpoint, past ``_WAL_PAGES``, still sees to that, by then with little left to copy.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from evenhand.db import NOWAIT, WriteLockBusy, session_scope

Item = TypeVar("Item")
Result = TypeVar("Result")
Queue = TypeVar("Queue")
# One result per item, in the items' order: an exception for an item refused without writing anything.
Write = Callable[[Session, Sequence[Item]], Sequence[Result | Exception]]
# The threads that write the groups of requests waiting on the event loop. A hand-off costs about 20 µs less than
# through AnyIO's threads (its capacity limiter and cancel scope), and a write never waits for a thread that FastAPI's
# synchronous handlers hold. Each queue writes one group at a time, so a few threads serve every queue.
_WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="group-commit")
# The checkpoints of every queue on SQLite, one at a time: copying pages and syncing the database file is the disk's
# work more than the processor's, and one checkpoint copies all there is.
_CHECKPOINTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-checkpoint")
_WAL_PAGES = 4000  # the writer's own automatic checkpoint: 8 MiB of log at ``db.PAGE_BYTES`` (its default: 1000)
log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Waiting(Generic[Item, Result]):
    item: Item
    woken: threading.Event = field(default_factory=threading.Event)
    writes: bool = False  # its request started the writing (a thread: writes the next group itself)
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


def _wake(group: Sequence[_Waiting[Item, Result]], *, but: _Waiting[Item, Result] | None) -> None:
    for waiting in group:
        if waiting is not but:
            waiting.wake()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class GroupCommit(Generic[Item, Result]):
    """The queue of one database for one kind of work. ``gather_ms``: under load (the last group carried more than
    one item) a writer waits up to this long for as many items as the last group had, as PostgreSQL's
    ``commit_delay`` does; an item on its own never waits."""

    def __init__(self, engine: Engine, write: Write[Item, Result], *, max_group: int = 200,
                 gather_ms: float = 2.0, checkpoint_ms: float = 50.0) -> None:
        self._engine, self._write_all, self._max, self._gather = engine, write, max_group, gather_ms / 1000
        self._lock = threading.Condition()
        self._queue: list[_Waiting[Item, Result]] = []
        self._writing = False
        self._last = 1
        # On SQLite the groups are written on one connection the queue keeps: a group is written at a time, and a file
        # database does not drop a connection. Taking one from the pool and handing it back for every group (the
        # checkout, the reset on return, their events) cost 2 to 4 % of writing a lone lead. PostgreSQL's come from
        # the pool, which checks each one is alive as it hands it out.
        self._keeps = engine.dialect.name == "sqlite"
        self._held: Connection | None = None
        self._stale = False  # the engine was disposed while a group was being written: replace the connection
        if self._keeps:
            event.listen(engine, "engine_disposed", self._disposed)
        self._checkpoint_every = checkpoint_ms / 1000
        self._checkpointing = self._checkpoint_again = False  # one is being done; a group was written meanwhile

    def submit(self, item: Item) -> Result:
        """Write one item; returns its result once the transaction carrying it has committed."""
        me = self._enqueue(_Waiting(item))
        if not me.writes:
            me.woken.wait()  # done in someone else's group, or asked to write the next one
        if me.writes and me.result is None and me.error is None:
            self._write_from(me)
        return me.outcome()

    async def submit_async(self, item: Item) -> Result:
        """``submit`` for a request served on the event loop: it waits without a thread; when no group is being
        written, it has its group written (``_start``): on the loop if alone on SQLite, else by a writer thread."""
        loop = asyncio.get_running_loop()
        me = self._enqueue(_Waiting(item, future=loop.create_future()))
        if me.writes:
            # After the requests the loop has read already have queued too; in the request's context, as AnyIO would
            # run it: the settings and language it bound.
            loop.call_soon(self._start, context=contextvars.copy_context())
        assert me.future is not None
        await me.future
        return me.outcome()

    def _enqueue(self, me: _Waiting[Item, Result]) -> _Waiting[Item, Result]:
        with self._lock:
            self._queue.append(me)
            if not self._writing:
                self._writing = me.writes = True
            self._lock.notify_all()
        return me

    def _start(self) -> None:
        """The first group for requests on the event loop: written here, on the loop, if it is a lone item on SQLite
        and the write lock is free (``_write_here``), else on a writer thread."""
        if not (self._keeps and self._write_here()):
            # In the request's context, as AnyIO would run it: the settings and language it bound.
            _WRITERS.submit(contextvars.copy_context().run, self._write_from, None)

    def _write_here(self) -> bool:
        """Write the item queued if it is alone and the last group was too (not under load: then a writer thread
        gathers the next group), on this thread, provided the write lock is free (``db.NOWAIT``): True if it was
        written, False if it is still queued."""
        with self._lock:
            if len(self._queue) != 1 or self._last > 1:
                return False
        try:
            group = self._write_next(None, here=True)
        except WriteLockBusy:
            return False
        except BaseException:
            self._pass_turn(keep=False)
            raise
        self._pass_turn(keep=False)
        self._answer(group, but=None)
        return True

    def _write_from(self, me: _Waiting[Item, Result] | None) -> None:
        """Write the group at the head of the queue (``me``, the request whose thread this is, is in it; None on a
        writer thread), then pass the turn on (``_pass_turn``): a writer thread goes on with the next group itself,
        so that under load one thread writes group after group. The turn is passed before the group's requests are
        answered: one that submits again once answered finds the queue as the writer left it (no group being written,
        if no item was left)."""
        while True:
            try:
                group = self._write_next(me)
            except BaseException:
                self._pass_turn(keep=False)
                raise
            goes_on = self._pass_turn(keep=me is None)
            self._answer(group, but=me)
            if not goes_on:
                return
            me = None

    def _pass_turn(self, *, keep: bool) -> bool:
        """Hand the next group to the oldest item still waiting if its request waits in a thread, else to a writer
        thread: this one when ``keep`` (True returned: it writes next), else another. No item left: nobody writes."""
        with self._lock:
            head = self._queue[0] if self._queue else None
            if head is None:
                self._writing = False
            elif head.future is None:
                head.writes = True
        if head is None:
            return False
        if head.future is None:
            head.wake()
            return False
        if keep:
            return True
        _WRITERS.submit(contextvars.copy_context().run, self._write_from, None)
        return False

    def _write_next(self, me: _Waiting[Item, Result] | None, *,
                    here: bool = False) -> list[_Waiting[Item, Result]]:
        """Write the group at the head of the queue, and return it for its requests to be answered (``_answer``; if the
        writing was interrupted, they are woken at once, but ``me``, whose thread writes it). ``here`` (on the event
        loop): at once, and only if the write lock is free; else the group is queued again and ``WriteLockBusy``
        raised; one item only."""
        with self._lock:
            if self._last > 1 and not here:
                self._lock.wait_for(lambda: len(self._queue) >= min(self._last, self._max), self._gather)
            size = 1 if here else self._max
            group, self._queue = self._queue[:size], self._queue[size:]
            self._last = len(group)
        try:
            self._write(group, nowait=here)
        except WriteLockBusy:  # nothing was written
            with self._lock:
                self._queue[:0] = group
            raise
        except BaseException:
            _wake(group, but=me)
            raise
        return group

    def _answer(self, group: list[_Waiting[Item, Result]], *, but: _Waiting[Item, Result] | None) -> None:
        """Wake a committed group's requests (but the writing thread's own), then have the log checkpointed."""
        _wake(group, but=but)
        self._checkpoint_soon()

    def _write(self, group: list[_Waiting[Item, Result]], *, nowait: bool = False) -> None:
        try:
            with session_scope(self._engine, connection=self._connection(nowait=nowait)) as session:
                if nowait:
                    session.connection()  # the write lock, before any of the work is done
                results = self._write_all(session, [waiting.item for waiting in group])
        except WriteLockBusy:
            raise
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

    def _connection(self, *, nowait: bool) -> Connection | None:
        """The connection the next group is written on (None: one from the pool), in no transaction; one that
        SQLAlchemy found broken is replaced. ``nowait``: it takes the write lock only if it is free."""
        if not self._keeps:
            return None
        held = self._held
        if held is None or held.closed or held.invalidated or self._stale:
            if held is not None:
                held.close()
            held, self._stale = self._engine.connect(), False
            # On the driver: through SQLAlchemy the statement would begin a transaction (BEGIN IMMEDIATE).
            held.connection.driver_connection.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")  # type: ignore[union-attr]
            self._held = held
        if held.get_execution_options().get(NOWAIT, False) != nowait:
            held.execution_options(**{NOWAIT: nowait})
        return held

    def _checkpoint_soon(self) -> None:
        """On SQLite, have what was committed copied back into the database in the background: at once if no
        checkpoint is being done, else once that one is done and ``checkpoint_ms`` have passed."""
        if not self._keeps:
            return
        with self._lock:
            if self._checkpointing:
                self._checkpoint_again = True
                return
            self._checkpointing = True
        _CHECKPOINTS.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """Checkpoints until no group was written during the last one, ``checkpoint_ms`` apart."""
        while True:
            self._copy_back()
            with self._lock:
                if not self._checkpoint_again:
                    self._checkpointing = False
                    return
                self._checkpoint_again = False
            time.sleep(self._checkpoint_every)

    def _copy_back(self) -> None:
        """A passive checkpoint (it waits for no reader or writer) on a connection of the pool, outside any
        transaction. A failure only leaves the copying to the next one, or to the writer's automatic checkpoint."""
        try:
            raw = self._engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # type: ignore[union-attr]
            finally:
                raw.close()
        except Exception:
            log.warning("A background checkpoint of %s failed", self._engine.url, exc_info=True)

    def _disposed(self, _engine: Engine) -> None:
        """``engine.dispose()``: the connection kept is closed (at once if no group is being written, else before the
        next group), so a database let go of is not held open by its queue."""
        with self._lock:
            if self._writing:
                self._stale = True
                return
            held, self._held = self._held, None
        if held is not None:
            held.close()


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
