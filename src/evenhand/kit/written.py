"""Rows written through the connection: new ORM objects inserted in one statement, and what was written told as
an ORM flush would tell it.

The intake path stores its leads and decisions with Core statements, past the ORM's unit of work, which costs
more than the statements themselves. ``insert`` writes new objects of one class in one ``INSERT … RETURNING id``
(or, for objects whose ids were taken first with ``take_ids``, one ``INSERT`` that returns nothing) and makes them
persistent and clean, as if loaded: nothing is left to flush or to load. Whatever watches flushes
(``alerts.marks`` marks each lead written, for the incremental scan) does not see such writes, so a writer that goes
around the ORM calls ``wrote`` with the entities it wrote; listeners, registered by the layers above
(``alerts.tasks``), run in the writer's transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Insert, Table, bindparam, func, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached

from evenhand.kit.cursor import Prepared, writes

Listener = Callable[[Session, str, list[int]], None]
T = TypeVar("T")
_listeners: list[Listener] = []


def listen(listener: Listener) -> Listener:
    """Register ``listener`` (once, however often its module is imported); usable as a decorator."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def wrote(session: Session, entity: str, ids: Iterable[int]) -> None:
    """``entity`` rows (``"lead"``) with these ids were inserted or changed in the session's transaction."""
    ids = list(ids)
    for listener in _listeners:
        listener(session, entity, ids)


class _Shape(NamedTuple):
    insert: Prepared  # … RETURNING the new ids
    insert_given: Prepared  # with the ids given
    columns: list[tuple[str, str, Callable[[], Any] | None]]  # (attribute, column, its Python default)
    key: tuple[str, str]  # the key's attribute and column


@functools.cache
def _shape(mapper: Mapper[Any]) -> _Shape:
    table: Table = mapper.local_table  # type: ignore[assignment]
    [key] = mapper.primary_key
    columns = []
    for column in table.columns:
        if column is key:
            continue
        default = column.default
        make: Callable[[], Any] | None = None
        if default is not None and getattr(default, "is_scalar", False):
            make = functools.partial(lambda value: value, default.arg)  # type: ignore[attr-defined]
        elif default is not None and getattr(default, "is_callable", False):
            make = functools.partial(default.arg, None)  # type: ignore[attr-defined]  # takes a context
        columns.append((mapper.get_property_by_column(column).key, column.key, make))
    insert: Insert = writes(table, [column for _, column, _ in columns]).returning(key, sort_by_parameter_order=True)
    key_column = str(key.key)
    given: Insert = writes(table, [key_column, *(column for _, column, _ in columns)])
    return _Shape(Prepared(insert), Prepared(given), columns, (mapper.get_property_by_column(key).key, key_column))


_TAKEN = "evenhand.ids_taken"


@functools.cache
def _ids_after(table: Table, dialect: str) -> Prepared:
    """PostgreSQL: the next ``n`` values of the key's sequence; SQLite: the largest key stored."""
    [key] = table.primary_key.columns
    if dialect == "postgresql":
        serial = func.pg_get_serial_sequence(table.name, key.name)
        return Prepared(select(func.nextval(serial)).select_from(func.generate_series(1, bindparam("n"))))
    return Prepared(select(func.coalesce(func.max(key), 0)))


def take_ids(session: Session, cls: type[Any], n: int) -> list[int]:
    """Ids for ``n`` new ``cls`` objects, taken before they are inserted (their INSERT then returns nothing, and
    whatever points at them can be made first). On PostgreSQL they come from the key's sequence, as an insert's
    would; on SQLite they follow the largest id in the table and those taken before in this transaction, which the
    transaction's write lock (``BEGIN IMMEDIATE``, see db.py) keeps to itself until it commits."""
    if n <= 0:
        return []
    table: Table = inspect(cls).local_table
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return sorted(taken for taken, in _ids_after(table, "postgresql").rows(conn, {"n": n}))
    transaction = session.get_transaction()
    found = session.info.get(_TAKEN)
    if found is None or found[0] is not transaction:
        found = session.info[_TAKEN] = (transaction, {})
    taken: dict[str, int] = found[1]
    [(stored,)] = _ids_after(table, conn.dialect.name).rows(conn)
    first = max(int(stored), taken.get(table.name, 0)) + 1
    taken[table.name] = first + n - 1
    return list(range(first, first + n))


_ATTRIBUTES: dict[type[Any], frozenset[str]] = {}  # each mapped class's attribute names


def new(cls: type[T], values: dict[str, Any]) -> T:
    """A new object of a mapped class holding ``values`` (by attribute), made without the constructor, whose attribute
    events (a microsecond or so a column) nothing needs on an object whose row is written whole: by ``insert``, by a
    flush, or already (the object then made persistent as it is, ``make_transient_to_detached``). Set afterwards, an
    attribute is tracked as usual. ``values`` becomes the object's own. A name the class does not map is refused, as
    its constructor refuses it."""
    known = _ATTRIBUTES.get(cls) or _ATTRIBUTES.setdefault(cls, frozenset(inspect(cls).attrs.keys()))
    if unknown := values.keys() - known:
        raise TypeError(f"{cls.__name__} has no attribute {', '.join(sorted(unknown))}")
    obj = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(values)
    return obj


def insert(session: Session, objects: Sequence[Any]) -> None:
    """New objects of one mapped class with a single integer key, inserted in one statement in the session's
    transaction: a column left None takes its Python default, every object gets its id (unless all have theirs
    already, from ``take_ids``) and joins the session persistent, with nothing to flush or load."""
    if not objects:
        return
    shape = _shape(inspect(type(objects[0])))
    rows = []
    for obj in objects:
        # Read and filled in the object's own dict, past the attributes' events: it is transient, nothing tracks its
        # changes, and make_transient_to_detached then takes every value in it as loaded.
        values, row = obj.__dict__, {}
        for attribute, column, default in shape.columns:
            value = values.get(attribute)
            if value is None:
                value = values[attribute] = default() if default is not None else None
            row[column] = value
        rows.append(row)
    attribute, column = shape.key
    given = [obj.__dict__.get(attribute) for obj in objects]
    if all(given):
        shape.insert_given.many(session.connection(),
                                [{column: key, **row} for key, row in zip(given, rows, strict=True)])
    else:
        ids = [new_id for new_id, in shape.insert.returned(session.connection(), rows)]
        for obj, new_id in zip(objects, ids, strict=True):
            obj.id = new_id
    for obj in objects:
        make_transient_to_detached(obj)
    session.add_all(objects)
