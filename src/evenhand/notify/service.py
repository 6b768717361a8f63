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

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import NotFound
from evenhand.i18n import N_, t
from evenhand.kit import written
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.cursor import Prepared, writes
from evenhand.models import Base, Channel, Lead, Notification, NotificationStatus, Role, Team, User
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
_KEYS_STORED = select(Notification.idempotency_key, Notification.id).where(
    Notification.idempotency_key.in_(bindparam("keys", expanding=True)))
_TABLE = Base.metadata.tables[Notification.__tablename__]
# A message whose key is already stored is left as it is (the repeat of a send); the ids of those written come
# back with their keys (a multi-row INSERT returns its rows in no promised order on SQLite).
_INBOX = ("kind", "recipient_id", "lead_id", "channel", "status", "idempotency_key", "title", "body", "link",
          "sent_at", "delivered_at", "created_at", "escalate_at")  # what ``_inbox_row`` gives
_NEW_MESSAGES = {
    "sqlite": Prepared(writes(_TABLE, _INBOX, insert=sqlite_insert).on_conflict_do_nothing(
        index_elements=[_TABLE.c.idempotency_key]).returning(_TABLE.c.idempotency_key, _TABLE.c.id)),
    "postgresql": Prepared(writes(_TABLE, _INBOX, insert=postgresql_insert).on_conflict_do_nothing(
        index_elements=[_TABLE.c.idempotency_key]).returning(_TABLE.c.idempotency_key, _TABLE.c.id))}
_NEW_DELIVERIES = insert(_TABLE)
# The columns a new row leaves as the model's defaults give them (NULL but for the counts): an inbox row and a
# delivery each name the same columns every time, so the rows of a batch share one statement, and a row of the
# session made from what was written is given these too (nothing about it is left to load).
_UNSET: dict[str, Any] = {
    "platform": None, "app_version": None, "sent_at": None, "delivered_at": None, "acknowledged_at": None,
    "read_at": None, "message_id": None, "endpoint_id": None, "target": None, "target_key": None, "attempts": 0,
    "next_attempt_at": None, "claimed_by": None, "claimed_until": None, "last_error": None, "digest_key": None,
    "escalation_step": 0, "escalate_at": None}


@dataclass(frozen=True)
class _Sent:
    """A message of a batch: its inbox row's id, and the values written (None: its key was stored already)."""

    key: str
    id: int
    row: dict[str, Any] | None


def send_all(session: Session, messages: Sequence[Message]) -> list[Notification]:
    """``send`` for many messages at once: the recipients come from the configuration revision's cache, and the
    inbox rows (a repeated key left as stored) and outbox rows are written in one statement each."""
    return _notifications(session, _send(session, messages, active_policies()))


def _send(session: Session, messages: Sequence[Message], active: Mapping[str, EscalationPolicy]) -> list[_Sent]:
    if not messages:
        return []
    keys = [m.key or f"{m.kind}:{uuid.uuid4().hex}" for m in messages]
    people = preferences.recipients(session, [m.recipient_id for m in messages])
    stored = _refuse_unknown(session, messages, keys, people)
    rows: dict[str, dict[str, Any]] = {}
    outboxes: dict[str, list[tuple[Target, dict[str, Any]]]] = {}
    now = utcnow()
    for message, key in zip(messages, keys, strict=True):
        if key not in stored and key not in rows:
            rows[key], outboxes[key] = _planned(message, key, people[message.recipient_id], now,
                                                active.get(message.kind))
    if rows:
        stored.update(_write(session, rows, outboxes))
    return [_Sent(key, stored[key], None) if key in stored else _Sent(key, rows[key]["id"], rows[key]) for key in keys]


def _planned(message: Message, key: str, person: preferences.Recipient, now: datetime,
             policy: EscalationPolicy | None) -> tuple[dict[str, Any], list[tuple[Target, dict[str, Any]]]]:
    """The inbox row and the deliveries (each with its target) of a new message."""
    row = _inbox_row(message, key, person, now, policy)
    quiet = person.quiet_until(now) if person.targets else None
    outbox = [(target, _delivery(row, target, 0, now, quiet)) for target in person.targets]
    if outbox and row["escalate_at"] is not None and all(target.url is None for target, _ in outbox):
        row["escalate_at"] = now  # nothing at this step can go out: the next one falls due at once
    return row, outbox


def _write(session: Session, rows: dict[str, dict[str, Any]],
           outboxes: dict[str, list[tuple[Target, dict[str, Any]]]]) -> dict[str, int]:
    """Insert the inbox rows (their ids set on them) and the deliveries of those written; the ids of the keys
    found stored instead (written meanwhile by another transaction, or earlier in this one)."""
    conn = session.connection()
    written: dict[str, int] = dict(_NEW_MESSAGES[conn.dialect.name].returned(conn, list(rows.values())))
    for key, message_id in written.items():
        rows[key]["id"] = message_id
    deliveries = [_numbered(d, target, 0, written[key]) for key, outbox in outboxes.items() if key in written
                  for target, d in outbox]
    if deliveries:
        conn.execute(_NEW_DELIVERIES, deliveries)
        if any(d["status"] is NotificationStatus.PENDING for d in deliveries):
            wakeup.after_commit(session)
    return _stored(session, [k for k in rows if k not in written]) if len(written) < len(rows) else {}


