"""Rows written through the connection: new ORM objects inserted in one statement, and what was written told as
an ORM flush would tell it.

The intake path stores its leads and decisions with Core statements, past the ORM's unit of work, which costs
more than the statements themselves. ``insert`` writes new objects of one class in one ``INSERT … RETURNING id``
and makes them persistent and clean, as if loaded: nothing is left to flush or to load. Whatever watches flushes
(``alerts.marks`` marks each lead written, for the incremental scan) does not see such writes, so a writer that goes
around the ORM calls ``wrote`` with the entities it wrote; listeners, registered by the layers above
(``alerts.tasks``), run in the writer's transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Insert, Table, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached

from evenhand.kit.cursor import Prepared, writes

Listener = Callable[[Session, str, list[int]], None]
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
    insert: Prepared
    columns: list[tuple[str, str, Callable[[], Any] | None]]  # (attribute, column, its Python default)


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
    return _Shape(Prepared(insert), columns)


def insert(session: Session, objects: Sequence[Any]) -> None:
    """New objects of one mapped class with a single integer key, inserted in one statement in the session's
    transaction: a column left None takes its Python default, every object gets its id and joins the session
    persistent, with nothing to flush or load."""
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
    ids = [new_id for new_id, in shape.insert.returned(session.connection(), rows)]
    for obj, new_id in zip(objects, ids, strict=True):
        obj.id = new_id
        make_transient_to_detached(obj)
    session.add_all(objects)
