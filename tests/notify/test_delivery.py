"""The delivery rate the home page shows: counted by the database, equal to what the per-kind view adds up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import Channel, Notification, NotificationStatus
from evenhand.notify import health
from tests.builders import make_user

T = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
# (channel, status, delivered, hours after T): in-app copies, copies on their way and cancelled ones do not count
COPIES = ((Channel.APP_PUSH, NotificationStatus.DELIVERED, True, 1), (Channel.APP_PUSH, NotificationStatus.FAILED,
          False, 2), (Channel.SMS, NotificationStatus.DELIVERED, True, 3), (Channel.SMS, NotificationStatus.PENDING,
          False, 4), (Channel.EMAIL, NotificationStatus.CANCELLED, False, 5), (Channel.IN_APP,
          NotificationStatus.DELIVERED, True, 6), (Channel.DINGTALK, NotificationStatus.FAILED, False, 30))


def test_delivery_counts_final_copies_off_the_inbox_as_the_kind_view_does(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = make_user(session)
        for n, (channel, status, delivered, hours) in enumerate(COPIES):
            at = T + timedelta(hours=hours)
            session.add(Notification(kind="lead_assigned", recipient_id=user.id, channel=channel, status=status,
                                     idempotency_key=f"k{n}", created_at=at, sent_at=at,
                                     delivered_at=at if delivered else None))
    with session_scope(engine, readonly=True) as session:
        day = health.delivery(session, since=T, until=T + timedelta(hours=24))
        both = health.delivery(session, since=T, until=T + timedelta(hours=48))
        kinds = health.window(session, since=T, until=T + timedelta(hours=48))["kind"]
    assert day == (2, 3)
    assert both == (2, 4)
    assert both == (sum(f.delivered for f in kinds), sum(f.messages for f in kinds))