def _refuse_unknown(session: Session, messages: Sequence[Message], keys: list[str],
                    people: Mapping[int, preferences.Recipient]) -> dict[str, int]:
    """``NotFound`` for a message to nobody, unless its key is stored already (a repeat is answered with what was
    sent); the stored keys read, if any had to be."""
    if all(m.recipient_id in people for m in messages):
        return {}
    stored = _stored(session, keys)
    for message, key in zip(messages, keys, strict=True):
        if key not in stored and message.recipient_id not in people:
            raise NotFound("No user with id {id}.", field="recipient_id", id=message.recipient_id)
    return stored


def _stored(session: Session, keys: Sequence[str]) -> dict[str, int]:
    return dict(session.connection().execute(_KEYS_STORED, {"keys": list(set(keys))}).all())


def _inbox_row(message: Message, key: str, person: preferences.Recipient, now: datetime,
               policy: EscalationPolicy | None) -> dict[str, Any]:
    return {"kind": message.kind, "recipient_id": message.recipient_id, "lead_id": message.lead_id,
            "channel": Channel.IN_APP, "status": NotificationStatus.DELIVERED, "idempotency_key": key,
            "title": t(message.title, person.locale, **message.params)[:200],
            "body": t(message.body, person.locale, **message.params) if message.body else "",
            "link": message.link, "sent_at": now, "delivered_at": now, "created_at": now,
            "escalate_at": policy.due_after(0, now) if policy else None}


def _delivery(message: Mapping[str, Any], target: Target, step: int, now: datetime,
              quiet: datetime | None) -> dict[str, Any]:
    """A delivery's row but for its message's id and its key (``_numbered``)."""
    return {"kind": message["kind"], "recipient_id": message["recipient_id"], "lead_id": message["lead_id"],
            "channel": target.channel, "title": message["title"], "body": message["body"], "link": message["link"],
            "endpoint_id": target.endpoint_id, "target": target.url, "target_key": target.key,
            "status": NotificationStatus.PENDING if target.url else NotificationStatus.FAILED,
            "last_error": target.problem, "next_attempt_at": quiet or now, "escalation_step": step, "created_at": now}


def _numbered(delivery: dict[str, Any], target: Target, step: int, message_id: int) -> dict[str, Any]:
    return {**delivery, "message_id": message_id, "idempotency_key": delivery_key(message_id, step, target)}


def _notifications(session: Session, sent: Sequence[_Sent]) -> list[Notification]:
    """The batch's messages as rows of the session: a new one made from the values written (no query), one stored
    before read (as it is, if the session holds it already)."""
    keys = [s.key for s in sent if s.row is None]
    made = {n.idempotency_key: n for n in session.scalars(_BY_KEYS, {"keys": list(set(keys))})} if keys else {}
    for s in sent:
        if s.key not in made and s.row is not None:
            made[s.key] = row = written.new(Notification, {**_UNSET, **s.row})
            make_transient_to_detached(row)  # its state is what was written, as if loaded
            session.add(row)
    return [made[s.key] for s in sent]


def deliver(session: Session, message: Notification, targets: Sequence[Target], *, step: int,
            now: datetime) -> list[Notification]:
    """Outbox rows for ``message`` on ``targets``. A target that cannot be filled in (no phone number, no
    channel configured) is written as failed with the reason, never skipped; if nothing at this step can
    go out, the next escalation step falls due at once."""
    return deliver_all(session, [(message, targets)], step=step, now=now)


def deliver_all(session: Session, batch: Sequence[tuple[Notification, Sequence[Target]]], *, step: int,
                now: datetime) -> list[Notification]:
    """``deliver`` for many messages at once."""
    if not batch:
        return []
    people = preferences.recipients(session, [m.recipient_id for m, _ in batch])
    rows: list[Notification] = []
    dead: list[int] = []
    for message, targets in batch:
        quiet = people[message.recipient_id].quiet_until(now)
        head = {"kind": message.kind, "recipient_id": message.recipient_id, "lead_id": message.lead_id,
                "title": message.title, "body": message.body, "link": message.link}
        mine = [Notification(**_numbered(_delivery(head, target, step, now, quiet), target, step, message.id))
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
    active = active_policies()
    return _notifications(session, _send(session, [_lead_message(lead, rep_id, decision_id, active)], active))[0]


def leads_assigned(session: Session, assigned: Sequence[tuple[Lead, int, int | None]]) -> list[int]:
    """``lead_assigned`` for many (lead, rep, decision) at once, giving the messages' ids (the router's path: it
    makes no ORM object of them)."""
    active = active_policies()
    return [s.id for s in _send(session, [_lead_message(lead, rep_id, decision_id, active)
                                          for lead, rep_id, decision_id in assigned], active)]


def _lead_message(lead: Lead, rep_id: int, decision_id: int | None,
                  active: Mapping[str, EscalationPolicy]) -> Message:
    policy = active.get(LEAD_ASSIGNED)
    minutes = round(policy.ack_within_minutes) if policy else 15
    return Message(
        rep_id, LEAD_ASSIGNED, N_("New lead: {company}"), N_("Score {score}. Please open it within {minutes} minutes."),
        f"/leads/{lead.id}", lead.id, f"{LEAD_ASSIGNED}:{lead.id}:{decision_id or uuid.uuid4().hex}",
        {"company": lead.company, "score": "—" if lead.score is None else lead.score, "minutes": minutes})


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
