"""The bulk path (the driver's ``executemany`` of plain tuples) stores an activity exactly as the ORM does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, text

from evenhand.activities import repository
from evenhand.activities.linking import Links
from evenhand.activities.schemas import ActivityCreate
from evenhand.activities.service import _compared, _values
from evenhand.db import session_scope
from evenhand.models import Activity
from tests.builders import make_lead, make_user


def test_a_bulk_insert_stores_the_same_bytes_as_the_orm(engine: Engine) -> None:
    row = ActivityCreate(source_system="wecom", external_id="bulk", type="note", direction="internal",
                         occurred_at=datetime(2024, 3, 12, 14, 5, 9, 120, tzinfo=timezone(timedelta(hours=8))),
                         duration_seconds=3600, answered=None, replied=True, subject="季度复盘", recording_ref="r/1",
                         attachment_count=2, message_count=7, body="拜访客户。\n第二行", declared_type="visit")
    with session_scope(engine) as session:
        links = Links(make_user(session).id, make_lead(session).id, None)
        repository.insert_activities(session, [(row.source_system, "bulk", *_compared(row, links))])
        session.add(Activity(source_system=row.source_system, external_id="orm", **_values(row, links)))
    columns = "type, direction, source_system, rep_id, lead_id, opportunity_id, occurred_at, duration_seconds, " \
              "answered, replied, attachment_count, subject, recording_ref, message_count, body, declared_type"
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT external_id, {columns} FROM activities ORDER BY external_id")).all()
    (bulk, *bulk_values), (orm, *orm_values) = rows
    assert (bulk, orm) == ("bulk", "orm")
    assert bulk_values == orm_values
    assert [type(v) for v in bulk_values] == [type(v) for v in orm_values]
