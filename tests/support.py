"""Helpers for asserting on the database as a whole."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from click.testing import Result
from sqlalchemy import Engine, event, func, select

from evenhand import config, db
from evenhand.db import session_scope
from evenhand.models import AuditEntry, Base

T = TypeVar("T")

Run = Callable[..., Result]  # the ``run`` fixture: invoke the CLI with these arguments (and ``input=``)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, for every table in the metadata (the audit log included)."""
    tables = Base.metadata.sorted_tables
    counts = select(*[select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables])
    with session_scope(engine, readonly=True) as session:
        return dict(session.execute(counts).one()._mapping)


def audit_entries(engine: Engine) -> list[AuditEntry]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def audit_actions(engine: Engine, after: int = 0) -> list[tuple[str, str | None, int | None]]:
    """(action, subject_id, actor_id) of every audit entry past ``after``."""
    return [(e.action, e.subject_id, e.actor_id) for e in audit_entries(engine)[after:]]


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a JSON error response, after checking its shape."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "field"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def clear_caches() -> None:
    """Forget the cached settings and engine, so a CLI run reads its environment as a fresh process would."""
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    config.forget_settings()
    db.get_engine.cache_clear()


def in_a_thread(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a thread of its own, for work that starts an event loop (``asyncio.run``, a command that
    does): a browser test earlier in the same worker may leave this thread's loop running, and ``asyncio.run``
    refuses to start inside one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args).result()


def on_a_loop_of_its_own(work: Coroutine[Any, Any, T]) -> T:
    return in_a_thread(asyncio.run, work)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile, its whitespace folded, in order."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
