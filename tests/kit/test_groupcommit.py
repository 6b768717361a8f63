"""Group commit: items submitted together share a transaction, each gets its own result, one that fails fails alone —
whether its request waits in a thread (``submit``) or on the event loop (``submit_async``)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.kit import groupcommit
from evenhand.kit.groupcommit import GroupCommit
from tests.support import on_a_loop_of_its_own

T = TypeVar("T")


class Writer:
    """Doubles each item; the first group waits until ``release`` is set, so the others queue up behind it."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, session: Session, items: Sequence[int]) -> list[int]:
        self.started.set()
        self.release.wait(10)
        if any(item < 0 for item in items):
            raise ValueError("negative")
        self.groups.append(list(items))
        return [2 * item for item in items]


def _first(queue: GroupCommit[int, int], item: int) -> asyncio.Future[int]:
    """``item`` submitted from a thread: the group that carries it is written there, keeping the queue busy while
    requests on the event loop queue behind it (a lone one would be written on the loop itself)."""
    return asyncio.ensure_future(asyncio.to_thread(queue.submit, item))


async def _submitted_together(queue: GroupCommit[int, int], writer: Writer, items: list[int]) -> list[object]:
    first = _first(queue, items[0])
    await asyncio.to_thread(writer.started.wait, 10)  # the first group is being written
    rest = [asyncio.ensure_future(queue.submit_async(item)) for item in items[1:]]
    await asyncio.sleep(0.05)  # every other request is queued behind it
    writer.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_requests_waiting_on_the_event_loop_share_one_transaction(engine: Engine) -> None:
    writer = Writer()
    results = on_a_loop_of_its_own(_submitted_together(GroupCommit(engine, writer), writer, list(range(1, 13))))
    assert results == [2 * n for n in range(1, 13)]
    assert writer.groups == [[1], list(range(2, 13))]  # the one alone, then all who came meanwhile


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_that_fails_in_a_group_fails_alone_on_the_event_loop(engine: Engine) -> None:
    writer = Writer()
    results = on_a_loop_of_its_own(_submitted_together(GroupCommit(engine, writer), writer, [1, 2, -3, 4]))
    assert results[:2] == [2, 4] and results[3] == 8
    assert isinstance(results[2], ValueError)
    assert sorted(map(tuple, writer.groups)) == [(1,), (2,), (4,)]  # the group failed and was written one by one


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_threads_and_the_event_loop_wait_in_one_queue(engine: Engine) -> None:
    writer = Writer()
    queue = GroupCommit(engine, writer)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(queue.submit, 1)
        assert writer.started.wait(10)
        threaded = [pool.submit(queue.submit, n) for n in (2, 3)]

        async def on_the_loop() -> list[int]:
            return list(await asyncio.gather(queue.submit_async(4), queue.submit_async(5)))

        looped = pool.submit(asyncio.run, on_the_loop())
        threading.Event().wait(0.1)
        writer.release.set()
        assert [first.result(10), *(f.result(10) for f in threaded), *looped.result(10)] == [2, 4, 6, 8, 10]
    assert writer.groups[0] == [1] and sorted(writer.groups[1]) == [2, 3, 4, 5]


