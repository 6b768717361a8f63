"""Routing's periodic work, run by the worker: held leads escalate once their wait is over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.notify import jobs
from evenhand.routing import holds


@jobs.every(60, name="routing.escalate_held")
def escalate_held(session: Session, now: datetime) -> None:
    holds.escalate_held(session, now=now)
