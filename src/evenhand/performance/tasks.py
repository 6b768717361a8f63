"""Performance in the worker: while ``peer_review_auto`` is on, an hourly check opens last month's peer review
cycle in a month's first days (``peer_service.open_due``), once, and tells its reviewers. The first check after a
month begins opens it; every later one finds it and does nothing, as does a worker racing it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.notify import jobs
from evenhand.performance import peer_service

CHECK_SECONDS = 3600


@jobs.every(CHECK_SECONDS, name="performance.peer_cycle")
def monthly_peer_cycle(session: Session, now: datetime) -> None:
    if get_settings().peer_review_auto:
        peer_service.open_due(session, now)
