"""The worker with the database: claims, retries, failure, escalation steps, digests, leases and jobs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.models import (
    AuditEntry,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    NotifyEndpoint,
    NotifyPreference,
    ScheduledJob,
)
from evenhand.notify import hooks, jobs, outbox, service
from evenhand.notify.channels import MemorySender
from evenhand.notify.worker import Worker
from tests.notify.conftest import Clock, People, worker_settings
from tests.notify.test_service import bearer, rows


@pytest.fixture(autouse=True)
def _no_health_job() -> Iterator[None]:
    yield
    jobs.unregister("notify.health")


def assigned(engine: Engine, people: People, decision: int = 1) -> tuple[int, int]:
    with session_scope(engine) as session:
        lead = people.lead(session)
        return lead.id, service.lead_assigned(session, lead, people.rep.id, decision_id=decision).id


def attempts(engine: Engine, delivery_id: int) -> list[DeliveryAttempt]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.notification_id == delivery_id)
                                    .order_by(DeliveryAttempt.number)))


def test_a_due_delivery_is_sent_once_with_its_key_and_recorded(engine: Engine, people: People, worker: Worker,
                                                               memory: MemorySender) -> None:
    _, message_id = assigned(engine, people)
    tick = worker.tick()
    assert (tick.claimed, tick.delivered, tick.failed) == (1, 1, 0)
    (hook,) = rows(engine, message_id=message_id)
    assert hook.status is NotificationStatus.DELIVERED and hook.claimed_by is None and hook.attempts == 1
    (sent,) = memory.sent
    assert sent.idempotency_key == hook.idempotency_key and sent.title == hook.title
    assert [(a.number, a.outcome, a.worker) for a in attempts(engine, hook.id)] == [(1, "ok", "w1")]
    assert worker.tick().claimed == 0  # nothing sent twice


def test_failures_retry_with_backoff_then_fail_for_good_and_escalate_at_once(engine: Engine, people: People,
                                                                             worker: Worker, memory: MemorySender,
                                                                             clock: Clock) -> None:
    memory.fail.add(people.endpoints["hook"].url)
    _, message_id = assigned(engine, people)
    (hook,) = rows(engine, message_id=message_id)
    clock.freeze()
    waits = []
    for _ in range(2):
        assert worker.tick().claimed == 1
        assert worker.tick().claimed == 0  # not before its backoff
        row, last = rows(engine, id=hook.id)[0], attempts(engine, hook.id)[-1]
        assert row.next_attempt_at is not None and last.finished_at is not None
        waits.append((row.next_attempt_at - last.finished_at).total_seconds())
        clock.now = row.next_attempt_at
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2  # base 1 s, doubling, jittered
    tick = worker.tick()  # the third and last attempt (notify_max_attempts is 3 here)
    assert (tick.claimed, tick.failed, tick.escalated) == (1, 1, 1)  # escalated now, not 15 minutes after sending
    row = rows(engine, id=hook.id)[0]
    assert row.status is NotificationStatus.FAILED and row.last_error == "refused" and row.attempts == 3
    assert [a.outcome for a in attempts(engine, hook.id)] == ["error"] * 3
    assert rows(engine, id=message_id)[0].escalation_step == 1
    fallback = [d for d in rows(engine, message_id=message_id) if d.escalation_step == 1]
    assert [(d.channel, d.target) for d in fallback] == [(Channel.SMS, "json://127.0.0.1:9/sms?:to=13900000002")]


def test_unacknowledged_lead_goes_to_sms_then_the_supervisor_once_each(engine: Engine, people: People,
                                                                       worker: Worker, memory: MemorySender,
                                                                       clock: Clock) -> None:
    calls: list[hooks.UnacknowledgedLead] = []

    def reassign(session: Session, event: hooks.UnacknowledgedLead, now: datetime) -> str:
        calls.append(event)
        return "kept: nobody else online"

    hooks.on_unacknowledged_lead(reassign)
    try:
        lead_id, message_id = assigned(engine, people)
        worker.tick()
        clock.advance(minutes=14)
        assert worker.tick().escalated == 0
        clock.advance(minutes=1, seconds=1)
        assert worker.tick().escalated == 1
        assert worker.tick().escalated == 0  # a step is taken once
        steps = [(d.channel, d.escalation_step) for d in rows(engine, message_id=message_id)]
        assert steps == [(Channel.WEBHOOK, 0), (Channel.SMS, 1)]
        assert [e.target.endswith("13900000002") for e in memory.sent] == [False, True]
        clock.advance(minutes=15)
        assert worker.tick().escalated == 1
        assert len(calls) == 1 and (calls[0].lead_id, calls[0].rep_id) == (lead_id, people.rep.id)
        (told,) = rows(engine, kind="escalation", channel=Channel.IN_APP)
        assert told.recipient_id == people.boss.id and told.lead_id == lead_id and "陈小雨" in told.body
        clock.advance(hours=5)
        assert worker.tick().escalated == 0  # no step left
        assert rows(engine, id=message_id)[0].escalate_at is None
    finally:
        hooks.remove(reassign)
    with session_scope(engine, readonly=True) as session:
        audited = [e.payload for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "notify.escalated").order_by(AuditEntry.seq))]
    assert [(p["step"], p["action"]) for p in audited] == [(1, "fallback"), (2, "supervisor")]
    assert audited[1]["told"] == [people.boss.id] and audited[1]["hooks"] == ["kept: nobody else online"]


def test_a_failing_hook_does_not_stop_the_escalation(engine: Engine, people: People, worker: Worker,
                                                     clock: Clock) -> None:
    def broken(session: Session, event: hooks.UnacknowledgedLead, now: datetime) -> str:
        raise ValueError("routing is down")

    hooks.on_unacknowledged_lead(broken)
    try:
        _, message_id = assigned(engine, people)
        clock.advance(minutes=16)
        worker.tick()
        clock.advance(minutes=16)
        assert worker.tick().escalated == 1
    finally:
        hooks.remove(broken)
    assert rows(engine, id=message_id)[0].escalation_step == 2
    assert len(rows(engine, kind="escalation", channel=Channel.IN_APP)) == 1


def test_acknowledgement_and_reassignment_stop_escalation(engine: Engine, people: People, worker: Worker,
                                                          clock: Clock) -> None:
    lead_a, _ = assigned(engine, people, decision=1)
    lead_b, moved = assigned(engine, people, decision=2)
    with session_scope(engine) as session:
        service.acknowledge_lead(session, lead_a, people.rep.id)
        session.get(Notification, moved)  # the lead goes to someone else before the rep looks
        from evenhand.models import Lead

        lead = session.get(Lead, lead_b)
        assert lead is not None
        lead.owner_id = people.rep2.id
    clock.advance(minutes=40)
    tick = worker.tick()
    assert tick.escalated == 0 and tick.cancelled == 1  # moved's webhook copy; acked's was cancelled on ack
    assert rows(engine, id=moved)[0].escalate_at is None and rows(engine, kind="escalation") == []


def test_a_rate_limited_robot_gets_one_digest_per_recipient_and_nothing_is_dropped(
        engine: Engine, people: People, worker: Worker, memory: MemorySender, clock: Clock) -> None:
    robot = "dingtalk://SECx@robottoken/"
    with session_scope(engine) as session:
        session.add(NotifyEndpoint(name="主管群", channel=Channel.DINGTALK, url=robot, rate_per_minute=2))
        session.add(NotifyPreference(user_id=people.boss.id, channels=["dingtalk"], personal={},
                                     updated_at=clock.now))
        session.add(NotifyPreference(user_id=people.ops.id, channels=["dingtalk"], personal={},
                                     updated_at=clock.now))
        for n in range(5):
            service.send(session, recipient_id=people.boss.id, kind="alert", title=N_("Leads"), key=f"a{n}")
        service.send(session, recipient_id=people.ops.id, kind="alert", title=N_("Leads"), key="ops0")
    worker.tick()
    assert sorted(len(e.members) for e in memory.sent) == [0, 5]  # a digest of five, and one on its own
    digest = next(e for e in memory.sent if e.members)
    assert digest.idempotency_key.startswith("dg-") and digest.body.count("•") == 5
    with session_scope(engine) as session:
        for n in range(3):
            service.send(session, recipient_id=people.ops.id, kind="alert", title=N_("Leads"), key=f"late{n}")
            service.send(session, recipient_id=people.boss.id, kind="alert", title=N_("Leads"), key=f"b{n}")
    tick = worker.tick()
    assert tick.claimed == 0 and tick.deferred == 6  # two sends this minute already: wait, do not drop
    clock.advance(seconds=61)
    worker.tick()
    assert len(memory.sent) == 4 and sorted(len(e.members) for e in memory.sent[2:]) == [3, 3]
    pending = [d for d in rows(engine, channel=Channel.DINGTALK) if d.status is not NotificationStatus.DELIVERED]
    assert pending == []


def test_a_claim_is_leased_and_a_dead_workers_rows_are_resent_with_the_same_key(
        engine: Engine, people: People, tmp_path: Path, db_url: str, clock: Clock) -> None:
    _, message_id = assigned(engine, people)
    settings = worker_settings(tmp_path, db_url, notify_lease_seconds=30)
    batch = outbox.claim(engine, worker="dead", now=clock.now, settings=settings)  # ... and then it dies
    assert len(batch.sends) == 1
    other = MemorySender()
    second = Worker(engine, settings, sender=other, name="w2", clock=clock, rng=random.Random(2))
    try:
        assert second.tick().claimed == 0
        clock.advance(seconds=31)
        assert second.tick().delivered == 1
    finally:
        second.pool.shutdown()
    (hook,) = rows(engine, message_id=message_id)
    assert other.sent[0].idempotency_key == batch.sends[0].envelope.idempotency_key == hook.idempotency_key
    assert other.sent[0] == batch.sends[0].envelope  # the same message, not a different one
    assert [(a.worker, a.outcome) for a in attempts(engine, hook.id)] == [("dead", "lost"), ("w2", "ok")]


def test_the_late_answer_of_a_worker_that_lost_its_lease_changes_nothing(engine: Engine, people: People,
                                                                         tmp_path: Path, db_url: str,
                                                                         clock: Clock) -> None:
    from evenhand.notify.channels import Outcome

    _, message_id = assigned(engine, people)
    settings = worker_settings(tmp_path, db_url, notify_lease_seconds=30)
    slow = outbox.claim(engine, worker="slow", now=clock.now, settings=settings)
    clock.advance(seconds=31)
    fast = outbox.claim(engine, worker="fast", now=clock.now, settings=settings)
    outbox.record(engine, worker="fast", results=[(fast.sends[0], Outcome(True), clock.now, clock.now)],
                  settings=settings)
    outbox.record(engine, worker="slow", results=[(slow.sends[0], Outcome(False, "late"), clock.now, clock.now)],
                  settings=settings)
    (hook,) = rows(engine, message_id=message_id)
    assert hook.status is NotificationStatus.DELIVERED and hook.last_error is None


def test_periodic_jobs_run_once_per_period_however_many_workers(engine: Engine, tmp_path: Path, db_url: str,
                                                                clock: Clock) -> None:
    runs: list[datetime] = []
    jobs.register("test.count", 60, lambda session, now: runs.append(now))
    settings = worker_settings(tmp_path, db_url)
    workers = [Worker(engine, settings, sender=MemorySender(), name=f"w{i}", clock=clock) for i in range(2)]
    try:
        for w in workers:
            w.tick()
        clock.advance(seconds=30)
        for w in workers:
            w.tick()
        clock.advance(seconds=31)
        for w in workers:
            w.tick()
    finally:
        jobs.unregister("test.count")
        for w in workers:
            w.pool.shutdown()
    assert len(runs) == 2
    with session_scope(engine, readonly=True) as session:
        job = session.get(ScheduledJob, "test.count")
        assert job is not None and job.runs == 2 and job.claimed_by is None and job.last_error is None


def test_a_failing_job_is_recorded_and_the_worker_carries_on(engine: Engine, worker: Worker) -> None:
    def broken(session: Session, now: datetime) -> None:
        raise RuntimeError("boom")

    jobs.register("test.broken", 60, broken)
    try:
        assert "test.broken" in worker.tick().jobs
    finally:
        jobs.unregister("test.broken")
    with session_scope(engine, readonly=True) as session:
        job = session.get(ScheduledJob, "test.broken")
        assert job is not None and job.last_error is not None and "boom" in job.last_error


def test_tasks_modules_of_every_domain_are_loaded() -> None:
    loaded = jobs.load_tasks()
    assert all(name.startswith("evenhand.") and name.endswith(".tasks") for name in loaded)


def test_dead_letters_are_listed_and_retried_with_the_same_key(engine: Engine, people: People, worker: Worker,
                                                               memory: MemorySender, clock: Clock, app: FastAPI,
                                                               client: TestClient) -> None:
    app.state.settings = worker.settings  # the API and the worker share one configuration
    memory.fail.add(people.endpoints["hook"].url)
    with session_scope(engine) as session:
        message_id = service.send(session, recipient_id=people.boss.id, kind="report", title=N_("Leads")).id
    for _ in range(3):
        worker.tick()
        clock.advance(seconds=10)
    ops = bearer(engine, people.ops)
    (dead,) = client.get("/api/v1/notifications/dead-letters", headers=ops).json()
    assert dead["message_id"] == message_id and dead["recipient"] == "王强"
    assert [(d["channel"], d["status"], d["attempts"]) for d in dead["deliveries"]] == [("webhook", "failed", 3)]
    assert client.get("/api/v1/notifications/dead-letters", headers=bearer(engine, people.rep)).status_code == 403
    memory.fail.clear()
    assert client.post(f"/api/v1/notifications/dead-letters/{message_id}/retry", headers=ops).json() == {
        "message_id": message_id, "retried": 1}
    again = client.post(f"/api/v1/notifications/dead-letters/{message_id}/retry", headers=ops)
    assert again.status_code == 409
    worker.tick()
    assert client.get("/api/v1/notifications/dead-letters", headers=ops).json() == []
    keys = {e.idempotency_key for e in memory.sent}
    assert len(keys) == 1  # four attempts, one message
    assert [a.number for a in attempts(engine, rows(engine, message_id=message_id)[0].id)] == [1, 2, 3, 4]
