"""Reading lead history for training, and storing and finding model versions."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.models import BehaviourEvent, EventKind, Lead, LeadStatus, PredictiveModelVersion

# Events sent with the intake call itself (the form submit that created the lead) land seconds after it.
INTAKE_GRACE = timedelta(minutes=10)
_COUNTERS = {EventKind.PAGE_VIEW: "page_views", EventKind.WHITEPAPER_DOWNLOAD: "downloads",
             EventKind.WEBINAR: "webinars", EventKind.FORM_SUBMIT: "forms", EventKind.EMAIL_OPEN: "email_opens",
             EventKind.EMAIL_CLICK: "email_clicks"}
# Only what is known when the lead arrives. Owner, status, score, assignment, first response and
# close all happen later; reading them would teach the model the outcome (leakage). Status is read
# separately, for the label only.
INTAKE_COLUMNS = (Lead.id, Lead.created_at, Lead.source, Lead.industry, Lead.region, Lead.title, Lead.company_size,
                  Lead.email, Lead.phone)


def history(session: Session, *, now: datetime, horizon_days: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Leads with a known outcome as intake-time rows, and their outcomes.

    Converted → 1. Disqualified, or open for more than ``horizon_days`` without converting → 0. Younger
    open leads are left out: their outcome is not known yet.
    """
    known = known_outcome(now=now, horizon_days=horizon_days)
    rows = intake_rows(session, known)
    outcome = dict(session.execute(select(Lead.id, Lead.status).where(known)).tuples().all())
    return rows, [1 if outcome[r["id"]] is LeadStatus.CONVERTED else 0 for r in rows]


def known_outcome(*, now: datetime, horizon_days: int) -> ColumnElement[bool]:
    """Leads whose outcome is known: converted or disqualified, or open for more than ``horizon_days``."""
    cutoff = as_utc(now) - timedelta(days=horizon_days)
    return or_(Lead.status.in_([LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED]), Lead.created_at < cutoff)


def outcomes(session: Session, *, now: datetime, horizon_days: int, since: datetime) -> dict[int, int]:
    """Lead id → outcome (1 converted, 0 not, as in ``history``) of the leads created since ``since``."""
    known = known_outcome(now=now, horizon_days=horizon_days) & (Lead.created_at >= as_utc(since))
    rows = session.execute(select(Lead.id, Lead.status).where(known)).tuples()
    return {lead_id: int(status is LeadStatus.CONVERTED) for lead_id, status in rows}


def intake_rows(session: Session, condition: Any) -> list[dict[str, Any]]:
    """The matching leads as they were when they arrived, in id order.

    Behaviour counts are rebuilt from the events up to the lead's creation (plus ``INTAKE_GRACE``), not
    read from the lead's running totals, which include everything that happened while sales worked it.
    """
    leads = session.execute(select(*INTAKE_COLUMNS).where(condition).order_by(Lead.id)).mappings().all()
    trail = _intake_behaviour(session, condition)
    none = dict.fromkeys([*_COUNTERS.values(), "dwell_seconds"], 0)
    return [{**lead, **trail.get(lead["id"], none)} for lead in leads]


def _intake_behaviour(session: Session, known: Any) -> dict[int, dict[str, int]]:
    stmt = (select(BehaviourEvent.lead_id, BehaviourEvent.kind, BehaviourEvent.occurred_at,
                   BehaviourEvent.dwell_seconds, Lead.created_at)
            .join(Lead, Lead.id == BehaviourEvent.lead_id).where(known))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys([*_COUNTERS.values(), "dwell_seconds"], 0))
    for lead_id, kind, at, dwell, created in session.execute(stmt).tuples():
        if as_utc(at) <= as_utc(created) + INTAKE_GRACE:
            counts[lead_id][_COUNTERS[kind]] += 1
            counts[lead_id]["dwell_seconds"] += dwell or 0
    return counts


def next_version(session: Session) -> int:
    return (session.scalar(select(func.max(PredictiveModelVersion.version))) or 0) + 1


def add_active(session: Session, version: PredictiveModelVersion) -> PredictiveModelVersion:
    """The new version becomes the only active one."""
    session.execute(update(PredictiveModelVersion).where(PredictiveModelVersion.active).values(active=False))
    version.active = True
    session.add(version)
    session.flush()
    return version


def active_key(session: Session) -> tuple[int, str] | None:
    """The active version's id with its creation time: ids are reused when a database is emptied and
    refilled, so the id alone cannot key a cache of loaded models."""
    row = session.execute(select(PredictiveModelVersion.id, PredictiveModelVersion.created_at)
                          .where(PredictiveModelVersion.active)
                          .order_by(PredictiveModelVersion.version.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1].isoformat())
