"""The driver's cursor for bulk reads (CONVENTIONS.md, "Bulk paths"): a Core statement's rows as plain tuples or
as one int64 table, bound times in the form the driver compares, and times turned into epoch seconds by the
database.

A statement read here skips SQLAlchemy's parameter and result processing, so its bound values must already be what
the driver takes: numbers, text, and times from ``plain_time``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    ClauseElement,
    ColumnElement,
    ColumnExpressionArgument,
    Connection,
    Executable,
    Insert,
    Table,
    TypeDecorator,
    bindparam,
    cast,
    extract,
    func,
    literal_column,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

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


def plain_day(conn: Connection, day: date) -> Any:
    """A bound day as the driver takes it: SQLite compares the stored text (ISO, as SQLAlchemy stores a date),
    PostgreSQL a date."""
    return day.isoformat() if conn.dialect.name == "sqlite" else day


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


Ins = TypeVar("Ins", bound=Insert)
FEW = 8  # rows an INSERT … RETURNING sends one by one on SQLite (``Prepared.returned``)


class Prepared:
    """A Core statement for the hot path (CONVENTIONS.md, "Hot paths"): compiled once per dialect and sent on the
    driver's own cursor, past SQLAlchemy's execution, which costs more than these indexed statements do.

    Parameters are given as to ``Connection.execute`` (by bind name, as Python values) and go through their
    types' bind processors; rows come back as plain tuples through the result processors of the columns (times
    aware UTC, JSON parsed). The statement's form must not change between executions: no expanding IN lists.
    While something listens for the engine's cursor events (a test counting statements), the statement goes
    through ``exec_driver_sql`` so that it sees it. What runs here fires no ``after_execute``: it must not write a
    table the configuration revision watches (``kit.revision``)."""

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._forms: dict[str, _Form] = {}

    def _form(self, conn: Connection) -> _Form:
        form = self._forms.get(conn.dialect.name)
        if form is None:
            form = self._forms[conn.dialect.name] = _Form.of(self.stmt, conn)
        return form

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The statement's rows (or those it returns)."""
        form = self._form(conn)
        return form.processed(form.run(conn, [form.args(params or {})], many=False))

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def returned(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """What an INSERT … RETURNING returned for every set of parameters, in their order: on SQLite, in process, run
        on the driver once per set for a few (``FEW``); else in SQLAlchemy's multi-row form
        (``sort_by_parameter_order``), one statement for many rows (on a server, each statement is a round trip).
        A set that returns no row (``ON CONFLICT DO NOTHING``) adds none."""
        if len(params) > FEW or (len(params) > 1 and conn.dialect.name != "sqlite"):
            return [tuple(row) for row in conn.execute(self.stmt, list(params))]
        form = self._form(conn)
        return [row for one in params for row in form.processed(form.run(conn, [form.args(one)], many=False))]

    def many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """The statement run for every set of parameters in one ``executemany``; nothing read back."""
        if params:
            form = self._form(conn)
            form.run(conn, [form.args(one) for one in params], many=True)


LIST_SIZES = (1, 4, 8, 16, 32, 64, 128, 256, 512)  # the lengths ``Listed`` binds its IN lists with


class Listed:
    """A read with IN lists for the hot path: each list is bound with a fixed length, the next of ``LIST_SIZES`` at
    or above its own, padded by repeating its last value (which changes nothing under IN). Each combination of
    lengths is one ``Prepared`` statement, compiled once, where an expanding list is rendered anew at every
    execution; SQLite plans these lists as it would plain ones. A list past the largest length is expanded.

    ``build`` makes the statement; it is given ``in_(column, name)``, which makes ``column IN`` the list of that name,
    bound as the column's type."""

    def __init__(self, build: Callable[[Callable[[Any, str], Any]], Executable]) -> None:
        self._build = build
        self._prepared: dict[tuple[tuple[str, int], ...], Prepared] = {}
        self._expanded: Executable | None = None

    def rows(self, conn: Connection, lists: Mapping[str, Sequence[Any]],
             params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows for these lists (each with at least one value) and further parameters."""
        sizes = {name: next((size for size in LIST_SIZES if size >= len(values)), 0) for name, values in lists.items()}
        if not all(sizes.values()):
            if self._expanded is None:
                self._expanded = self._build(lambda column, name: column.in_(bindparam(name, expanding=True)))
            given = {**(params or {}), **{name: list(values) for name, values in lists.items()}}
            return [tuple(row) for row in conn.execute(self._expanded, given)]
        key = tuple(sorted(sizes.items()))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = Prepared(self._build(lambda column, name: column.in_(
                [bindparam(f"{name}_{k}", type_=column.type) for k in range(sizes[name])])))
        bound = dict(params or {})
        for name, values in lists.items():
            if not values:
                raise ValueError(f"the list {name} is empty")
            bound |= {f"{name}_{k}": values[min(k, len(values) - 1)] for k in range(sizes[name])}
        return prepared.rows(conn, bound)


def _result_processor(kind: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The type's result processor, for rows read without the driver's column types: a type that needs them (a
    number on psycopg, which the driver returns typed already) takes the driver's value as it is."""
    try:
        return kind.dialect_impl(dialect).result_processor(dialect, None)
    except TypeError:
        return None


class JsonText(TypeDecorator[str]):
    """A JSON column's value given as JSON text already written: sent as it is, and parsed by the database (cast to
    JSONB on PostgreSQL), so a value serialised once for another purpose (an audit entry's canonical form) is not
    serialised again."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def writes(table: Table, columns: Iterable[str], *, insert: Callable[[Table], Ins] = sql_insert,  # type: ignore[assignment]
           as_json_text: Collection[str] = ()) -> Ins:
    """An INSERT (``insert``: a dialect's own, for ``ON CONFLICT``) of these columns, each bound by its own name, and
    of every other column with a fixed default in Python, bound with it: what ``Prepared`` takes. A column whose
    default Python computes (a time) must be among ``columns``; one left out otherwise gets its server's default.
    The JSON columns named in ``as_json_text`` are given as JSON text (``JsonText``)."""
    names = list(columns)
    fixed = {column.key: column.default.arg for column in table.columns  # type: ignore[attr-defined]
             if column.key not in names and column.default is not None and column.default.is_scalar}
    binds = {name: bindparam(name, type_=JsonText() if name in as_json_text else table.c[name].type)
             for name in names}
    binds |= {name: bindparam(name, value, type_=table.c[name].type) for name, value in fixed.items()}
    return insert(table).values(binds)


class _Form(NamedTuple):
    sql: str
    positional: bool
    names: list[str]
    given: list[Any]  # each parameter's value when not given
    processed_binds: list[tuple[int, Callable[[Any], Any], bool]]  # (position, bind processor, processes None)
    results: list[Callable[[Any], Any] | None]

    @classmethod
    def of(cls, stmt: Executable, conn: Connection) -> _Form:
        dialect = conn.dialect
        compiled: Any = stmt.compile(dialect=dialect)  # type: ignore[attr-defined]  # every statement here is a ClauseElement
        defaults = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        assert not defaults, f"{defaults}: a column whose default Python computes must be given (kit.cursor.writes)"
        names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        given, processed = [], []
        for position, name in enumerate(names):
            bind = compiled.binds[name]
            assert not bind.expanding, f"{name}: an expanding parameter changes the statement's form"
            given.append(None if bind.required else bind.effective_value)
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                # A processor gives None for None, except a type that stores None as a value of its own (JSON null).
                processed.append((position, process, bool(bind.type.should_evaluate_none)))
        columns = getattr(stmt, "exported_columns", ())
        results = [_result_processor(column.type, dialect) for column in columns]
        return cls(compiled.string, compiled.positional, names, given, processed, results)

    def args(self, params: Mapping[str, Any]) -> Any:
        values = [params.get(name, given) for name, given in zip(self.names, self.given, strict=True)]
        for position, process, processes_none in self.processed_binds:
            value = values[position]
            if value is not None or processes_none:
                values[position] = process(value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))

    def run(self, conn: Connection, args: list[Any], *, many: bool) -> Sequence[Any]:
        """The driver's rows."""
        if conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute:
            result = conn.exec_driver_sql(self.sql, args if many else args[0])
            return result.fetchall() if result.returns_rows else []
        dbapi: Any = conn.dialect.loaded_dbapi
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(self.sql, args)
            else:
                cursor.execute(self.sql, args[0])
            return cursor.fetchall() if cursor.description else []
        except dbapi.Error as error:  # raised as SQLAlchemy raises it, so callers catch one kind of error
            raise DBAPIError.instance(self.sql, args if many else args[0], error, dbapi.Error,
                                      dialect=conn.dialect) from error
        finally:
            cursor.close()

    def processed(self, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(row) for row in rows]
        return [tuple(value if process is None or value is None else process(value)
                      for value, process in zip(row, self.results, strict=True)) for row in rows]
