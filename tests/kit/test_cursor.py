"""The driver's cursor for bulk reads, on SQLite and PostgreSQL: rows and int64 tables straight from the cursor,
bound times compared as the driver stores them, and epoch seconds computed by the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, bindparam, func, insert, select

from evenhand.kit import cursor
from evenhand.kit.cursor import epoch, plain_time, rows, table
from evenhand.models import KpiWatermark

BEIJING = timezone(timedelta(hours=8))
STORED = {"leads": datetime(2026, 3, 1, 10, 0, 0, 999_000), "alerts": datetime(2026, 3, 1, 10, 0, 1),
          "decisions": datetime(1999, 12, 31, 23, 59, 59, 500_000)}  # naive UTC, as SQLAlchemy stores them


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        connection.execute(insert(KpiWatermark), [
            {"source": s, "seen_until": at, "refreshed_at": at} for s, at in STORED.items()])
    with engine.connect() as connection:
        yield connection


def test_rows_are_plain_tuples_with_in_lists_and_times_bound(conn: Connection, backend: str) -> None:
    """SQLite's driver takes positional parameters, psycopg named ones: both read the same rows."""
    assert conn.dialect.positional is (backend == "sqlite")
    stmt = (select(KpiWatermark.source, KpiWatermark.refreshed_at)
            .where(KpiWatermark.source.in_(["alerts", "leads", "nowhere"]),
                   KpiWatermark.seen_until >= plain_time(conn, datetime(2026, 3, 1, 18, 0, 1, tzinfo=BEIJING)))
            .order_by(KpiWatermark.source))
    found = rows(conn, stmt)
    assert [r[0] for r in found] == ["alerts"] and type(found[0]) is tuple
    # no result processing: SQLite hands over the stored text, psycopg a naive timestamp
    assert found[0][1] == ("2026-03-01 10:00:01.000000" if backend == "sqlite" else STORED["alerts"])


def test_a_bound_time_compares_to_the_microsecond(conn: Connection) -> None:
    at = datetime(2026, 3, 1, 10, 0, 0, 999_000, tzinfo=UTC)
    for moment, expected in ((at, ["alerts", "leads"]), (at + timedelta(microseconds=1), ["alerts"]),
                             (at.astimezone(BEIJING), ["alerts", "leads"])):
        stmt = select(KpiWatermark.source).where(KpiWatermark.seen_until >= plain_time(conn, moment))
        assert sorted(r[0] for r in rows(conn, stmt)) == expected


def test_table_is_one_int64_table_even_without_rows(conn: Connection) -> None:
    stmt = select(func.length(KpiWatermark.source), epoch(conn, KpiWatermark.seen_until)).order_by(
        KpiWatermark.source)
    found = table(conn, stmt, 2)
    assert found.dtype == np.int64 and found.tolist() == [
        [6, int(STORED["alerts"].replace(tzinfo=UTC).timestamp())],
        [9, int(STORED["decisions"].replace(tzinfo=UTC).timestamp())],
        [5, int(STORED["leads"].replace(tzinfo=UTC).timestamp())]]
    assert table(conn, stmt.where(KpiWatermark.source == "nowhere"), 2).shape == (0, 2)


def test_epoch_truncates_to_whole_seconds_from_a_column_text_or_expression(
        conn: Connection, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole seconds, the fraction (here whole milliseconds) dropped: what ``int(timestamp)`` gives after 1970.
    NULL stays NULL. Without ``unixepoch`` (SQLite before 3.38) ``strftime('%s')`` gives the same."""
    expected = {s: int(at.replace(tzinfo=UTC).timestamp()) for s, at in STORED.items()}
    for unixepoch in (True, False) if backend == "sqlite" else (True,):
        monkeypatch.setattr(cursor, "_UNIXEPOCH", unixepoch)
        for moment in (KpiWatermark.seen_until, "kpi_watermarks.seen_until",
                       func.coalesce(KpiWatermark.seen_until, KpiWatermark.refreshed_at)):
            stmt = select(KpiWatermark.source, epoch(conn, moment)).select_from(KpiWatermark)
            found = rows(conn, stmt)
            assert dict(found) == expected and all(type(seconds) is int for _, seconds in found)
        none = select(epoch(conn, func.max(KpiWatermark.seen_until))).where(KpiWatermark.source == "nowhere")
        assert rows(conn, none) == [(None,)]


def test_epoch_drops_a_second_s_last_half_millisecond_too(engine: Engine, backend: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's own parsing reads a stored time to the millisecond, rounded: 10:00:00.9996 would be 10:00:01."""
    late = datetime(2026, 3, 1, 10, 0, 0, 999_600)
    with engine.begin() as connection:
        connection.execute(insert(KpiWatermark), [{"source": "late", "seen_until": late, "refreshed_at": late}])
        for unixepoch in (True, False) if backend == "sqlite" else (True,):
            monkeypatch.setattr(cursor, "_UNIXEPOCH", unixepoch)
            found = rows(connection, select(epoch(connection, KpiWatermark.seen_until)))
            assert found == [(int(late.replace(tzinfo=UTC).timestamp()),)]


def test_listed_reads_pad_their_lists_and_prepare_one_statement_per_length(conn: Connection) -> None:
    """Lists of 1, 3 and 4 values and of 600 (past the largest length: expanded) find what an expanding IN finds;
    the padded lengths 1 and 4 make two statements, whatever the second list's values. The values are bound as
    their column's type: times compare as stored."""
    def build(in_: Callable[[Any, str], Any]) -> Any:
        return (select(KpiWatermark.source).where(in_(KpiWatermark.source, "sources"),
                                                  in_(KpiWatermark.seen_until, "times"))
                .order_by(KpiWatermark.source))

    reads = cursor.Listed(build)
    times = {"times": [STORED["leads"].replace(tzinfo=UTC), STORED["alerts"].replace(tzinfo=UTC)]}
    for sources in (["leads"], ["alerts", "nowhere", "leads"], ["decisions", "alerts", "x", "y"],
                    ["alerts", *(f"n{k}" for k in range(598)), "leads"]):
        expected = conn.execute(build(lambda column, name: column.in_(bindparam(name, expanding=True))),
                                {"sources": sources, **times}).scalars().all()
        assert [source for source, in reads.rows(conn, {"sources": sources, **times})] == expected
    assert expected == ["alerts", "leads"] and len(reads._prepared) == 2  # three values are padded to four
    with pytest.raises(ValueError, match="sources"):
        reads.rows(conn, {"sources": [], **times})
