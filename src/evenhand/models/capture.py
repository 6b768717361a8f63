"""What the connectors keep: events already taken (replay refusal), each connector's health, Microsoft Graph
subscriptions, and notifications queued for the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, IdMixin


class CaptureReceipt(IdMixin, Base):
    """An event a connector has taken, by the platform's id (or the payload's hash): the same event delivered
    again finds its receipt and stores nothing."""

    __tablename__ = "capture_receipts"
    __table_args__ = (UniqueConstraint("connector", "event_key"),)
    connector: Mapped[str] = mapped_column(String(24))
    event_key: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConnectorStatus(IdMixin, Base):
    """One row per connector: when it last took an event, how many it took and refused, the last refusal."""

    __tablename__ = "connector_status"
    connector: Mapped[str] = mapped_column(String(24), unique=True)
    events: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    last_event_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class GraphSubscription(IdMixin, Base):
    """A Microsoft Graph change-notification subscription (a mailbox's messages, a calendar's events), renewed
    before it expires."""

    __tablename__ = "graph_subscriptions"
    subscription_id: Mapped[str] = mapped_column(String(120), unique=True)
    resource: Mapped[str] = mapped_column(String(300))
    client_state: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)


class CaptureQueueItem(IdMixin, Base):
    """A notification accepted by a webhook and worked by the worker, so the webhook answers at once."""

    __tablename__ = "capture_queue"
    connector: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)
