"""A channel that refuses 30% of requests and times out on 5%: every message is still delivered, or escalated
to its fallback within its policy time, and no key ever arrives with two different contents.

Real HTTP (Apprise to a local endpoint), real database; the worker's clock jumps from one due time to the
next so fifteen-minute policies play out in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from evenhand.db import session_scope
from evenhand.kit.clock import as_utc
from evenhand.models import AuditEntry, Channel, Notification, NotificationStatus
from evenhand.notify import jobs, service
from evenhand.notify.channels import AppriseSender
from evenhand.notify.worker import Worker
from tests.notify.conftest import ALLOW_LOCAL, Clock, build_people, worker_settings
from tests.notify.sink import Faults, Sink

MESSAGES = 60
ACK = timedelta(minutes=15)


@pytest.fixture
def faulty() -> Iterator[Sink]:
    with Sink(Faults(failure_rate=0.3, timeout_rate=0.05, timeout_seconds=0.6, seed=11)) as sink:
        yield sink


def next_due(engine: Engine) -> datetime | None:
    with session_scope(engine, readonly=True) as session:
        retry = session.scalar(select(func.min(Notification.next_attempt_at)).where(
            Notification.status == NotificationStatus.PENDING))
        step = session.scalar(select(func.min(Notification.escalate_at)).where(
            Notification.acknowledged_at.is_(None)))
    due = [as_utc(t) for t in (retry, step) if t is not None]
    return min(due) if due else None


def test_every_message_is_delivered_or_escalated_in_time_without_conflicting_duplicates(
        engine: Engine, tmp_path: Path, db_url: str, faulty: Sink) -> None:
    with session_scope(engine) as session:
        people = build_people(session, hook_url=faulty.url("/hook"), sms_url=faulty.url("/sms") + "?:to={phone}")
        for n in range(MESSAGES):
            owner = people.rep if n % 2 else people.rep2
            service.lead_assigned(session, people.lead(session, owner), owner.id, decision_id=n)
    settings = worker_settings(tmp_path, db_url, notify_max_attempts=4, notify_backoff_base_seconds=20,
                               notify_backoff_max_seconds=120, notify_batch_size=25, notify_threads=8)
    clock = Clock()
    worker = Worker(engine, settings, sender=AppriseSender(timeout=0.3, allowed=ALLOW_LOCAL), name="drill", clock=clock,
                    rng=random.Random(5))
    acked: set[int] = set()
    try:
        for _ in range(500):
            tick = worker.tick()
            acked |= acknowledge_half(engine)
            if tick.busy:
                continue
            due = next_due(engine)
            if due is None:
                break
            clock.now = max(due, clock.now)
    finally:
        worker.pool.shutdown()
        jobs.unregister("notify.health")
    check(engine, acked, faulty)


def acknowledge_half(engine: Engine) -> set[int]:
    """The reps of even-numbered leads open them as soon as the webhook reaches them; the others never do."""
    with session_scope(engine) as session:
        reached = session.execute(select(Notification.lead_id, Notification.recipient_id).where(
            Notification.channel == Channel.WEBHOOK, Notification.status == NotificationStatus.DELIVERED,
            Notification.acknowledged_at.is_(None))).all()
        return {lead for lead, rep in reached if lead and lead % 2 == 0
                and service.acknowledge_lead(session, lead, rep)}


def check(engine: Engine, acked: set[int], sink: Sink) -> None:
    with session_scope(engine, readonly=True) as session:
        messages = list(session.scalars(select(Notification).where(Notification.kind == "lead_assigned",
                                                                   Notification.channel == Channel.IN_APP)))
        copies = list(session.scalars(select(Notification).where(Notification.message_id.is_not(None))))
        steps = {(e.subject_id, e.payload["step"]): as_utc(e.at) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "notify.escalated"))}
    assert len(messages) == MESSAGES and acked
    by_message: dict[int, list[Notification]] = {}
    for c in copies:
        by_message.setdefault(c.message_id or 0, []).append(c)
    outcomes = {"delivered": 0, "escalated": 0}
    for m in messages:
        first = [c for c in by_message[m.id] if c.escalation_step == 0 and c.channel is Channel.WEBHOOK]
        delivered = [c for c in first if c.delivered_at and as_utc(c.delivered_at) <= as_utc(m.created_at) + ACK]
        fallback_at = steps.get((str(m.id), 1))
        assert delivered or (fallback_at and fallback_at <= as_utc(m.created_at) + ACK), m.id
        outcomes["delivered" if delivered else "escalated"] += 1
        if m.acknowledged_at is None:  # the timer counts, not the receipt: unacknowledged means escalated
            assert fallback_at is not None and (str(m.id), 2) in steps, m.id
            assert [c.channel for c in by_message[m.id] if c.escalation_step == 1] == [Channel.SMS]
        else:
            assert m.lead_id in acked
    assert outcomes["delivered"] > MESSAGES / 2
    assert all(c.status is not NotificationStatus.PENDING for c in copies)  # each copy reached an outcome
    assert sink.keys_with_different_content() == []
    keys = {c.idempotency_key for c in copies}
    assert {r.key for r in sink.received} <= keys  # nothing arrived that the outbox did not send
    assert {r.outcome for r in sink.received} == {"ok", "fail", "timeout"}  # the faults really happened
