"""Real worker processes: killed with SIGKILL mid-batch and restarted, nothing is lost and only in-flight
messages are sent again (same key, same content); two workers on PostgreSQL never send one message at
the same time; SIGTERM lets the batch in hand finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.models import DeliveryAttempt, Notification, NotificationStatus
from evenhand.notify import service
from tests.notify.conftest import build_people
from tests.notify.sink import Faults, Sink

pytestmark = pytest.mark.slow


def start_worker(db_url: str, tmp_path: Path, *extra: str, **env: str) -> subprocess.Popen[bytes]:
    settings = {"EVENHAND_DATA_DIR": str(tmp_path), "EVENHAND_NOTIFY_BATCH_SIZE": "20", "EVENHAND_NOTIFY_THREADS": "4",
                "EVENHAND_NOTIFY_POLL_SECONDS": "0.2", "EVENHAND_NOTIFY_HEALTH_EVERY_SECONDS": "100000",
                "EVENHAND_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1", **env}  # where the sink listens
    return subprocess.Popen([sys.executable, "-m", "evenhand.cli", "worker", "--db", db_url, *extra],
                            env={**os.environ, **settings}, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def enqueue(engine: Engine, sink: Sink, count: int) -> None:
    """``count`` notices to two reps over the webhook (a kind without escalation)."""
    with session_scope(engine) as session:
        people = build_people(session, hook_url=sink.url("/hook"))
        for n in range(count):
            service.send(session, recipient_id=(people.rep if n % 2 else people.rep2).id, kind="notice",
                         title=N_("Leads"), key=f"notice:{n}")


def statuses(engine: Engine) -> dict[NotificationStatus, int]:
    with session_scope(engine, readonly=True) as session:
        return dict(session.execute(select(Notification.status, func.count()).where(
            Notification.message_id.is_not(None)).group_by(Notification.status)).all())


def claimed(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.count()).where(Notification.claimed_by.is_not(None))) or 0


@pytest.fixture
def slow_sink() -> Iterator[Sink]:
    with Sink(Faults(delay_seconds=0.05)) as sink:
        yield sink


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigkill_mid_batch_then_restart_loses_nothing(engine: Engine, db_url: str, tmp_path: Path,
                                                      slow_sink: Sink) -> None:
    enqueue(engine, slow_sink, 200)
    first = start_worker(db_url, tmp_path, EVENHAND_NOTIFY_LEASE_SECONDS="2")
    try:
        wait_for(lambda: len(slow_sink.received) >= 40 and claimed(engine) > 0, "a batch in flight")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    in_flight = claimed(engine)
    assert 0 < in_flight <= 20 and statuses(engine).get(NotificationStatus.PENDING, 0) > 0
    second = start_worker(db_url, tmp_path, EVENHAND_NOTIFY_LEASE_SECONDS="2")
    try:
        wait_for(lambda: statuses(engine) == {NotificationStatus.DELIVERED: 200}, "every message delivered")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    accepted = {r.key for r in slow_sink.accepted()}
    assert len(accepted) == 200  # nothing lost
    repeated = slow_sink.repeated_keys()
    assert len(repeated) <= in_flight  # at most what was in the dead worker's hands was sent again
    assert slow_sink.keys_with_different_content() == []  # ... and it was the same message
    with session_scope(engine, readonly=True) as session:
        lost = session.scalar(select(func.count()).where(DeliveryAttempt.outcome == "lost")) or 0
        recorded = session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0
        counted = session.scalar(select(func.sum(Notification.attempts))) or 0
    assert lost == in_flight and recorded == counted  # every attempt is on record, the killed ones as lost


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_two_workers_on_postgresql_never_send_one_message_concurrently(engine: Engine, db_url: str,
                                                                       tmp_path: Path) -> None:
    with Sink(Faults(delay_seconds=0.02)) as sink:
        workers = [start_worker(db_url, tmp_path, EVENHAND_NOTIFY_LEASE_SECONDS="300") for _ in range(2)]
        try:
            time.sleep(0.5)  # both polling before the messages arrive, so both compete for them
            enqueue(engine, sink, 300)
            wait_for(lambda: statuses(engine) == {NotificationStatus.DELIVERED: 300}, "every message delivered")
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            codes = [w.wait(30) for w in workers]
        assert codes == [0, 0]
        assert sink.overlaps == []  # no key was ever in flight twice
        assert len(sink.received) == 300 and sink.repeated_keys() == []
    with session_scope(engine, readonly=True) as session:
        per_worker = dict(session.execute(select(DeliveryAttempt.worker, func.count())
                                          .group_by(DeliveryAttempt.worker)).all())
    assert len(per_worker) == 2 and sum(per_worker.values()) == 300  # both took part, each row once


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_once_drains_what_is_due_and_exits(engine: Engine, db_url: str, tmp_path: Path, sink: Sink) -> None:
    enqueue(engine, sink, 30)
    done = start_worker(db_url, tmp_path, "--once")
    output = done.communicate(timeout=60)[0].decode()
    assert done.returncode == 0, output
    assert statuses(engine) == {NotificationStatus.DELIVERED: 30}
    assert "30" in output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_on_the_embedded_database_runs_the_worker_in_process(engine: Engine, db_url: str, tmp_path: Path,
                                                                   sink: Sink) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    enqueue(engine, sink, 5)
    env = {**os.environ, "EVENHAND_DATABASE_URL": db_url, "EVENHAND_DATA_DIR": str(tmp_path),
           "EVENHAND_NOTIFY_HEALTH_EVERY_SECONDS": "100000", "EVENHAND_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, "-m", "evenhand.cli", "serve", "--port", str(port)], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: statuses(engine) == {NotificationStatus.DELIVERED: 5}, "the server's worker to deliver")
        wait_for(lambda: _up(f"http://127.0.0.1:{port}/healthz"), "the server")  # then it stops cleanly
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
    output = server.communicate()[0].decode()
    assert code in (0, -signal.SIGTERM), output  # uvicorn re-raises the signal once it has shut down
    assert "In-process worker stopped." in output  # ... after the worker, in the server's shutdown
    assert len(sink.accepted()) == 5


def _up(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
