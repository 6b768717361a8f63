"""Monitoring the notifier: the demo's push incident shows as a drop in the delivery series per platform and
app version, and the periodic check alerts ops about it once per window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Notification, NotificationStatus, Role, User
from evenhand.notify import health
from tests.demo.conftest import Built, build_into, disposing
from tests.notify.conftest import People
from tests.notify.test_service import bearer

BEFORE = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
DURING = (datetime(2026, 8, 25, tzinfo=UTC), datetime(2026, 9, 20, tzinfo=UTC))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("demo"), scale=0.1))


def rate(points: list[health.Point], group: str) -> float:
    rows = [p for p in points if p.group == group]
    return sum(p.delivered for p in rows) / sum(p.messages for p in rows)


def test_the_demo_incident_is_a_drop_for_android_on_app_3_2(demo: Built) -> None:
    with session_scope(demo.engine, readonly=True) as session:
        points = health.series(session, by="platform", since=BEFORE[0], until=DURING[1])
        by_channel = health.window(session, since=DURING[0], until=DURING[1])["channel"]
    before = [p for p in points if p.bucket < BEFORE[1]]
    during = [p for p in points if p.bucket >= DURING[0]]
    assert rate(before, "android 3.1.4") > 0.97
    assert rate(during, "android 3.2.1") < 0.6 and rate(during, "ios 3.2.1") > 0.95
    push = next(f for f in by_channel if f.group == Channel.APP_PUSH.value)
    assert push.delivery_rate is not None and push.delivery_rate < 0.9


def test_the_check_would_have_caught_it_and_tells_ops_once(demo: Built, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, notify_health_window_hours=24 * 7)
    with session_scope(demo.engine, readonly=True) as session:
        quiet = health.breaches(health.window(session, since=BEFORE[0], until=BEFORE[0] + timedelta(days=7)),
                                settings)
    assert quiet == []
    moment = DURING[0] + timedelta(days=7)
    with session_scope(demo.engine) as session:
        found = health.check(session, moment, settings)
    assert {(b.dimension, b.group, b.metric) for b in found} >= {("platform", "android 3.2.0", "delivery_rate"),
                                                                 ("channel", "app_push", "delivery_rate")}
    with session_scope(demo.engine) as session:
        assert len(health.check(session, moment + timedelta(minutes=5), settings)) == len(found)
        ops = list(session.scalars(select(User.id).where(User.role == Role.OPS, User.active.is_(True))))
        alerts = session.scalar(select(func.count()).where(Notification.kind == health.HEALTH_KIND,
                                                           Notification.channel == Channel.IN_APP))
    assert alerts == len(found) * len(ops)  # one per breach and person, not one per run


def test_acknowledgement_is_judged_only_for_kinds_that_expect_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, notify_health_min_volume=5)
    groups = [health.Figures("lead_assigned", 10, 10, 0, 4, 1.0, 0.4, 60.0, 90.0),
              health.Figures("fairness_report", 10, 10, 0, 0, 1.0, 0.0, None, None),
              health.Figures("alert", 4, 1, 3, 0, 0.25, 0.0, None, None)]  # too few to judge
    found = health.breaches({"channel": [], "kind": groups, "platform": []}, settings)
    assert [(b.group, b.metric) for b in found] == [("lead_assigned", "ack_rate")]


def test_figures_count_outcomes_and_time_to_acknowledge(engine: Engine, people: People) -> None:
    now = utcnow().replace(microsecond=0)
    with session_scope(engine) as session:
        for n, (status, acked) in enumerate([("delivered", 60), ("delivered", 180), ("delivered", None),
                                             ("failed", None), ("pending", None), ("cancelled", None)]):
            session.add(Notification(kind="lead_assigned", recipient_id=people.rep.id, channel=Channel.SMS,
                                     status=NotificationStatus(status), idempotency_key=f"k{n}", created_at=now,
                                     sent_at=now, delivered_at=now if status == "delivered" else None,
                                     acknowledged_at=now + timedelta(seconds=acked) if acked else None))
    with session_scope(engine, readonly=True) as session:
        found = health.window(session, since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    (sms,) = found["channel"]
    assert (sms.messages, sms.delivered, sms.failed, sms.acknowledged) == (4, 3, 1, 2)
    assert (sms.delivery_rate, sms.ack_rate, sms.ack_p50_seconds) == (0.75, 0.6667, 120.0)
    assert found["platform"] == []  # only app pushes know the phone's platform


def test_health_api_is_for_staff(client: TestClient, engine: Engine, people: People) -> None:
    ops = bearer(engine, people.ops)
    body = client.get("/api/v1/notifications/health?hours=24", headers=ops).json()
    assert set(body) >= {"by_channel", "by_kind", "by_platform", "breaches"}
    assert client.get("/api/v1/notifications/health/series?by=kind", headers=ops).status_code == 200
    assert client.get("/api/v1/notifications/health/series?by=nonsense", headers=ops).status_code == 422
    ancient = client.get("/api/v1/notifications/health/series?until=0001-01-01T00:00:00Z", headers=ops)
    assert ancient.status_code == 422 and ancient.json()["error"]["field"] == "until"
    backwards = "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z"
    assert client.get(f"/api/v1/notifications/health/series?{backwards}", headers=ops).json()["error"][
        "field"] == "since"
    assert client.get("/api/v1/notifications/health", headers=bearer(engine, people.rep)).status_code == 403
