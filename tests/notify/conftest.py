"""A small sales team with channels configured, a worker with a clock the test moves, and a local sink.

The sink listens on 127.0.0.1, which notifications may reach only because these settings allow it
(``outbound_allowed_hosts``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Lead, NotifyEndpoint, Role, Team, User
from evenhand.notify import hooks
from evenhand.notify.channels import MemorySender
from evenhand.notify.outbound import Allowed
from evenhand.notify.worker import Worker
from tests.builders import make_department, make_lead, make_team, make_user
from tests.notify.sink import Faults, Sink


@dataclass
class People:
    team: Team
    boss: User
    rep: User
    rep2: User
    ops: User
    nophone: User
    endpoints: dict[str, NotifyEndpoint] = field(default_factory=dict)

    def lead(self, session: Session, owner: User | None = None) -> Lead:
        return make_lead(session, owner=owner or self.rep)


def build_people(session: Session, *, hook_url: str = "json://127.0.0.1:9/hook",
                 sms_url: str = "json://127.0.0.1:9/sms?:to={phone}") -> People:
    """A team (supervisor 王强, reps 陈小雨 and 张伟), sales ops, and a rep without a phone number. Everyone
    gets the default webhook; the SMS gateway is the fallback."""
    boss = make_user(session, username="wangqiang", display_name="王强", role=Role.SUPERVISOR,
                     phone="13900000001")
    team = make_team(session, department=make_department(session), name="华东一组", supervisor=boss)
    boss.team_id = team.id
    rep = make_user(session, username="xiaochen", display_name="陈小雨", team=team, phone="13900000002",
                    email="xiaochen@example.com")
    rep2 = make_user(session, username="zhangwei", display_name="张伟", team=team, phone="13900000003")
    ops = make_user(session, username="lina", display_name="李娜", role=Role.OPS, phone="13900000004")
    nophone = make_user(session, username="nophone", display_name="无号码", team=team)
    people = People(team, boss, rep, rep2, ops, nophone)
    people.endpoints["hook"] = NotifyEndpoint(name="webhook", channel=Channel.WEBHOOK, url=hook_url, is_default=True)
    people.endpoints["sms"] = NotifyEndpoint(name="sms", channel=Channel.SMS, url=sms_url)
    session.add_all(people.endpoints.values())
    session.flush()
    return people


@pytest.fixture
def people(engine: Engine) -> People:
    with session_scope(engine) as session:
        return build_people(session)


class Clock:
    """Real time plus whatever the test has moved it on by (messages are stamped with real time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen = False

    def __call__(self) -> datetime:
        return self.stopped if self.frozen else utcnow() + self.offset

    def freeze(self) -> None:
        """Time stands still from here (until ``now`` is set), however long a round takes on a busy machine."""
        self.stopped, self.frozen = self(), True

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, value: datetime) -> None:
        self.offset, self.stopped = value - utcnow(), value

    def advance(self, **delta: float) -> datetime:
        self.offset += timedelta(**delta)
        return self()


LOCAL = ["127.0.0.1"]  # where the sink listens
ALLOW_LOCAL = Allowed.parse(LOCAL)


def worker_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    base: dict[str, object] = {"data_dir": tmp_path, "database_url": db_url, "mode": "test", "notify_threads": 4,
                               "notify_backoff_base_seconds": 1.0, "notify_backoff_max_seconds": 8.0,
                               "notify_max_attempts": 3, "notify_lease_seconds": 60.0,
                               "notify_health_every_seconds": 10_000.0, "outbound_allowed_hosts": LOCAL}
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The API's settings: the sink's host allowed."""
    return Settings(data_dir=tmp_path, database_url=db_url, mode="test", outbound_allowed_hosts=LOCAL)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory() -> MemorySender:
    return MemorySender()


@pytest.fixture
def worker(engine: Engine, tmp_path: Path, db_url: str, clock: Clock, memory: MemorySender) -> Iterator[Worker]:
    import random

    w = Worker(engine, worker_settings(tmp_path, db_url), sender=memory, name="w1", clock=clock,
               rng=random.Random(1))
    yield w
    w.pool.shutdown(wait=True)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink(Faults()) as s:
        yield s


@pytest.fixture(autouse=True)
def no_domain_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the hooks it registers: another test may have imported a domain's ``tasks``
    (routing registers one), which would otherwise answer here too."""
    monkeypatch.setattr(hooks, "_lead_hooks", [])
