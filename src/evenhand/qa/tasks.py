"""Call QA in the worker: every ``qa_draw_check_seconds`` (an hour) it checks whether last month (in the company's
zone) has a sample, and draws one with a fresh seed when it has none and had recorded outbound calls. The first
check after a month begins draws; every later one finds the sample and does nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.notify import jobs
from evenhand.qa import service


@jobs.every(get_settings().qa_draw_check_seconds, name="qa.monthly_draw")
def monthly_draw(session: Session, now: datetime) -> None:
    service.draw_due(session, now)
