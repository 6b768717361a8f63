"""Engines and the session boundary.

Requests, CLI commands and jobs each open one session with :func:`session_scope` (or the
``DbSession`` dependency) and commit once; services only ``flush()``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from evenhand.config import get_settings


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


_BUSY_MS = 30_000  # how long a writer waits for SQLite's write lock (``busy_timeout``)
# The page size of a new database file. A durable commit's cost grows with the bytes it writes to the log, and a
# routed lead changes some 40 pages (its rows' and each index's): at 2 KiB rather than SQLite's 4 KiB they come to
# half the bytes, and a lead costs 5 % less (CONVENTIONS "Hot paths"). A file made before keeps its own size.
PAGE_BYTES = 2048
# Reads of the database file go through a memory map of this much of it (the operating system's page cache, shared
# by every connection) rather than a ``read`` per page into each connection's own 2 MiB cache. On the demo the home
# page's waiting leads take 1.6 ms, not 4.6, and the board reads as fast at 2 KiB pages as it did at 4 KiB without
# the map. Writes go through the log as before.
MAP_BYTES = 256 * 1024 * 1024


class WriteLockBusy(Exception):
    """Another connection holds SQLite's write lock, and the transaction was to begin only without waiting for it
    (``NOWAIT``): nothing was done."""


NOWAIT = "evenhand_nowait"
"""An execution option of a SQLite connection: its next writing transaction takes the write lock only if it is free,
else raises ``WriteLockBusy`` (for work done where waiting would hold up everything else: on the event loop)."""
READONLY = "evenhand_readonly"  # a read-only transaction on SQLite: a plain BEGIN, which takes no write lock


def _sqlite_pragmas(synchronous: str, dbapi_conn: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions lazily; we take the write lock up front instead
    # (BEGIN IMMEDIATE) so two writers queue on busy_timeout rather than deadlocking on upgrade.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_BYTES}")  # before the first table and the log exist, else it does nothing
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA mmap_size={MAP_BYTES}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Sent on the driver, past SQLAlchemy's execution (13 of the 65 µs an empty transaction takes), unless something
    listens for the engine's cursor events (a test counting statements), as ``kit.cursor.Prepared`` does; an error
    is raised as SQLAlchemy raises it (a lock not had after ``busy_timeout``: ``OperationalError``); with
    ``NOWAIT``, only a lock that is free is taken."""
    options = conn.get_execution_options()
    if options.get(READONLY, False):
        _send(conn, "BEGIN")
    elif options.get(NOWAIT, False):
        _send(conn, "PRAGMA busy_timeout=0")
        try:
            _send(conn, "BEGIN IMMEDIATE")
        except DBAPIError as error:
            if getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
                raise WriteLockBusy(str(conn.engine.url)) from error
            raise
        finally:
            _send(conn, f"PRAGMA busy_timeout={_BUSY_MS}")
    else:
        _send(conn, "BEGIN IMMEDIATE")


def _send(conn: Any, sql: str) -> None:
    if conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute:
        conn.exec_driver_sql(sql)
        return
    try:
        conn.connection.dbapi_connection.execute(sql)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, (), error, sqlite3.Error, dialect=conn.dialect) from error


def _json_dumps(value: Any) -> str:
    """JSON columns are written by orjson (several times faster than ``json`` on decision evidence); what it
    cannot write (integers beyond 64 bits, subclasses it refuses) goes through ``json`` as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


# Text with a run of 19 digits may hold an integer beyond 64 bits, which orjson reads as a float: ``json``
# reads it. (A long fraction or a string of digits is only read the slower way.) Every digit becomes "0"
# and everything else a space, and the run is looked for in that: a regular expression costs more than
# reading the text with ``json``.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def _json_loads(text: str | bytes) -> Any:
    if _LONG_RUN in (text.encode() if isinstance(text, str) else text).translate(_DIGITS_ONLY):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN and Infinity, which ``json`` wrote and orjson does not read
        return json.loads(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs = {"json_serializer": _json_dumps, "json_deserializer": _json_loads} | kwargs
    if is_sqlite(url):
        path = make_url(url).database
        options = dict(kwargs)
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # As many pooled connections as the server has request threads (AnyIO's 40): an overflow
            # connection is closed when returned, and opening one (with its PRAGMAs) costs more than a request.
            options = {"pool_size": 40, "max_overflow": 10} | options
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_MS / 1000}, **options)
        event.listen(engine, "connect", partial(_sqlite_pragmas, get_settings().sqlite_synchronous))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    return make_engine(url or get_settings().db_url)


@lru_cache
def _factory(engine: Engine, readonly: bool) -> sessionmaker[Session]:
    bind = engine.execution_options(**{READONLY: True}) if readonly else engine
    factory = sessionmaker(bind=bind, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        event.listen(factory, "before_flush", _number_new_rows)
    return factory


def _number_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    """Give new rows their ids before a flush that inserts several of one kind, so they go to SQLite as one
    ``executemany``. SQLite cannot return generated ids in the order of a multi-row INSERT, so without ids
    SQLAlchemy sends one INSERT per row; numbering them here (``max(id) + 1`` …) is safe because a writing
    SQLite transaction holds the database's write lock from its first statement (BEGIN IMMEDIATE)."""
    pending: dict[Any, list[Any]] = {}
    given: dict[Any, int] = {}  # the highest id already set on a new row of that kind
    for obj in session.new:
        mapper = inspect(obj).mapper
        keys = mapper.primary_key
        if len(keys) != 1 or keys[0].key != "id":
            continue
        if obj.id is None:
            pending.setdefault(mapper, []).append(obj)
        else:
            given[mapper] = max(given.get(mapper, 0), obj.id)
    for mapper, rows in pending.items():
        if len(rows) < 2:
            continue
        stored = session.connection().execute(select(func.max(mapper.primary_key[0]))).scalar() or 0
        start = max(stored, given.get(mapper, 0))
        for number, obj in enumerate(sorted(rows, key=_added_order), start + 1):
            obj.id = number


def _added_order(obj: Any) -> int:
    return inspect(obj).insert_order


def new_session(engine: Engine | None = None, *, readonly: bool = False,
                connection: Connection | None = None) -> Session:
    """A session; on SQLite a writing one takes the write lock when it begins, a readonly one never. With
    ``connection`` (one of ``engine``'s, in no transaction) it works on that connection instead of one from the pool:
    it begins its transaction there, commits or rolls it back, and leaves the connection open."""
    factory = _factory(engine or get_engine(), readonly)
    return factory() if connection is None else factory(bind=connection)


@contextmanager
def session_scope(engine: Engine | None = None, *, readonly: bool = False,
                  connection: Connection | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = new_session(engine, readonly=readonly, connection=connection)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def refresh_statistics(engine: Engine | None = None) -> None:
    """After a bulk write (an import): on PostgreSQL, ANALYZE, so the planner does not keep the table sizes from
    before it until autovacuum comes round (a minute or more after the commit), planning meanwhile for an empty table
    (the routed intake's member counts took 8.7 ms so instead of 2.3). SQLite keeps no statistics unless asked, and
    the hot path's statements are written for its planner without them: nothing is done there."""
    engine = engine or get_engine()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
