"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, func, insert, inspect, select, text

from evenhand.db import make_engine, session_scope
from evenhand.kit import audit, audit_check
from evenhand.migrate import alembic_config, upgrade
from evenhand.models import Base
from tests.databases import PgServer, worker_tag

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("pg", id="pg", marks=pytest.mark.pg)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        yield engine
        engine.dispose()
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"evenhand_migrate_{worker_tag()}"
    engine = make_engine(server.create_database(name))
    try:
        yield engine
    finally:
        engine.dispose()
        server.drop_database(name)


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return list(compare_metadata(context, Base.metadata))


def downgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def downgrade_to_base(engine: Engine) -> None:
    downgrade_to(engine, "base")


def test_upgrade_builds_every_table_repeatably_and_downgrades(empty_engine: Engine) -> None:
    """One fresh database per backend (creating PostgreSQL databases is slow), walked through its life."""
    assert inspect(empty_engine).get_table_names() == []
    upgrade(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) == TABLES | {"alembic_version"}
    upgrade(empty_engine)  # already at head: a no-op
    assert set(inspect(empty_engine).get_table_names()) == TABLES | {"alembic_version"}
    downgrade_to_base(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) == TABLES | {"alembic_version"}


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Autogenerate finds nothing to add: the migrated test database (see conftest) matches the models."""
    assert differences(engine) == []


def test_partial_indexes_hold_the_rows_the_models_say(engine: Engine) -> None:
    """Autogenerate does not compare an index's WHERE: each index the models make partial is partial in the
    migrated database, on the same condition, and no other index is."""
    dialect = engine.dialect.name
    wanted = {index.name: str(index.dialect_options[dialect]["where"]) for table in Base.metadata.sorted_tables
              for index in table.indexes if index.dialect_options[dialect]["where"] is not None}
    query = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL" if dialect == "sqlite"
             else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
    with engine.connect() as conn:
        found = {name: sql.partition(" WHERE ")[2] for name, sql in conn.execute(text(query)) if " WHERE " in sql}
    assert len(wanted) == 9  # 0016's eight, and the live alerts' key
    assert {name: condition.strip("()") for name, condition in found.items()} == wanted


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_test_template_is_at_head(engine: Engine) -> None:
    """Guards the fixtures: the copied template carries the whole schema."""
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}


def _row(table: Table, **given: object) -> dict[str, object]:
    """A row with every required column filled with a value of its type."""
    samples = {bool: True, int: 1, float: 1.0, Decimal: Decimal(1), str: "x", dict: {}, list: [], object: {},
               datetime: datetime(2026, 1, 1), date: date(2026, 1, 1)}
    row = dict(given)
    for column in table.columns:
        if column.name not in row and not column.nullable and not column.primary_key:
            row[column.name] = samples[column.type.python_type]
    return row


@pytest.mark.parametrize("start", ["0004", "0005"])
def test_an_upgrade_keeps_the_rows_that_reference_a_table_it_rebuilds(tmp_path: Path, start: str) -> None:
    """SQLite rebuilds a table to alter it (copy, drop, rename): with foreign keys on, dropping ``users`` would
    delete every leave and token (``CASCADE``) or fail on a rep's leads (``RESTRICT``). Upgrades keep them all."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, start)
    tables = MetaData()
    tables.reflect(engine)
    with engine.begin() as conn:
        conn.execute(insert(tables.tables["users"]).values(_row(tables.tables["users"], id=1)))
        for name in ("leaves", "api_tokens"):
            conn.execute(insert(tables.tables[name]).values(_row(tables.tables[name], user_id=1)))
    upgrade(engine)
    with engine.connect() as conn:
        kept = {name: conn.execute(select(func.count()).select_from(tables.tables[name])).scalar_one()
                for name in ("users", "leaves", "api_tokens")}
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # back on for the app
    engine.dispose()
    assert kept == {"users": 1, "leaves": 1, "api_tokens": 1}


def test_the_audit_chain_survives_its_link_losing_its_index_and_back(empty_engine: Engine) -> None:
    """0015 drops the unique index on each entry's link (SQLite rebuilds the table): the entries, and the chain
    they make, are kept both ways."""
    upgrade(empty_engine, "0014")
    with session_scope(empty_engine) as session:
        for n in range(5):
            audit.append(session, action="test.entry", subject_type="test", subject_id=n, payload={"n": n})
    for step in (lambda: upgrade(empty_engine), lambda: downgrade_to(empty_engine, "0014")):
        step()
        with session_scope(empty_engine, readonly=True) as session:
            assert audit_check.verify(session) == (5, None)
    upgrade(empty_engine)
    with session_scope(empty_engine) as session:  # the chain goes on from where it was
        audit.append(session, action="test.entry", subject_type="test", subject_id=5, payload={"n": 5})
    with session_scope(empty_engine, readonly=True) as session:
        assert audit_check.verify(session) == (6, None)