class Threads(Writer):
    """``Writer`` that also notes which thread wrote each group."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def __call__(self, session: Session, items: Sequence[int]) -> list[int]:
        self.threads.append(threading.current_thread().name)
        return super().__call__(session, items)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_under_load_one_writer_thread_writes_group_after_group(engine: Engine) -> None:
    writer = Threads()
    queue = GroupCommit(engine, writer, max_group=2)
    results = on_a_loop_of_its_own(_submitted_together(queue, writer, list(range(1, 8))))
    assert results == [2 * n for n in range(1, 8)]
    assert writer.groups == [[1], [2, 3], [4, 5], [6, 7]]
    # The first request's thread wrote its own group, and handed the turn to a writer thread; that thread went on
    # with the rest, without handing the turn back to a request on the event loop.
    assert len(set(writer.threads[1:])) == 1 and writer.threads[1].startswith("group-commit")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_request_cancelled_while_it_waits_holds_up_no_one(engine: Engine) -> None:
    writer = Writer()
    queue = GroupCommit(engine, writer, max_group=1)

    async def one_cancelled() -> tuple[list[object], int]:
        first = _first(queue, 1)
        await asyncio.to_thread(writer.started.wait, 10)
        cancelled = asyncio.ensure_future(queue.submit_async(2))
        after = asyncio.ensure_future(queue.submit_async(3))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        writer.release.set()
        done = await asyncio.wait_for(asyncio.gather(first, cancelled, after, return_exceptions=True), 10)
        return done, await asyncio.wait_for(queue.submit_async(4), 10)

    (first, cancelled, after), later = on_a_loop_of_its_own(one_cancelled())
    assert (first, after, later) == (2, 6, 8) and isinstance(cancelled, asyncio.CancelledError)
    assert writer.groups == [[1], [2], [3], [4]]  # its item had been handed in: it was written all the same


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_thread_that_wrote_its_group_goes_back_to_its_request(engine: Engine) -> None:
    writer = Threads()
    queue = GroupCommit(engine, writer, max_group=1)

    async def on_the_loop() -> list[int]:
        return list(await asyncio.gather(queue.submit_async(2), queue.submit_async(3)))

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(queue.submit, 1)
        assert writer.started.wait(10)
        looped = pool.submit(asyncio.run, on_the_loop())
        threading.Event().wait(0.1)
        writer.release.set()
        assert first.result(10) == 2 and looped.result(10) == [4, 6]
    assert writer.threads[0] != writer.threads[1]  # the submitting thread wrote its own group only
    assert writer.threads[1].startswith("group-commit") and writer.threads[1] == writer.threads[2]


class AfterTheFirstAnswer(Writer):
    """``Writer`` that writes the item 3 only once ``answered`` is set (or 5 s have passed), noting which."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = threading.Event()
        self.in_time: list[bool] = []

    def __call__(self, session: Session, items: Sequence[int]) -> list[int]:
        if items == [3]:
            self.in_time.append(self.answered.wait(5))
        return super().__call__(session, items)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_request_is_answered_when_its_own_group_commits(engine: Engine) -> None:
    """Under load the writer thread goes on with the next groups; the requests of a group written are answered
    meanwhile, not once the queue is empty."""
    writer = AfterTheFirstAnswer()
    queue = GroupCommit(engine, writer, max_group=1)

    async def three() -> list[int]:
        first = _first(queue, 1)
        await asyncio.to_thread(writer.started.wait, 10)
        second, third = asyncio.ensure_future(queue.submit_async(2)), asyncio.ensure_future(queue.submit_async(3))
        await asyncio.sleep(0.05)
        writer.release.set()
        done = [await first, await second]
        writer.answered.set()
        return [*done, await third]

    assert on_a_loop_of_its_own(three()) == [2, 4, 6]
    assert writer.in_time == [True]  # the second was answered before the group after it was written


class Where:
    """Doubles each item through a statement, noting the thread that wrote each group and the write lock's wait
    (``busy_timeout``, ms) seen inside its transaction on SQLite."""

    def __init__(self) -> None:
        self.groups: list[tuple[list[int], threading.Thread]] = []
        self.waits: list[int] = []

    def __call__(self, session: Session, items: Sequence[int]) -> list[int]:
        self.groups.append((list(items), threading.current_thread()))
        if session.get_bind().dialect.name == "sqlite":
            self.waits.append(session.scalar(text("PRAGMA busy_timeout")))
        return [session.scalar(text("SELECT 2 * :n"), {"n": n}) for n in items]


