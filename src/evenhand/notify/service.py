"""Sending a notification: a row written in the caller's transaction. Callers commit.

The text is rendered once, in the recipient's language (their ``locale``, else the organisation's),
from an English template marked with ``N_`` and its parameters.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.i18n import t
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Notification, NotificationStatus, User


def send(session: Session, *, recipient_id: int, kind: str, title: str, body: str = "", link: str | None = None,
         lead_id: int | None = None, key: str | None = None, **params: Any) -> Notification:
    """Put a message in the recipient's inbox. ``title`` and ``body`` are ``N_`` templates formatted with
    ``params``; ``key`` (default: a fresh one) makes a repeated send of the same message a no-op."""
    idempotency_key = key or f"{kind}:{uuid.uuid4().hex}"
    existing = session.scalar(select(Notification).where(Notification.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    locale = session.scalar(select(User.locale).where(User.id == recipient_id))
    row = Notification(kind=kind, recipient_id=recipient_id, lead_id=lead_id, channel=Channel.IN_APP,
                       status=NotificationStatus.DELIVERED, idempotency_key=idempotency_key,
                       title=t(title, locale, **params), body=t(body, locale, **params) if body else "", link=link,
                       sent_at=utcnow(), delivered_at=utcnow())
    session.add(row)
    session.flush()
    return row


def inbox(session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    stmt = select(Notification).where(Notification.recipient_id == user_id, Notification.channel == Channel.IN_APP)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))
