"""Escalating messages nobody acknowledged: the fallback channel first, then the supervisor (and, for a
lead, routing's say on reassigning it). Each step is taken at most once: the message row is locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) and its step counter only moves
forward. An acknowledged message stops escalating; so does a lead notification once the lead has
another owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import as_utc
from evenhand.models import Channel, Lead, Notification, User
from evenhand.notify import hooks, preferences, service
from evenhand.notify.outbox import OWNER_KINDS
from evenhand.notify.policy import EscalationPolicy


def _due(now: datetime) -> Select[Notification]:
    return select(Notification).where(Notification.escalate_at <= now, Notification.acknowledged_at.is_(None),
                                      Notification.channel == Channel.IN_APP)


def run_due(engine: Engine, *, now: datetime, policies: dict[str, EscalationPolicy], limit: int = 100) -> int:
    """Take every due step (each message in its own transaction); how many steps were taken."""
    with session_scope(engine, readonly=True) as session:
        ids = list(session.scalars(_due(now).with_only_columns(Notification.id).order_by(Notification.escalate_at)
                                   .limit(limit)))
    taken = 0
    for message_id in ids:
        with session_scope(engine) as session:
            taken += escalate(session, message_id, now=now, policies=policies)
    return taken


def escalate(session: Session, message_id: int, *, now: datetime, policies: dict[str, EscalationPolicy]) -> bool:
    """Take the message's next step if it is still due and still this worker's to take."""
    stmt = _due(now).where(Notification.id == message_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    message = session.scalar(stmt)
    if message is None:
        return False
    policy = policies.get(message.kind)
    steps = policy.steps() if policy else []
    if policy is None or message.escalation_step >= len(steps) or _moot(session, message):
        message.escalate_at = None
        return False
    taken = message.escalation_step
    action = steps[taken][0]
    message.escalation_step, message.escalate_at = taken + 1, policy.due_after(taken + 1, now)
    session.flush()
    detail = _fallback(session, message, policy, now) if action == "fallback" else _supervise(
        session, message, policy, now)
    audit.append(session, action="notify.escalated", subject_type="notifications", subject_id=message.id,
                 payload={"step": taken + 1, "action": action, "kind": message.kind, "recipient_id":
                          message.recipient_id, "lead_id": message.lead_id, **detail}, at=now)
    return True


def _moot(session: Session, message: Notification) -> bool:
    if message.kind not in OWNER_KINDS or message.lead_id is None:
        return False
    return session.scalar(select(Lead.owner_id).where(Lead.id == message.lead_id)) != message.recipient_id


def _fallback(session: Session, message: Notification, policy: EscalationPolicy, now: datetime) -> dict[str, Any]:
    user = session.get(User, message.recipient_id)
    assert user is not None and policy.fallback is not None
    rows = service.deliver(session, message, preferences.targets_for(session, user, channels=[policy.fallback]),
                           step=message.escalation_step, now=now)
    return {"channel": policy.fallback.value, "deliveries": [r.id for r in rows],
            "problems": [r.last_error for r in rows if r.last_error]}


def _supervise(session: Session, message: Notification, policy: EscalationPolicy, now: datetime) -> dict[str, Any]:
    rep = session.get(User, message.recipient_id)
    assert rep is not None
    waited = (now - as_utc(message.created_at)).total_seconds() / 60
    told = [service.send(session, recipient_id=sid, kind=service.ESCALATION, title=N_("Not acknowledged: {subject}"),
                         body=N_("{name} has not acknowledged this for {minutes} minutes."), link=message.link,
                         lead_id=message.lead_id, key=f"{service.ESCALATION}:{message.id}:{sid}",
                         subject=message.title, name=rep.display_name, minutes=round(waited)).recipient_id
            for sid in service.supervisors_of(session, rep.id)]
    notes: list[str] = []
    if policy.reassign and message.lead_id is not None:
        event = hooks.UnacknowledgedLead(message.lead_id, rep.id, message.id, waited)
        notes = hooks.unacknowledged_lead(session, event, now)
    return {"told": told, "hooks": notes}
