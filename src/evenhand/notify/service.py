"""Sending a notification: rows written in the caller's transaction. Callers commit.

A message is an in-app inbox row (always delivered) plus one outbox row per channel the recipient
receives on; the worker carries the outbox rows after the caller commits, so a rolled-back change sends
nothing and a committed one cannot be lost. The text is rendered once, in the recipient's language
(their ``locale``, else the organisation's), from an English template marked with ``N_`` and its
parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import NotFound
from evenhand.i18n import N_, t
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import Channel, Lead, Notification, NotificationStatus, Role, Team, User
from evenhand.notify import preferences, wakeup
from evenhand.notify.policy import EscalationPolicy, policies
from evenhand.notify.preferences import Target

LEAD_ASSIGNED = "lead_assigned"
ESCALATION = "escalation"


def active_policies() -> dict[str, EscalationPolicy]:
    return policies(get_settings().notify_policies)


@dataclass(frozen=True)
class Message:
    """One message to send: ``title`` and ``body`` are ``N_`` templates formatted with ``params``; ``key``
    (default: a fresh one) makes a repeated send of the same message a no-op."""

    recipient_id: int
    kind: str
    title: str
    body: str = ""
    link: str | None = None
    lead_id: int | None = None
    key: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def send(session: Session, *, recipient_id: int, kind: str, title: str, body: str = "", link: str | None = None,
         lead_id: int | None = None, key: str | None = None, **params: Any) -> Notification:
    """Put a message in the recipient's inbox and in the outbox for each of their channels (see ``Message``).
    Kinds with an escalation policy start its timer now."""
    return send_all(session, [Message(recipient_id, kind, title, body, link, lead_id, key, params)])[0]


# Built once: building a statement costs more than running these (see CONVENTIONS.md, hot paths).
_BY_KEYS = select(Notification).where(Notification.idempotency_key.in_(bindparam("keys", expanding=True)))
_USERS = select(User).where(User.id.in_(bindparam("ids", expanding=True)))


def send_all(session: Session, messages: Sequence[Message]) -> list[Notification]:
    """``send`` for many messages at once: the recipients, their settings and the repeats are read once, and
    the inbox and outbox rows are written in one statement each."""
    if not messages:
        return []
    keys = [m.key or f"{m.kind}:{uuid.uuid4().hex}" for m in messages]
    existing = {n.idempotency_key: n for n in session.scalars(_BY_KEYS, {"keys": list(set(keys))})}
    users = {u.id: u for u in session.scalars(_USERS, {"ids": list({m.recipient_id for m in messages})})}
    now, active = utcnow(), active_policies()
    out: list[Notification] = []
    fresh: list[Notification] = []
    for message, key in zip(messages, keys, strict=True):
        if key not in existing:
            user = users.get(message.recipient_id)
            if user is None:
                raise NotFound("No user with id {id}.", field="recipient_id", id=message.recipient_id)
            existing[key] = _inbox_row(message, key, user, now, active.get(message.kind))
            fresh.append(existing[key])
        out.append(existing[key])
    session.add_all(fresh)
    session.flush()
    directory = preferences.Directory(session, [n.recipient_id for n in fresh])
    deliver_all(session, [(n, directory.targets(users[n.recipient_id])) for n in fresh], step=0, now=now,
                directory=directory)
    return out


def _inbox_row(message: Message, key: str, user: User, now: datetime, policy: EscalationPolicy | None) -> Notification:
    return Notification(kind=message.kind, recipient_id=message.recipient_id, lead_id=message.lead_id,
                        channel=Channel.IN_APP, status=NotificationStatus.DELIVERED, idempotency_key=key,
                        title=t(message.title, user.locale, **message.params)[:200],
                        body=t(message.body, user.locale, **message.params) if message.body else "",
                        link=message.link, sent_at=now, delivered_at=now, created_at=now,
                        escalate_at=policy.due_after(0, now) if policy else None)


def deliver(session: Session, message: Notification, targets: Sequence[Target], *, step: int,
            now: datetime) -> list[Notification]:
    """Outbox rows for ``message`` on ``targets``. A target that cannot be filled in (no phone number, no
    channel configured) is written as failed with the reason, never skipped; if nothing at this step can
    go out, the next escalation step falls due at once."""
    return deliver_all(session, [(message, targets)], step=step, now=now)


def deliver_all(session: Session, batch: Sequence[tuple[Notification, Sequence[Target]]], *, step: int,
                now: datetime, directory: preferences.Directory | None = None) -> list[Notification]:
    """``deliver`` for many messages at once."""
    if not batch:
        return []
    directory = directory or preferences.Directory(session, [m.recipient_id for m, _ in batch])
    rows: list[Notification] = []
    dead: list[int] = []
    for message, targets in batch:
        recipient = session.get(User, message.recipient_id)
        assert recipient is not None
        quiet = directory.quiet_until(recipient, now)
        mine = [Notification(kind=message.kind, recipient_id=message.recipient_id, lead_id=message.lead_id,
                             channel=target.channel, idempotency_key=delivery_key(message.id, step, target),
                             title=message.title, body=message.body, link=message.link, message_id=message.id,
                             endpoint_id=target.endpoint_id, target=target.url, target_key=target.key,
                             status=NotificationStatus.PENDING if target.url else NotificationStatus.FAILED,
                             last_error=target.problem, next_attempt_at=quiet or now, escalation_step=step,
                             created_at=now)
                for target in targets]
        if mine and all(r.status is NotificationStatus.FAILED for r in mine):
            dead.append(message.id)
        rows += mine
    session.add_all(rows)
    session.flush()
    if dead:
        escalate_now(session, dead, now)
    if any(r.status is NotificationStatus.PENDING for r in rows):
        wakeup.after_commit(session)
    return rows


def delivery_key(message_id: int, step: int, target: Target) -> str:
    """Stable for a message, step and target: a resend of the same delivery carries the same key."""
    return f"m{message_id}.s{step}.{target.channel.value}.{(target.key or 'none')[:12]}"


def escalate_now(session: Session, message_ids: Sequence[int], now: datetime) -> None:
    """Bring forward the next escalation step of messages whose current step has nothing left in flight."""
    session.execute(update(Notification).where(
        Notification.id.in_(message_ids), Notification.acknowledged_at.is_(None),
        Notification.escalate_at.is_not(None), Notification.escalate_at > now).values(escalate_at=now))


def lead_assigned(session: Session, lead: Lead, rep_id: int, decision_id: int | None = None) -> Notification:
    """The "new lead" message to the rep a lead was assigned to (one per routing decision). It is
    acknowledged when the rep opens or accepts the lead; until then the ``lead_assigned`` policy escalates."""
    return leads_assigned(session, [(lead, rep_id, decision_id)])[0]


def leads_assigned(session: Session, assigned: Sequence[tuple[Lead, int, int | None]]) -> list[Notification]:
    """``lead_assigned`` for many (lead, rep, decision) at once."""
    policy = active_policies().get(LEAD_ASSIGNED)
    minutes = round(policy.ack_within_minutes) if policy else 15
    return send_all(session, [Message(
        rep_id, LEAD_ASSIGNED, N_("New lead: {company}"), N_("Score {score}. Please open it within {minutes} minutes."),
        f"/leads/{lead.id}", lead.id, f"{LEAD_ASSIGNED}:{lead.id}:{decision_id or uuid.uuid4().hex}",
        {"company": lead.company, "score": "—" if lead.score is None else lead.score, "minutes": minutes})
        for lead, rep_id, decision_id in assigned])


def post_to_team(session: Session, *, team_id: int, kind: str, title: str, body: str = "", link: str | None = None,
                 key: str | None = None, **params: Any) -> Notification:
    """A message for a whole team (e.g. the monthly fairness report): in the supervisor's inbox, and on
    every group channel (DingTalk/WeCom robot, webhook) configured for that team."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("No team with id {id}.", field="team_id", id=team_id)
    if team.supervisor_id is None:
        raise NotFound("Team {name} has no supervisor to address.", field="team_id", name=team.name)
    idempotency_key = key or f"{kind}:team{team_id}:{uuid.uuid4().hex}"
    existing = session.scalar(select(Notification).where(Notification.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    message = send(session, recipient_id=team.supervisor_id, kind=kind, title=title, body=body, link=link,
                   key=idempotency_key, **params)
    deliver(session, message, preferences.team_targets(session, team_id), step=0, now=utcnow())
    return message


# --- acknowledgement and reading ------------------------------------------------------------------


def acknowledge_lead(session: Session, lead_id: int, user_id: int) -> int:
    """The rep who owns a lead opened or accepted it: every open notification about it to them is
    acknowledged, so their escalations stop. Others opening the lead acknowledge nothing.

    Opening a lead is a read; when the caller's transaction is read-only (a GET, a page view) the
    acknowledgement is written in its own short transaction, so a read never has to upgrade its lock.
    Returns how many messages were acknowledged."""
    ids = list(session.scalars(
        select(Notification.id).join(Lead, Lead.id == Notification.lead_id)
        .where(Notification.lead_id == lead_id, Notification.recipient_id == user_id, Lead.owner_id == user_id,
               Notification.channel == Channel.IN_APP, Notification.acknowledged_at.is_(None))))
    if not ids:
        return 0
    bind = session.get_bind()
    if not bind.get_execution_options().get("evenhand_readonly"):
        return _acknowledge(session, ids, utcnow())
    with Session(bind=bind.execution_options(evenhand_readonly=False)) as writer, writer.begin():
        return _acknowledge(writer, ids, utcnow())


@dataclass(frozen=True)
class WaitingLead:
    """A lead assigned to someone that they have not yet opened or accepted."""

    message_id: int  # the "new lead" message that is waiting
    lead_id: int
    company: str
    score: int | None
    sent_at: datetime
    escalate_at: datetime | None  # when the next escalation step falls due (None: no more steps)
    escalated: bool  # a step has been taken already


def waiting_leads(session: Session, user_id: int) -> list[WaitingLead]:
    """The leads a person owns whose "new lead" message they have not acknowledged, the one escalating first at the
    top (those with no step left last). A lead that has changed hands since is no longer theirs to accept."""
    stmt = (select(Notification.id, Lead.id, Lead.company, Lead.score, Notification.created_at,
                   Notification.escalate_at, Notification.escalation_step)
            .join(Lead, Lead.id == Notification.lead_id)
            .where(Notification.recipient_id == user_id, Notification.kind == LEAD_ASSIGNED,
                   Notification.channel == Channel.IN_APP, Notification.acknowledged_at.is_(None),
                   Lead.owner_id == user_id)
            .order_by(Notification.id.desc()))
    newest: dict[int, WaitingLead] = {}
    for message_id, lead_id, company, score, sent, due, step in session.execute(stmt):
        newest.setdefault(lead_id, WaitingLead(message_id, lead_id, company, score, as_utc(sent),
                                               as_utc(due) if due else None, step > 0))
    return sorted(newest.values(), key=lambda w: (w.escalate_at is None, w.escalate_at or w.sent_at, w.lead_id))


def acknowledge(session: Session, message_id: int, user_id: int) -> Notification:
    """The recipient acknowledges a message (an alert, or a lead from the inbox)."""
    message = own_message(session, message_id, user_id)
    if message.acknowledged_at is None:
        _acknowledge(session, [message.id], utcnow())
        session.refresh(message)
    return message


def _acknowledge(session: Session, message_ids: list[int], now: datetime) -> int:
    done = session.execute(update(Notification).where(
        Notification.id.in_(message_ids), Notification.acknowledged_at.is_(None)).values(
        acknowledged_at=now, read_at=func.coalesce(Notification.read_at, now), escalate_at=None))
    session.execute(update(Notification).where(
        Notification.message_id.in_(message_ids), Notification.acknowledged_at.is_(None),
        Notification.status == NotificationStatus.DELIVERED).values(acknowledged_at=now))
    # Nothing more needs to go out; a send already in a worker's hands finishes normally.
    session.execute(update(Notification).where(
        Notification.message_id.in_(message_ids), Notification.status == NotificationStatus.PENDING,
        (Notification.claimed_until.is_(None)) | (Notification.claimed_until < now)).values(
        status=NotificationStatus.CANCELLED, next_attempt_at=None))
    session.flush()
    return int(getattr(done, "rowcount", 0) or 0)


def own_message(session: Session, message_id: int, user_id: int) -> Notification:
    message = session.get(Notification, message_id)
    if message is None or message.recipient_id != user_id or message.channel is not Channel.IN_APP:
        raise NotFound("No notification with id {id} in your inbox.", field="notification_id", id=message_id)
    return message


def mark_read(session: Session, message_id: int, user_id: int) -> Notification:
    message = own_message(session, message_id, user_id)
    if message.read_at is None:
        message.read_at = utcnow()
        session.flush()
    return message


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(update(Notification).where(
        Notification.recipient_id == user_id, Notification.channel == Channel.IN_APP,
        Notification.read_at.is_(None)).values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def inbox(session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    stmt = select(Notification).where(Notification.recipient_id == user_id, Notification.channel == Channel.IN_APP)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.recipient_id == user_id, Notification.channel == Channel.IN_APP,
        Notification.read_at.is_(None))) or 0


def deliveries(session: Session, message_id: int, *, reader: Principal) -> list[Notification]:
    """Each channel's copy of a message, for its recipient and for admin, ops and auditors. Not for the
    recipient's supervisor: an inbox is personal, so this is not ``owned_by_visible``."""
    if not reader.reads_everything:
        own_message(session, message_id, reader.user_id)
    return list(session.scalars(select(Notification).where(Notification.message_id == message_id)
                                .order_by(Notification.id)))


def supervisors_of(session: Session, user_id: int) -> list[int]:
    """Whom to tell when someone does not respond: their team's supervisor, or (for supervisors and people
    without a team) sales ops, else admins."""
    user = session.get(User, user_id)
    team = session.get(Team, user.team_id) if user is not None and user.team_id else None
    if team is not None and team.supervisor_id and team.supervisor_id != user_id:
        return [team.supervisor_id]
    return ops_ids(session, exclude=user_id)


def ops_ids(session: Session, *, exclude: int | None = None) -> list[int]:
    for role in (Role.OPS, Role.ADMIN):
        ids = [i for i in session.scalars(select(User.id).where(User.role == role, User.active.is_(True))
                                          .order_by(User.id)) if i != exclude]
        if ids:
            return ids
    return []
