"""Wakes an in-process worker as soon as a transaction that wrote to the outbox commits."""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

wake = threading.Event()
_FLAG = "evenhand_notify_wake"


def after_commit(session: Session) -> None:
    """Set ``wake`` when ``session``'s transaction commits (nothing happens if it rolls back)."""
    session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        wake.set()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)
