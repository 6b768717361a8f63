"""The driver's cursor for bulk reads (CONVENTIONS.md, "Bulk paths"): a Core statement's rows as plain tuples or
as one int64 table, bound times in the form the driver compares, and times turned into epoch seconds by the
database.

A statement read here skips SQLAlchemy's parameter and result processing, so its bound values must already be what
the driver takes: numbers, text, and times from ``plain_time``."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    ClauseElement,
    ColumnElement,
    ColumnExpressionArgument,
    Connection,
    cast,
    extract,
    func,
    literal_column,
)

from evenhand.kit.clock import as_utc

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC time in SQLite
# unixepoch() (SQLite ≥ 3.38) parses several times faster than strftime('%s'); both truncate to whole seconds.
_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38)


def rows(conn: Connection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """A Core statement's rows straight from the driver's cursor: plain tuples, no result processing. The statement
    is compiled with its IN lists expanded, and its parameters go positionally or by name as the driver wants."""
    compiled: Any = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def table(conn: Connection, stmt: ClauseElement, width: int) -> np.ndarray:
    """A statement of ``width`` integer columns (none NULL) as one int64 table, zero rows included."""
    return np.array(rows(conn, stmt), dtype=np.int64).reshape(-1, width)


def plain_time(conn: Connection, moment: datetime) -> Any:
    """A bound time as the driver takes it: SQLite compares the stored text, PostgreSQL a naive UTC timestamp."""
    naive = as_utc(moment).replace(tzinfo=None)
    return naive.strftime(SQLITE_TIME) if conn.dialect.name == "sqlite" else naive


def epoch(conn: Connection, moment: str | ColumnExpressionArgument[Any]) -> ColumnElement[Any]:
    """Epoch seconds of a stored UTC time, computed by the database and truncated to whole seconds like the pure
    code (``unixepoch`` on SQLite ≥ 3.38, else ``strftime('%s')``; ``FLOOR(EXTRACT(EPOCH …))`` on PostgreSQL); NULL
    stays NULL. SQLite would read the stored text to the millisecond, rounded, so a time in the last half millisecond
    of a second would count as the next second: it is given the text cut at the whole second. ``moment`` is an
    expression, or SQL text in the statement's own names (a column, a COALESCE over a correlated subquery)."""
    value = literal_column(moment) if isinstance(moment, str) else moment
    if conn.dialect.name != "sqlite":
        return cast(func.floor(extract("epoch", value)), BigInteger)
    whole = func.substr(value, 1, 19)  # "YYYY-MM-DD HH:MM:SS", as SQLAlchemy stores a naive time
    return cast(func.unixepoch(whole) if _UNIXEPOCH else func.strftime("%s", whole), BigInteger)


def epoch_sql(conn: Connection, moment: str) -> str:
    """``epoch`` as SQL text, for a statement written as text: ``moment`` in that statement's own names."""
    return str(epoch(conn, moment).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
