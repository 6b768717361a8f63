"""The capture connectors' part in the worker: receipts of events taken are pruned once no replay can need them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.capture import service
from evenhand.config import get_settings
from evenhand.notify import jobs


@jobs.every(3600, name="capture.prune_receipts")
def prune_receipts(session: Session, now: datetime) -> None:
    """Hourly: receipts older than four replay windows (at least a day) go (``service.keep_receipts``)."""
    service.prune(session, now=now, window_seconds=get_settings().capture_replay_window_seconds)
