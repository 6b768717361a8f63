"""Periodic jobs of the worker: a registry other domains add to, and a durable schedule.

A domain registers its jobs in its ``tasks.py``; the worker imports every ``evenhand.<domain>.tasks``
module when it starts::

    from evenhand.notify import jobs

    @jobs.every(60, name="routing.escalate_held")
    def escalate_held(session, now):
        ...  # one transaction; the worker commits it

Each job has a row in ``worker_jobs`` with its next run time. A worker claims a due job in a short
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) and moves its next run
forward before running it, so with several workers each run happens once.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import evenhand
from evenhand.db import session_scope
from evenhand.kit.once import get_or_create
from evenhand.models import ScheduledJob

log = logging.getLogger(__name__)
JobFn = Callable[[Session, datetime], Any]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    fn: JobFn


_jobs: dict[str, Job] = {}


def register(name: str, every_seconds: float, fn: JobFn) -> Job:
    """Add (or replace) a job; it first runs when a worker sees it, then every ``every_seconds``."""
    if every_seconds <= 0:
        raise ValueError(f"job {name}: every_seconds must be positive")
    job = Job(name, every_seconds, fn)
    _jobs[name] = job
    return job


def every(seconds: float, *, name: str | None = None) -> Callable[[JobFn], JobFn]:
    def decorate(fn: JobFn) -> JobFn:
        register(name or f"{fn.__module__}.{fn.__name__}", seconds, fn)
        return fn

    return decorate


def unregister(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def load_tasks() -> list[str]:
    """Import every domain's ``tasks`` module (where jobs and hooks are registered); their names."""
    loaded = []
    for module in pkgutil.iter_modules(evenhand.__path__):
        name = f"evenhand.{module.name}.tasks"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def run_due(engine: Engine, *, worker: str, now: datetime, lease_seconds: float) -> list[str]:
    """Run every registered job that is due and not held by another worker; the names of those run."""
    ran = []
    for job in registered():
        if _claim(engine, job, worker, now, lease_seconds):
            _run(engine, job, worker, now)
            ran.append(job.name)
    return ran


def _claim(engine: Engine, job: Job, worker: str, now: datetime, lease_seconds: float) -> bool:
    with session_scope(engine) as session:
        find = select(ScheduledJob).where(ScheduledJob.name == job.name)
        get_or_create(session, find, lambda: ScheduledJob(name=job.name, next_run_at=now, runs=0))
        if session.get_bind().dialect.name == "postgresql":
            find = find.with_for_update(skip_locked=True)
        row = session.scalar(find.where(ScheduledJob.next_run_at <= now, (ScheduledJob.claimed_until.is_(None))
                                        | (ScheduledJob.claimed_until < now)))
        if row is None:
            return False
        row.claimed_by, row.claimed_until = worker, now + timedelta(seconds=lease_seconds)
        row.last_started_at, row.next_run_at = now, now + timedelta(seconds=job.every_seconds)
        return True


def _run(engine: Engine, job: Job, worker: str, now: datetime) -> None:
    error = None
    try:
        with session_scope(engine) as session:
            job.fn(session, now)
    except Exception:  # a failing job is recorded and retried next period; the worker carries on
        log.exception("job %s failed", job.name)
        error = traceback.format_exc()[-4000:]
    with session_scope(engine) as session:
        session.execute(update(ScheduledJob).where(ScheduledJob.name == job.name, ScheduledJob.claimed_by == worker)
                        .values(claimed_by=None, claimed_until=None, last_finished_at=now, last_error=error,
                                runs=ScheduledJob.runs + 1))
