"""Bulk-writes simulated tables with SQLAlchemy Core ``insert()`` executemany, in chunks.

Ids are assigned by the simulation, so rows link up without round trips. On PostgreSQL the id
sequences are moved past the written ids afterwards, so later inserts do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from evenhand.demo.records import Column, Table
from evenhand.i18n import N_
from evenhand.models import Base

CHUNK = 10_000
WRITING = N_("Writing to the database")  # progress label
Progress = Callable[[str, float], None]


def write_tables(conn: Connection, tables: list[Table], team_supervisors: list[tuple[int, int]],
                 progress: Progress) -> dict[str, int]:
    """Insert every table in order; ``progress`` gets the share of all rows written so far."""
    total = sum(len(t) for t in tables) or 1
    done = 0
    counts: dict[str, int] = {}
    for table in tables:
        target = Base.metadata.tables[table.name]
        for chunk in _chunks(table):
            conn.execute(insert(target), chunk)
            done += len(chunk)
            progress(WRITING, done / total)
        counts[table.name] = counts.get(table.name, 0) + len(table)
        if table.name == "users":
            _set_supervisors(conn, team_supervisors)
    if conn.dialect.name == "postgresql":
        _advance_sequences(conn, [t.name for t in tables if "id" in t.columns])
    return counts


def _set_supervisors(conn: Connection, pairs: list[tuple[int, int]]) -> None:
    teams = Base.metadata.tables["teams"]
    stmt = update(teams).where(teams.c.id == bindparam("team")).values(supervisor_id=bindparam("sup"))
    conn.execute(stmt, [{"team": team, "sup": sup} for team, sup in pairs])


def _advance_sequences(conn: Connection, names: list[str]) -> None:
    for name in names:
        table = Base.metadata.tables[name]
        top = conn.execute(select(func.max(table.c.id))).scalar_one_or_none() or 1
        conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"), {"t": name, "v": top})


def _chunks(table: Table) -> Iterator[list[dict[str, Any]]]:
    names = list(table.columns)
    n = len(table)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        cols = [_python(table.columns[k][start:stop], k in table.times) for k in names]
        yield [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]


def _python(col: Column, is_time: bool) -> list[Any]:
    """Plain Python values for the driver: datetimes for instants (None for -1), ints, floats, str."""
    if is_time:
        arr = np.asarray(col, dtype=np.int64)
        values: list[Any] = arr.astype("datetime64[s]").tolist()
        return [None if t < 0 else v for t, v in zip(arr.tolist(), values, strict=True)]
    return col.tolist() if isinstance(col, np.ndarray) else list(col)
