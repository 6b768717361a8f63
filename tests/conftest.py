"""Shared fixtures: one migrated database per backend and session, isolated per test.

Every test that asks for ``db_url`` (directly or through ``engine``, ``app``, ``client``, ``org``)
runs twice: on SQLite and on PostgreSQL (marked ``pg``). SQLite tests each get a fresh copy of a
file migrated once per session; PostgreSQL tests share one database per session and xdist worker,
emptied after each test.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from evenhand.app import create_app
from evenhand.cli import app as cli_app
from evenhand.config import Settings, forget_settings
from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade
from tests.builders import Org, build_org
from tests.databases import PgDatabase, PgServer, fold_log, fresh_sqlite, worker_tag
from tests.support import Run, clear_caches

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

PG_URL_ENV = "EVENHAND_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg:///postgres"


def pytest_configure(config: pytest.Config) -> None:
    # Starlette's TestClient still runs on httpx and says so on every import; nothing to act on here.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")
    # One audit key for the tests and the servers they start (which inherit the environment), as on machines that
    # share a database: a chain one process writes, another verifies. Tests of the generated key remove it.
    os.environ.setdefault("EVENHAND_AUDIT_KEY", "tests-only-audit-key-0123456789abcdef")
    # Files the code keeps (keys, audit checkpoints) go to a directory of this process, never the checkout's var/.
    os.environ["EVENHAND_DATA_DIR"] = tempfile.mkdtemp(prefix="evenhand-tests-")
    forget_settings()  # in case an import read the settings already


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The server under ``EVENHAND_TEST_PG_URL``; unreachable fails the run in CI and skips elsewhere."""
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    probe = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = f"PostgreSQL at {make_url(url).render_as_string()} is unreachable: {exc.orig}"
        if os.environ.get("CI"):
            raise RuntimeError(f"{reason} (CI is set, so the PostgreSQL tests must run)") from exc
        print(f"\nskipping PostgreSQL tests: {reason}", file=sys.stderr)
        pytest.skip(reason)
    finally:
        probe.dispose()
    return PgServer(url)


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """One database per session and worker, migrated once and dropped at the end."""
    name = f"evenhand_test_{worker_tag()}"
    url = pg_server.create_database(name)
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield PgDatabase(url, engine)
    finally:
        engine.dispose()
        pg_server.drop_database(name)


# --- SQLite --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; tests copy it, which is far faster than migrating."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    fold_log(path)
    return path


# --- per test ------------------------------------------------------------------------------------


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("pg", id="pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        yield fresh_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    database: PgDatabase = request.getfixturevalue("pg_database")
    try:
        yield database.url
    finally:
        database.empty()


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """Invoke the CLI as a fresh process would: settings and engine from the environment (English)."""
    monkeypatch.setenv("EVENHAND_DATABASE_URL", db_url)
    monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENHAND_LOCALE", "en")
    clear_caches()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli_app, list(args), input=input)

    yield invoke
    clear_caches()


@pytest.fixture
def backend(db_url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    return make_url(db_url).get_backend_name()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url, mode="test")


@pytest.fixture(scope="session")
def shared_app() -> FastAPI:
    """One API app per worker: assembling the routers costs ~40 ms, more than most tests.

    With ``ui=False`` the app keeps its settings and engine only in ``app.state``, which ``app``
    rebinds for every test. A test that changes the app itself (adds a route, overrides a
    dependency) must build its own with ``create_app``.
    """
    return create_app(Settings(database_url="sqlite://", mode="test"), make_engine("sqlite://"), ui=False)


@pytest.fixture
def app(shared_app: FastAPI, settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    """``create_app(settings, engine, ui=False)`` for this test's database."""
    shared_app.state.settings, shared_app.state.engine = settings, engine
    yield shared_app
    shared_app.state.settings = shared_app.state.engine = None  # a stale use fails loudly


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient  # imported late: see pytest_configure

    with TestClient(app) as c:
        yield c


@pytest.fixture
def org(engine: Engine) -> Org:
    """A small company: 2 departments, 3 teams (A supervises two, B one), staff, records and tokens."""
    with session_scope(engine) as session:
        return build_org(session)
