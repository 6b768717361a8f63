"""Alerts in the background: the scan every ``alerts_scan_every_seconds`` through the worker, and the hook that
judges the deals, leads and reps an ingested batch of activities touched (``activities.service.on_captured``).
The app and the command line import this module too, so every door activities come in by runs the hook."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.activities import service as activities
from evenhand.activities.linking import Links
from evenhand.alerts import service
from evenhand.config import get_settings
from evenhand.notify import jobs


@jobs.every(get_settings().alerts_scan_every_seconds, name="alerts.scan")
def scan_open_entities(session: Session, now: datetime) -> None:
    service.scan(session, now=now)


@activities.on_captured
def judge_touched(session: Session, touched: Sequence[Links]) -> None:
    service.evaluate_entities(session, opportunity_ids={t.opportunity_id for t in touched if t.opportunity_id},
                              lead_ids={t.lead_id for t in touched if t.lead_id})
