"""Routing's part in the worker: held leads are offered again every minute and escalate once their wait is
over, and a lead its rep did not acknowledge in time is routed again when the policy says so."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.errors import Conflict
from evenhand.i18n import t
from evenhand.models import Lead, LeadStatus
from evenhand.notify import hooks, jobs
from evenhand.routing import holds, policy_versions, reassignment


@jobs.every(60, name="routing.escalate_held")
def escalate_held(session: Session, now: datetime) -> None:
    holds.escalate_held(session, now=now)


@jobs.every(60, name="routing.release_held")
def release_held(session: Session, now: datetime) -> None:
    """A rep coming online releases held leads at once; this catches the rest within a minute: working
    hours beginning, leave ending, a cap resetting at midnight."""
    holds.release_held(session, now=now)


@hooks.on_unacknowledged_lead
def reassign_unacknowledged(session: Session, event: hooks.UnacknowledgedLead, now: datetime) -> str | None:
    """The rep did not acknowledge a new lead in time: if the policy says ``reassign`` and the lead is still
    theirs and untouched, route it again without them. A note for the escalation's record, or None."""
    policy = policy_versions.compiled_body(policy_versions.active(session).body)
    lead = session.get(Lead, event.lead_id)
    if (policy.policy.unacknowledged != "reassign" or lead is None or lead.owner_id != event.rep_id
            or lead.status is not LeadStatus.ASSIGNED):
        return None
    try:
        row = reassignment.reassign(session, lead, actor=None, kind="unacknowledged", now=now,
                                    note=t("Not acknowledged within {minutes} minutes.",
                                           minutes=round(event.waited_minutes)))
    except Conflict:
        return "nobody else available: kept"
    return f"reassigned by decision {row.id} to rep {row.rep_id}"
