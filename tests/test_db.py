"""Engines and the session boundary."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from evenhand import config
from evenhand.db import is_sqlite, make_engine, new_session, session_scope
from evenhand.migrate import upgrade
from evenhand.models import Department
from tests.builders import make_department

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: every commit is on disk
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 256 * 1024 * 1024  # reads share the OS's cache


def test_a_new_sqlite_file_has_small_pages_and_an_older_file_keeps_its_own(tmp_path: Path) -> None:
    """A routed lead's commit writes half the bytes at 2 KiB pages (CONVENTIONS "Hot paths"); a file made at 4 KiB
    before still opens, migrates and writes at 4 KiB."""
    engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
    upgrade(engine)
    engine.dispose()
    older = tmp_path / "older.sqlite"
    with closing(sqlite3.connect(older)) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("CREATE TABLE made_before (id INTEGER PRIMARY KEY)")
    engine = make_engine(f"sqlite:///{older}")
    upgrade(engine)
    with session_scope(engine) as session:
        make_department(session, code="d1")
    engine.dispose()
    for path, size in ((tmp_path / "new.sqlite", 2048), (older, 4096)):
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == size, path.name
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", path.name
    with closing(sqlite3.connect(older)) as conn:
        assert conn.execute("SELECT code FROM departments").fetchall() == [("d1",)]


def test_sqlite_fsyncs_less_only_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENHAND_SQLITE_SYNCHRONOUS", "NORMAL")
    config.forget_settings()
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'normal.sqlite'}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
        engine.dispose()
        monkeypatch.setenv("EVENHAND_SQLITE_SYNCHRONOUS", "OFF")
        config.forget_settings()
        with pytest.raises(ValidationError, match="sqlite_synchronous"):
            config.get_settings()
    finally:
        config.forget_settings()


@SQLITE_ONLY
def test_sqlite_readers_are_not_blocked_by_a_writer(engine: Engine) -> None:
    writer = new_session(engine)
    try:
        make_department(writer)  # holds the write lock, uncommitted
        with session_scope(engine, readonly=True) as reader:
            assert reader.scalar(select(func.count()).select_from(Department)) == 0
    finally:
        writer.rollback()
        writer.close()



@SQLITE_ONLY
def test_a_writer_that_cannot_have_the_lock_gets_sqlalchemys_error(engine: Engine, db_url: str) -> None:
    """The BEGIN IMMEDIATE sent on the driver: a writer that waits out ``busy_timeout`` behind another is told so
    as SQLAlchemy tells it, an ``OperationalError`` naming the statement; its connection stays usable."""
    holder = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=20")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="BEGIN IMMEDIATE") as raised:
                conn.begin()
            assert "locked" in str(raised.value.orig)
            holder.execute("ROLLBACK")
            with conn.begin():
                assert conn.execute(select(func.count()).select_from(Department)).scalar() == 0
    finally:
        holder.close()

def test_is_sqlite(db_url: str, backend: str) -> None:
    assert is_sqlite(db_url) is (backend == "sqlite")


def test_session_scope_commits_on_success(engine: Engine) -> None:
    with session_scope(engine) as session:
        make_department(session, code="KEPT")
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(Department.code)).all() == ["KEPT"]


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        make_department(session, code="LOST")
        raise RuntimeError("boom")
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Department)) == 0


@pytest.mark.parametrize("statement", [
    "INSERT INTO teams (name, department_id, created_at) VALUES ('T', 999, '2026-01-01')",
    "INSERT INTO users (username, display_name, role, level, team_id, monthly_quota, max_open_leads, "
    "daily_lead_cap, skills, timezone, working_hours, presence, presence_since, active, created_at) VALUES "
    "('u', 'U', 'rep', 'junior', 999, 0, 1, 1, '[]', 'UTC', '{}', 'offline', '2026-01-01', true, '2026-01-01')",
], ids=["teams.department_id", "users.team_id"])
def test_foreign_keys_are_enforced(engine: Engine, statement: str) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(statement))


def test_a_teams_supervisor_must_exist(engine: Engine) -> None:
    """teams and users refer to each other; the supervisor link was once missing on PostgreSQL."""
    with session_scope(engine) as session:
        dept = make_department(session)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (name, department_id, supervisor_id, created_at) "
                          "VALUES ('T', :d, 999, '2026-01-01')"), {"d": dept.id})


def test_many_new_rows_of_one_kind_go_in_one_statement_with_ids_that_do_not_collide(engine: Engine) -> None:
    """On SQLite the rows are numbered before the flush (so SQLAlchemy can use one executemany); a row given
    an id by hand is stepped over. PostgreSQL numbers them itself in one multi-row INSERT."""
    inserts: list[bool] = []

    def seen(_conn: object, _cursor: object, statement: str, _params: object, _context: object,
             executemany: bool) -> None:
        if statement.startswith("INSERT INTO departments"):
            inserts.append(executemany)

    event.listen(engine, "before_cursor_execute", seen)
    with session_scope(engine) as session:
        session.add(Department(code="first", name="first"))
    with session_scope(engine) as session:
        rows = [Department(code=f"d{n}", name=f"d{n}") for n in range(5)] + [Department(id=40, code="x", name="x")]
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    event.remove(engine, "before_cursor_execute", seen)
    assert len(set(ids)) == 6 and 40 in ids
    assert len(inserts) <= 3  # the first row alone, then the batch (the hand-numbered row may go on its own)
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Department)) == 7
