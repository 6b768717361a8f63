"""The notification fault drill: a real ``evenhand worker`` process against a local channel that refuses a
share of requests and holds some past the sender's timeout, while new leads arrive at a steady rate and
simulated reps open most of them as soon as they are told.

    python bench/notify_faults.py [--failure-rate 0.3] [--timeout-rate 0.05] [--messages 1000] [--json]

Time is compressed: the "new lead" policy's fifteen minutes become ``--ack-seconds`` (default 10), then the
SMS fallback, then the supervisor after as long again. Every message must end delivered on its first
channel, or escalated to its fallback within its policy time — and nothing may arrive twice with different
content. With ``--json`` one JSON object is printed: messages, delivered, escalated, lost, duplicates,
seconds and more.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402
from tests.notify.sink import Faults, Sink  # noqa: E402

from evenhand.config import forget_settings  # noqa: E402
from evenhand.db import make_engine, session_scope  # noqa: E402
from evenhand.kit.clock import as_utc  # noqa: E402
from evenhand.migrate import upgrade  # noqa: E402
from evenhand.models import (  # noqa: E402
    AuditEntry,
    Channel,
    Department,
    Lead,
    LeadStatus,
    Notification,
    NotificationStatus,
    NotifyEndpoint,
    Role,
    Team,
    User,
)
from evenhand.notify import service  # noqa: E402

REPS = 20
SLACK_SECONDS = 2.0  # how late an escalation may be and still count as on time (the worker polls)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failure-rate", type=float, default=0.3, help="share of requests refused (HTTP 500)")
    parser.add_argument("--timeout-rate", type=float, default=0.05, help="share held past the sender's timeout")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="new leads per second")
    parser.add_argument("--ack-seconds", type=float, default=10.0, help="the policy time to acknowledge")
    parser.add_argument("--ack-share", type=float, default=0.7, help="share of leads their rep opens when told")
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args()


def worker_env(data_dir: str, ack_seconds: float) -> dict[str, str]:
    minutes = ack_seconds / 60
    policy = {"lead_assigned": {"ack_within_minutes": minutes, "supervisor_after_minutes": minutes}}
    return {"EVENHAND_DATA_DIR": data_dir, "EVENHAND_NOTIFY_POLICIES": json.dumps(policy),
            "EVENHAND_NOTIFY_BACKOFF_BASE_SECONDS": "0.2", "EVENHAND_NOTIFY_BACKOFF_MAX_SECONDS": "2",
            "EVENHAND_NOTIFY_MAX_ATTEMPTS": "5", "EVENHAND_NOTIFY_SEND_TIMEOUT_SECONDS": "0.5",
            "EVENHAND_NOTIFY_LEASE_SECONDS": "30", "EVENHAND_NOTIFY_POLL_SECONDS": "0.1",
            "EVENHAND_NOTIFY_HEALTH_EVERY_SECONDS": "100000",
            "EVENHAND_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}  # where the sink listens


def seed(engine: Engine, sink: Sink) -> list[int]:
    """A team of reps with phones and their supervisor; the webhook every rep gets and the SMS gateway."""
    with session_scope(engine) as session:
        dept = Department(code="drill", name="演练部")
        session.add(dept)
        session.flush()
        boss = User(username="boss", display_name="主管", role=Role.SUPERVISOR, phone="13900000000")
        session.add(boss)
        session.flush()
        team = Team(name="演练组", department_id=dept.id, supervisor_id=boss.id)
        session.add(team)
        session.flush()
        reps = [User(username=f"rep{i}", display_name=f"销售{i}", role=Role.REP, team_id=team.id,
                     phone=f"139{i:08d}") for i in range(REPS)]
        session.add_all([*reps, NotifyEndpoint(name="hook", channel=Channel.WEBHOOK, url=sink.url("/hook"),
                                               is_default=True),
                         NotifyEndpoint(name="sms", channel=Channel.SMS, url=sink.url("/sms") + "?:to={phone}")])
        session.flush()
        return [r.id for r in reps]


def arrive(engine: Engine, reps: list[int], messages: int, rate: float, ids: list[int]) -> None:
    """New leads at a steady ``rate``, each assigned and announced to its rep in its own transaction."""
    started = time.perf_counter()
    for n in range(messages):
        time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        with session_scope(engine) as session:
            rep = reps[n % len(reps)]
            lead = Lead(source="drill", external_id=f"D{n}", company=f"演练客户{n}", owner_id=rep,
                        status=LeadStatus.ASSIGNED)
            session.add(lead)
            session.flush()
            ids.append(service.lead_assigned(session, lead, rep, decision_id=n).id)


class Reps(threading.Thread):
    """Reps who open their new lead as soon as the webhook reaches them — for a given share of leads."""

    def __init__(self, engine: Engine, share: float) -> None:
        super().__init__(daemon=True)
        self.engine, self.share, self.stop = engine, share, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            with session_scope(self.engine, readonly=True) as session:  # acknowledging writes on its own
                reached = session.execute(select(Notification.lead_id, Notification.recipient_id).where(
                    Notification.channel == Channel.WEBHOOK, Notification.status == NotificationStatus.DELIVERED,
                    Notification.acknowledged_at.is_(None))).all()
                for lead, rep in reached:
                    if lead and (lead * 7919 % 100) < self.share * 100:
                        service.acknowledge_lead(session, lead, rep)


def unresolved(engine: Engine, ids: list[int], total: int) -> int:
    """Messages still in play: not acknowledged and not at their last step, or with a copy still pending."""
    with session_scope(engine, readonly=True) as session:
        open_messages = session.scalar(select(func.count()).where(
            Notification.id.in_(ids), Notification.acknowledged_at.is_(None), Notification.escalate_at.is_not(None)))
        pending = session.scalar(select(func.count()).where(Notification.message_id.is_not(None),
                                                            Notification.status == NotificationStatus.PENDING))
    return total - len(ids) + int(open_messages or 0) + int(pending or 0)


def figures(engine: Engine, ids: list[int], sink: Sink, seconds: float, ack_seconds: float) -> dict[str, Any]:
    limit = timedelta(seconds=ack_seconds + SLACK_SECONDS)
    with session_scope(engine, readonly=True) as session:
        messages = {m.id: m for m in session.scalars(select(Notification).where(Notification.id.in_(ids)))}
        copies = list(session.scalars(select(Notification).where(Notification.message_id.in_(ids))))
        steps = {(int(e.subject_id or 0), e.payload["step"]): as_utc(e.at) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "notify.escalated"))}
    delivered = {c.message_id for c in copies if c.status is NotificationStatus.DELIVERED}
    first = {c.message_id for c in copies if c.status is NotificationStatus.DELIVERED and c.escalation_step == 0}
    escalated = {m for (m, step) in steps if step == 1}
    late = [m for m in escalated if steps[(m, 1)] > as_utc(messages[m].created_at) + limit]
    received = sink.received
    return {
        "messages": len(ids), "delivered": len(delivered), "delivered_first_channel": len(first),
        "escalated": len(escalated), "supervisor_told": len({m for (m, step) in steps if step == 2}),
        "acknowledged": sum(1 for m in messages.values() if m.acknowledged_at is not None),
        "lost": len(set(ids) - delivered - escalated), "late_escalations": len(late),
        "duplicates": len(sink.keys_with_different_content()), "resent_same_key": len(sink.repeated_keys()),
        "dead_letters": len({c.message_id for c in copies if c.status is NotificationStatus.FAILED}
                            - delivered),
        "requests": len(received), "refused": sum(r.outcome == "fail" for r in received),
        "timed_out": sum(r.outcome == "timeout" for r in received), "ack_seconds": ack_seconds,
        "seconds": round(seconds, 1),
    }


def drill(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    url = args.db or f"sqlite:///{Path(data_dir) / 'drill.sqlite'}"
    env = worker_env(data_dir, args.ack_seconds)
    os.environ.update(env)  # this process enqueues under the same policy the worker escalates by
    forget_settings()
    engine = make_engine(url)
    upgrade(engine)
    faults = Faults(failure_rate=args.failure_rate, timeout_rate=args.timeout_rate, timeout_seconds=1.0,
                    seed=args.seed)
    console = Console(stderr=True, quiet=args.json)
    with Sink(faults) as sink:
        reps, ids = seed(engine, sink), []
        worker = subprocess.Popen([sys.executable, "-m", "evenhand.cli", "worker", "--db", url],
                                  env={**os.environ, **env}, cwd=data_dir, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        opener = Reps(engine, args.ack_share)
        producer = threading.Thread(target=arrive, args=(engine, reps, args.messages, args.rate, ids), daemon=True)
        started = time.perf_counter()
        producer.start()
        opener.start()
        try:
            wait(engine, ids, args.messages, console)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
            opener.stop.set()
            opener.join()
            producer.join()
        seconds = time.perf_counter() - started
        result = figures(engine, ids, sink, seconds, args.ack_seconds)
    engine.dispose()
    return result


def wait(engine: Engine, ids: list[int], total: int, console: Console, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("messages resolved (acknowledged, or escalated to the end)", total=total)
        while (left := unresolved(engine, list(ids), total)) and time.monotonic() < deadline:
            bar.update(task, completed=max(total - left, 0))
            time.sleep(0.5)
        bar.update(task, completed=total - left)


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory() as data_dir:
        result = drill(args, data_dir)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
