"""The honesty checks against the demo's ground truth: a small demo company (a tenth of the volume) whose
fabricated follow-ups the simulation knows. The unbacked flags must find nearly all of them and little else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.demo.service import fabricated_note_ids
from evenhand.honesty import service
from evenhand.models import Activity, ActivityType, FlagKind, HonestyFlag
from tests.demo.conftest import Built, build_into, disposing

pytestmark = pytest.mark.slow
FLOOR = 0.9


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("honesty-demo"), scale=0.1))


def test_the_demo_knows_its_fabricated_notes_and_they_declare_a_call(demo: Built) -> None:
    truth = set(demo.summary.fabricated_note_ids)
    with Session(demo.engine) as session:
        assert set(fabricated_note_ids(session)) == truth  # rebuilt from the seed the build recorded
        rows = session.execute(select(Activity.type, Activity.declared_type, Activity.body)
                               .where(Activity.id.in_(truth))).all()
        notes = session.scalar(select(Activity.id).where(Activity.type == ActivityType.NOTE,
                                                         Activity.declared_type.is_(None)).limit(1))
    assert len(rows) == len(truth) >= 50
    assert all(t is ActivityType.NOTE and d is ActivityType.CALL and body for t, d, body in rows)
    assert notes is None  # every demo note declares what it writes up


def test_unbacked_flags_match_the_fabricated_notes(demo: Built) -> None:
    truth = set(demo.summary.fabricated_note_ids)
    with session_scope(demo.engine) as session:
        result = service.scan(session, since=datetime(2024, 1, 1, tzinfo=UTC), until=datetime(2027, 1, 1, tzinfo=UTC))
        flagged = set(session.scalars(select(HonestyFlag.activity_id).where(HonestyFlag.kind == FlagKind.UNBACKED)))
    hits = len(flagged & truth)
    precision, recall = hits / len(flagged), hits / len(truth)
    assert precision >= FLOOR and recall >= FLOOR, (precision, recall)
    assert result.new["duplicate"] == 0  # the demo's notes are stock phrases, too short to be boilerplate
