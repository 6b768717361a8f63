"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from evenhand.db import make_engine
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


def downgrade_to_base(engine: Engine) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")


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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_test_template_is_at_head(engine: Engine) -> None:
    """Guards the fixtures: the copied template carries the whole schema."""
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
