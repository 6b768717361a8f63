"""Notifications dispatched per second by one worker to a local HTTP endpoint (SQLite outbox, Apprise JSON
webhook), against raw HTTP POSTs to the same endpoint from the same number of threads in the same run.

Each message is claimed from the outbox, sent through Apprise (a new connection per request, as Apprise
makes), and its attempt and outcome written back. The endpoint runs in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evenhand.config import Settings  # noqa: E402
from evenhand.db import make_engine, session_scope  # noqa: E402
from evenhand.i18n import N_  # noqa: E402
from evenhand.migrate import upgrade  # noqa: E402
from evenhand.models import Channel, Notification, NotificationStatus, NotifyEndpoint, Role, User  # noqa: E402
from evenhand.notify import jobs, service  # noqa: E402
from evenhand.notify.channels import AppriseSender, Envelope  # noqa: E402
from evenhand.notify.outbound import Allowed  # noqa: E402
from evenhand.notify.worker import Worker  # noqa: E402

MESSAGES = 2000
THREADS = 8
RECIPIENTS = 50
LOCAL = ["127.0.0.1"]  # the sink's host, which notifications reach only when allowed


def _sink() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "notify" / "sink.py")], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, f"127.0.0.1:{int(proc.stdout.readline())}"


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def _payload(n: int) -> str:
    return json.dumps({"version": "1.0", "title": f"新线索：华东智能制造{n}有限公司", "attachments": [],
                       "message": "评分 88。请在 15 分钟内打开。", "type": "info",
                       "idempotency_key": f"m{n}.s0.webhook.abc", "kind": "x"})


def raw_posts(host: str) -> float:
    """The baseline: the same JSON POSTed by plain requests, a new connection each time."""
    def post(n: int) -> None:
        r = requests.post(f"http://{host}/hook", data=_payload(n), timeout=10,
                          headers={"Content-Type": "application/json", "Idempotency-Key": f"k{n}"})
        assert r.status_code == 200

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(post, range(MESSAGES)))
    return _rate(MESSAGES, time.perf_counter() - started)


def apprise_sends(host: str) -> float:
    """Apprise alone, no database: what the channel layer costs."""
    sender = AppriseSender(timeout=10, allowed=Allowed.parse(LOCAL))

    def send(n: int) -> None:
        assert sender.send(Envelope(f"json://{host}/hook", "新线索", "评分 88", f"a{n}", "x")).ok

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(send, range(MESSAGES)))
    return _rate(MESSAGES, time.perf_counter() - started)


def worker_messages(host: str, tmp: str) -> float:
    url = f"sqlite:///{Path(tmp) / 'outbox.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        people = [User(username=f"rep{i}", display_name=f"销售{i}", role=Role.REP) for i in range(RECIPIENTS)]
        session.add_all([*people, NotifyEndpoint(name="hook", channel=Channel.WEBHOOK, url=f"json://{host}/hook",
                                                 is_default=True)])
        session.flush()
        for n in range(MESSAGES):
            service.send(session, recipient_id=people[n % RECIPIENTS].id, kind="notice", title=N_("Leads"),
                         key=f"bench:{n}")
    settings = Settings(data_dir=Path(tmp), database_url=url, notify_threads=THREADS, notify_poll_seconds=0.05,
                        notify_health_every_seconds=1e6, outbound_allowed_hosts=LOCAL)
    worker = Worker(engine, settings)
    jobs.unregister("notify.health")
    thread = threading.Thread(target=worker.run)
    started = time.perf_counter()
    thread.start()
    while _delivered(engine) < MESSAGES:
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    worker.stop()
    thread.join()
    engine.dispose()
    return _rate(MESSAGES, seconds)


def _delivered(engine: object) -> int:
    with session_scope(engine, readonly=True) as session:  # type: ignore[arg-type]
        return session.scalar(select(func.count()).where(Notification.status == NotificationStatus.DELIVERED,
                                                         Notification.channel == Channel.WEBHOOK)) or 0


def run() -> dict[str, float]:
    proc, host = _sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.setdefault("EVENHAND_DATA_DIR", tmp)
            figures = {"raw_posts_per_s": raw_posts(host), "apprise_sends_per_s": apprise_sends(host),
                       "worker_messages_per_s": worker_messages(host, tmp)}
    finally:
        proc.terminate()
        proc.wait(10)
    figures["worker_vs_raw_posts"] = round(figures["worker_messages_per_s"] / figures["raw_posts_per_s"], 3)
    figures["worker_vs_apprise"] = round(figures["worker_messages_per_s"] / figures["apprise_sends_per_s"], 3)
    return figures


if __name__ == "__main__":
    print(json.dumps(run()))
