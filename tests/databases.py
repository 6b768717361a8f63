"""Test databases: PostgreSQL servers and databases, SQLite copies."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from evenhand.models import Base
from evenhand.models.revision import first_row


@dataclass(frozen=True)
class PgServer:
    """A reachable PostgreSQL server and a connection that may create and drop databases."""

    url: str

    def admin(self) -> Engine:
        return create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def database_url(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        admin = self.admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # Test data need not survive a crash: don't wait for the WAL flush on every commit.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        admin = self.admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def worker_tag() -> str:
    """Unique per xdist worker and process, so parallel and concurrent runs never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


@dataclass(frozen=True)
class PgDatabase:
    url: str
    engine: Engine

    def empty(self) -> None:
        """Every table emptied and every sequence back at 1, the revision's row as a migration writes it.

        ``DELETE`` with triggers off, not ``TRUNCATE``: a truncate gives each of the ~350 tables, indexes and
        sequences a new file, some 0.3 s a test, and leaves the next checkpoint hundreds of thousands of files to
        sync (15 s at the end of a run). The tables a test fills hold a few rows."""
        with self.engine.begin() as conn:
            # A test that leaked an open transaction holding rows must fail loudly, not hang the run.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            # Neither the foreign keys' checks nor the revision's and owners' triggers: every table is emptied.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.exec_driver_sql(self._emptying)

    @cached_property
    def _emptying(self) -> str:
        with self.engine.connect() as conn:
            sequences = conn.scalars(text("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                                          "FROM pg_sequences")).all()
        return "; ".join([*(f'DELETE FROM "{t.name}"' for t in Base.metadata.sorted_tables),
                          *(f"SELECT setval('{s}', 1, false)" for s in sequences), first_row("postgresql")])


def fold_log(path: Path) -> None:
    """Fold a SQLite file's write-ahead log into the file itself, so that copying that one file copies everything."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fresh_sqlite(template: Path, directory: Path) -> str:
    target = directory / "evenhand.sqlite"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
