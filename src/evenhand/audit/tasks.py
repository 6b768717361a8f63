"""The audit chain's part in the worker: a signed checkpoint of its head every ``audit_checkpoint_every_seconds``
(an hour). A chain that does not check out is not checkpointed: the job fails, naming the problem, and sales
operations hear of it when ``audit_checkpoint_notify`` is on."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.audit import service
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.notify import jobs


class ChainBroken(Exception):
    """The job's failure, recorded with it (``worker_jobs.last_error``)."""


@jobs.every(get_settings().audit_checkpoint_every_seconds, name="audit.checkpoint")
def write_checkpoint(session: Session, now: datetime) -> None:
    """Checks only the entries since the last checkpoint, in a read-only transaction (on SQLite the writers' lock
    is not held meanwhile); a head that has not moved is not written again."""
    settings, engine = get_settings(), cast(Engine, session.get_bind())
    with session_scope(engine, readonly=True) as reading:
        written = service.checkpoint(reading, settings, now=now, only_if_moved=True)
    with session_scope(engine) as writing:  # committed even when the job then fails
        service.announce(writing, settings, written)
    # In English, like the rest of the job's record.
    problems = [f"entry {p.seq}: {p.reason.format(seq=p.seq, **p.params)}" for p in written.problems]
    problems += [f"{r.file}, line {r.line}: {r.reason.format(**r.params)}" for r in written.refused]
    if problems:
        raise ChainBroken("; ".join(problems))
