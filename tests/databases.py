"""Test databases: PostgreSQL servers and databases, SQLite copies."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from evenhand.models import Base


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

    def truncate(self) -> None:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.engine.begin() as conn:
            # A test that leaked an open transaction must fail loudly, not hang the run.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def fresh_sqlite(template: Path, directory: Path) -> str:
    target = directory / "evenhand.sqlite"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