async def _with_loop_thread(work: Awaitable[T]) -> tuple[T, threading.Thread]:
    return await work, threading.current_thread()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_lone_request_on_the_event_loop_is_written_on_the_loop_itself(engine: Engine) -> None:
    """No hand-off to a writer thread and back: the write lock was free, so it was taken at once."""
    writer = Where()
    queue = GroupCommit(engine, writer)
    assert on_a_loop_of_its_own(_with_loop_thread(queue.submit_async(1))) == (2, writer.groups[0][1])
    result, loop = on_a_loop_of_its_own(_with_loop_thread(queue.submit_async(2)))
    assert result == 4 and writer.groups[1] == ([2], loop)
    assert writer.waits == [30_000, 30_000]  # a writer waits for the lock again once it has it


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_requests_read_in_one_turn_of_the_loop_are_written_together_on_a_writer_thread(engine: Engine) -> None:
    writer = Where()
    queue = GroupCommit(engine, writer)

    async def together() -> list[int]:
        return list(await asyncio.gather(*(queue.submit_async(n) for n in (1, 2, 3))))

    assert on_a_loop_of_its_own(together()) == [2, 4, 6]
    [(items, thread)] = writer.groups
    assert items == [1, 2, 3] and thread.name.startswith("group-commit")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_after_a_group_of_several_a_lone_request_is_still_written_on_a_writer_thread(engine: Engine) -> None:
    """Under load a writer thread gathers the next group (``gather_ms``): the loop writes nothing itself until a lone
    item has been written alone again."""
    writer = Where()
    queue = GroupCommit(engine, writer)

    async def together() -> list[int]:
        return list(await asyncio.gather(*(queue.submit_async(n) for n in (1, 2))))

    assert on_a_loop_of_its_own(together()) == [2, 4]
    assert on_a_loop_of_its_own(_with_loop_thread(queue.submit_async(3)))[0] == 6
    result, loop = on_a_loop_of_its_own(_with_loop_thread(queue.submit_async(4)))
    assert result == 8 and [items for items, _ in writer.groups] == [[1, 2], [3], [4]]
    assert [thread.name.startswith("group-commit") for _, thread in writer.groups] == [True, True, False]
    assert writer.groups[2][1] is loop


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_lone_request_waits_for_a_held_write_lock_on_a_writer_thread_not_on_the_loop(engine: Engine) -> None:
    writer = Where()
    queue = GroupCommit(engine, writer)
    holder = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # as an import would, for as long as it runs

    async def while_held() -> tuple[int, int, bool]:
        written = asyncio.ensure_future(queue.submit_async(1))
        ticks = 0
        for _ in range(10):  # the loop goes on serving meanwhile
            await asyncio.sleep(0.02)
            ticks += 1
        waited = not written.done()
        holder.execute("ROLLBACK")
        return await asyncio.wait_for(written, 10), ticks, waited

    try:
        assert on_a_loop_of_its_own(while_held()) == (2, 10, True)
    finally:
        holder.close()
    [(items, thread)] = writer.groups
    assert items == [1] and thread.name.startswith("group-commit") and writer.waits == [30_000]
    result, loop = on_a_loop_of_its_own(_with_loop_thread(queue.submit_async(2)))  # the lock free again: here
    assert result == 4 and writer.groups[1] == ([2], loop) and writer.waits[1] == 30_000


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_on_postgresql_a_lone_request_is_written_on_a_writer_thread(engine: Engine) -> None:
    """A server's locks are not tried without waiting: its writes keep off the event loop."""
    writer = Where()
    result, loop = on_a_loop_of_its_own(_with_loop_thread(GroupCommit(engine, writer).submit_async(1)))
    [(items, thread)] = writer.groups
    assert (result, items) == (2, [1]) and thread is not loop and thread.name.startswith("group-commit")


class Fatal(BaseException):
    """What no writer catches (as an interrupt is)."""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_writer_that_dies_still_passes_the_turn_on(engine: Engine) -> None:
    started, release = threading.Event(), threading.Event()

    def write(session: Session, items: Sequence[int]) -> list[int]:
        if items == [1]:
            started.set()
            release.wait(10)
            raise Fatal
        return [2 * item for item in items]

    queue = GroupCommit(engine, write, max_group=1)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(queue.submit, 1)
        assert started.wait(10)
        looped = pool.submit(asyncio.run, queue.submit_async(2))
        threading.Event().wait(0.1)
        release.set()
        with pytest.raises(Fatal):
            first.result(10)
        assert looped.result(10) == 4


def _begun(engine: Engine) -> list[tuple[Connection, object]]:
    """Each transaction begun on ``engine`` from now on: its connection and the driver's connection under it."""
    seen: list[tuple[Connection, object]] = []
    event.listen(engine, "begin", lambda conn: seen.append((conn, conn.connection.dbapi_connection)))
    return seen


