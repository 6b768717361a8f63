"""Monitoring in the worker: every 15 minutes the KPI series are refreshed from what changed since the last refresh
(``service.refresh``), and once a day rebuilt whole, which also takes in changes written with past times (a history
import, a rep moved to another team) that the incremental refresh cannot see. Every hour the series are scanned
(``scan.scan``): anomalies are stored and updated, and ops and admins are told of each new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.monitor import scan, service
from evenhand.notify import jobs

REFRESH_SECONDS = 15 * 60
REBUILD_SECONDS = 24 * 3600
SCAN_SECONDS = 3600


@jobs.every(REFRESH_SECONDS, name="monitor.refresh")
def refresh_series(session: Session, now: datetime) -> None:
    service.refresh(session, now=now)


@jobs.every(REBUILD_SECONDS, name="monitor.rebuild")
def rebuild_series(session: Session, now: datetime) -> None:
    service.refresh(session, now=now, full=True)


@jobs.every(SCAN_SECONDS, name="monitor.scan")
def scan_series(session: Session, now: datetime) -> None:
    scan.scan(session)
