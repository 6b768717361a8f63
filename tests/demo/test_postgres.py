"""The demo builds on PostgreSQL too, and leaves the id sequences ready for ordinary inserts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from evenhand.db import make_engine, session_scope
from evenhand.demo import DemoError, build
from evenhand.migrate import upgrade
from evenhand.models import Lead, Team, User
from tests.conftest import PgServer, worker_tag
from tests.demo.conftest import END

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def pg_engine(pg_server: PgServer) -> Iterator[Engine]:
    name = f"evenhand_demo_{worker_tag()}"
    engine = make_engine(pg_server.create_database(name))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        pg_server.drop_database(name)


def test_small_demo_on_postgres(pg_engine: Engine) -> None:
    summary = build(pg_engine, seed=7, end_date=END, scale=0.05)
    with session_scope(pg_engine) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == summary.counts["leads"]
        assert session.scalar(select(func.count()).where(Team.supervisor_id.is_(None))) == 0
        lead = Lead(source="website", external_id="after-the-demo", company="新客户有限公司")
        session.add(lead)
        session.flush()
        assert lead.id == summary.counts["leads"] + 1
        assert session.scalar(select(User.role).where(User.username == "admin")) == "admin"
    with pytest.raises(DemoError):
        build(pg_engine, seed=7, end_date=END, scale=0.05)