def _locked_out(engine: Engine) -> bool:
    """Whether another connection is refused SQLite's write lock (something holds a transaction open)."""
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        other.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_groups_are_written_on_one_connection_the_queue_keeps(engine: Engine) -> None:
    begun = _begun(engine)
    queue = GroupCommit(engine, lambda session, items: [session.scalar(text("SELECT 2 * :n"), {"n": n}) for n in items])
    assert [queue.submit(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert len(begun) == 3 and len({id(driver) for _, driver in begun}) == 1
    with session_scope(engine) as session:  # everyone else still takes the pool's
        session.execute(text("SELECT 1"))
    assert begun[-1][1] is not begun[0][1]
    assert not _locked_out(engine)  # between groups the kept connection holds no transaction


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_kept_connection_is_left_in_no_transaction_when_a_group_fails_and_replaced_when_broken(
        engine: Engine) -> None:
    begun = _begun(engine)

    def write(session: Session, items: Sequence[int]) -> list[int]:
        session.execute(text("CREATE TABLE IF NOT EXISTS kept (n INTEGER PRIMARY KEY)"))
        session.execute(text("INSERT INTO kept (n) VALUES (:n)"), [{"n": n} for n in items])
        if any(n < 0 for n in items):
            raise ValueError("negative")
        return list(items)

    queue = GroupCommit(engine, write)
    assert queue.submit(1) == 1
    with pytest.raises(ValueError):
        queue.submit(-2)
    assert not _locked_out(engine)  # rolled back: the write lock is free
    assert queue.submit(3) == 3
    kept = begun[0][0]
    assert all(c is kept for c, _ in begun)
    with engine.connect() as conn:
        assert [n for n, in conn.execute(text("SELECT n FROM kept ORDER BY n"))] == [1, 3]  # the failed write is gone

    kept.invalidate()  # as SQLAlchemy marks a connection whose driver failed
    assert queue.submit(4) == 4
    replaced = begun[-1][0]
    assert replaced is not kept
    engine.dispose()  # the database let go of: the queue closes what it kept
    assert replaced.closed
    assert queue.submit(5) == 5 and begun[-1][0] is not replaced  # and opens another if asked again


def _in_the_database_file(engine: Engine, table: str) -> list[int]:
    """The rows of ``table`` as the database file holds them, without the write-ahead log (what was checkpointed)."""
    file = sqlite3.connect(f"file:{engine.url.database}?immutable=1", uri=True)
    try:
        return [n for n, in file.execute(f"SELECT n FROM {table} ORDER BY n")]
    except sqlite3.OperationalError:  # the table itself is not there yet
        return []
    finally:
        file.close()


def _rows_into(table: str, payload: int = 0) -> Callable[[Session, Sequence[int]], list[int]]:
    """A writer that stores each item as a row of ``table`` with ``payload`` bytes, and gives the item back."""
    def write(session: Session, items: Sequence[int]) -> list[int]:
        session.execute(text(f"CREATE TABLE IF NOT EXISTS {table} (n INTEGER PRIMARY KEY, body TEXT)"))
        session.execute(text(f"INSERT INTO {table} (n, body) VALUES (:n, :body)"),
                        [{"n": n, "body": "x" * payload} for n in items])
        return list(items)
    return write


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_sqlite_what_a_group_committed_is_checkpointed_in_the_background(engine: Engine) -> None:
    queue = GroupCommit(engine, _rows_into("checkpointed"), checkpoint_ms=1)
    assert [queue.submit(n) for n in (1, 2)] == [1, 2]  # the second maybe while the first's checkpoint runs
    deadline = time.monotonic() + 10
    while _in_the_database_file(engine, "checkpointed") != [1, 2] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _in_the_database_file(engine, "checkpointed") == [1, 2]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_under_steady_writes_the_log_is_still_started_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints in the background never catch up with a writer that keeps writing, so the log would only grow;
    the writer's own automatic checkpoint, past ``_WAL_PAGES``, copies the rest, and the log starts again."""
    monkeypatch.setattr(groupcommit, "_WAL_PAGES", 40)
    queue = GroupCommit(engine, _rows_into("steady", payload=3000), checkpoint_ms=1)
    for n in range(600):  # about 600 pages of rows
        queue.submit(n)
    pages = (Path(f"{engine.url.database}-wal").stat().st_size - 32) / (4096 + 24)
    assert pages < 4 * 40, pages
