"""The honesty checks in the worker: every ``honesty_scan_every_seconds`` (a day) the notes of the last
``honesty_scan_days`` days are scanned again, so a note is checked once the contacts captured around it have
arrived, and a flag whose contact was captured late is closed. A scan is idempotent; supervisors hear only of
new flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.honesty import service
from evenhand.notify import jobs


@jobs.every(get_settings().honesty_scan_every_seconds, name="honesty.scan")
def scan_recent_notes(session: Session, now: datetime) -> None:
    service.scan(session, now=now)
