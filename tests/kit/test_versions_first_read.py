"""The shipped first version of a document installed by readers that began together on a new database."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from evenhand.db import new_session
from evenhand.models import StandardVersion
from evenhand.standards import service as standards


def test_two_readers_that_began_together_both_get_the_first_version(engine: Engine) -> None:
    first, second = new_session(engine, readonly=True), new_session(engine, readonly=True)
    try:
        for reader in (first, second):  # each holds a read snapshot from before any version exists
            assert reader.scalar(select(func.count()).select_from(StandardVersion)) == 0
        got = [standards.STANDARDS.active(reader) for reader in (first, second)]
        assert [row.version for row in got] == [1, 1]
        assert got[0].body == got[1].body == standards.STANDARDS.default_text()
    finally:
        first.close()
        second.close()
    with new_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StandardVersion)) == 1


def test_a_writer_installs_the_first_version_in_its_own_transaction(engine: Engine) -> None:
    with new_session(engine) as session:
        row = standards.STANDARDS.active(session)
        session.rollback()  # the writer's own unit of work: rolled back, nothing stays
    assert row.version == 1
    with new_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StandardVersion)) == 0
