"""Peer review's monthly cycle in the worker, and the message each reviewer gets when a cycle opens (by hand or by
the job): one per reviewer, none for anyone else, in the reader's language."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from evenhand.config import Settings, bound
from evenhand.db import session_scope
from evenhand.models import Notification, PeerReviewAssignment, PeerReviewCycle
from evenhand.notify import jobs
from evenhand.performance import peer_service, tasks
from evenhand.performance.peer_schemas import CycleOpen
from tests.builders import Org

REPS = {"rep_n1", "rep_n2", "rep_s1", "rep_e1", "rep_e2", "rep_solo"}
APRIL_FIRST = datetime(2026, 3, 31, 16, 5, tzinfo=UTC)  # 00:05 on 1 April in Shanghai: March's turn
MARCH_LAST = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)  # 23:00 on 31 March: February's turn


def run_job(engine: Engine, settings: Settings, now: datetime) -> None:
    with bound(settings), session_scope(engine) as session:
        tasks.monthly_peer_cycle(session, now)


def periods(engine: Engine) -> list[str]:
    with session_scope(engine, readonly=True) as session:
        return sorted(session.scalars(select(PeerReviewCycle.period)))


def told(engine: Engine) -> list[Notification]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(Notification).where(Notification.kind == "peer_review_due",
                                                               Notification.channel == "in_app")))


def test_the_job_is_registered_and_does_nothing_while_the_setting_is_off(engine: Engine, settings: Settings,
                                                                          org: Org) -> None:
    assert "performance.peer_cycle" in {job.name for job in jobs.registered()}
    assert settings.peer_review_auto is False
    run_job(engine, settings, APRIL_FIRST)
    assert periods(engine) == [] and told(engine) == []


def test_the_first_days_of_a_month_open_the_last_month_once(engine: Engine, settings: Settings, org: Org) -> None:
    on = settings.model_copy(update={"peer_review_auto": True})
    run_job(engine, on, MARCH_LAST)  # 31 March is not among a month's first days: nothing
    assert periods(engine) == []
    run_job(engine, on, APRIL_FIRST)
    run_job(engine, on, datetime(2026, 4, 3, 9, tzinfo=UTC))
    assert periods(engine) == ["2026-03"]
    run_job(engine, on, datetime(2026, 5, 7, 15, 59, tzinfo=UTC))  # 23:59 on 7 May: the last day it opens April
    run_job(engine, on, datetime(2026, 6, 7, 16, 0, tzinfo=UTC))  # 00:00 on 8 June: too late for May
    assert periods(engine) == ["2026-03", "2026-04"]
    with session_scope(engine, readonly=True) as session:
        cycle = session.scalars(select(PeerReviewCycle).where(PeerReviewCycle.period == "2026-03")).one()
        assert (cycle.per_reviewer, cycle.threshold) == (3, 3)


def test_two_workers_at_once_open_one_cycle_and_tell_each_reviewer_once(engine: Engine, settings: Settings,
                                                                       org: Org) -> None:
    on = settings.model_copy(update={"peer_review_auto": True})
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            run_job(engine, on, APRIL_FIRST)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert periods(engine) == ["2026-03"]
    assert sorted(n.recipient_id for n in told(engine)) == sorted(org.id(rep) for rep in REPS)


def test_each_reviewer_and_nobody_else_is_told_how_many_reviews_to_write(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        org.users["rep_n1"].locale = "zh-CN"
        org.users["rep_n2"].locale = "en"
        session.merge(org.users["rep_n1"])
        session.merge(org.users["rep_n2"])
        peer_service.open_cycle(session, CycleOpen(period="2026-03", seed=7), actor=None)
    messages = told(engine)
    assert sorted(n.recipient_id for n in messages) == sorted(org.id(rep) for rep in REPS)
    with session_scope(engine, readonly=True) as session:
        load = dict(session.execute(select(PeerReviewAssignment.reviewer_id, func.count())
                                    .group_by(PeerReviewAssignment.reviewer_id)).tuples().all())
        outbox = session.scalar(select(func.count()).where(Notification.kind == "peer_review_due",
                                                           Notification.recipient_id.not_in(load)))
    assert outbox == 0  # no inbox or channel row for anyone who reviews nobody
    assert all(load[n.recipient_id] == 3 and n.link == "/performance/peer" for n in messages)
    by_user = {n.recipient_id: n for n in messages}
    english, chinese = by_user[org.id("rep_n2")], by_user[org.id("rep_n1")]
    assert english.title == "Peer reviews to write for 2026-03"
    assert english.body.startswith("You have 3 peer reviews to write for 2026-03")
    assert chinese.title == "2026-03 的同行评议待填写" and chinese.body.startswith("你有 3 份 2026-03 的同行评议")
    names = [u.display_name for u in org.users.values()] + [u.username for u in org.users.values()]
    assert not any(name in n.body or name in n.title for n in messages for name in names)


def test_the_demo_cycle_tells_nobody(engine: Engine, org: Org) -> None:
    from evenhand.performance.peer_demo import demo_cycle

    with session_scope(engine) as session:
        assert demo_cycle(session, "2026-03", seed=3) is not None
    assert told(engine) == []


def test_a_seed_beyond_the_column_is_refused_naming_it(client: TestClient, org: Org) -> None:
    """The seed column holds 32 bits: a larger seed is a 422, not a database error; a fresh one always fits."""
    body = {"period": "2026-03", "seed": 2**31}
    answer = client.post("/api/v1/peer/cycles", json=body, headers=org.headers("ops"))
    assert answer.status_code == 422 and "seed" in answer.json()["error"]["field"]
    assert client.post("/api/v1/peer/cycles", json={"period": "2026-03"}, headers=org.headers("ops")).status_code == 201
