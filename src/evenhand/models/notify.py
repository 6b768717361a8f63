"""Notifications sent to people, with the channel and client that carried them; the outbox that carries
them, the channels it carries them on, each attempt, and the worker's schedule of periodic jobs.

A message is its in-app inbox row (``channel = in_app``, always delivered). Every other channel's copy
is a delivery row pointing at it through ``message_id``: the outbox. Rows written before the outbox
existed (and the demo's history) have no ``message_id``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, index_where_set, str_enum


class Channel(enum.StrEnum):
    APP_PUSH = "app_push"
    SMS = "sms"
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    WEBHOOK = "webhook"
    IN_APP = "in_app"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"  # in the outbox, waiting for (another) attempt
    SENT = "sent"  # left the server, no receipt yet
    DELIVERED = "delivered"  # the channel accepted it (or the phone confirmed it)
    FAILED = "failed"  # every attempt on this channel used up
    CANCELLED = "cancelled"  # not sent: acknowledged, or the lead changed hands, before it left


class Notification(IdMixin, CreatedMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),
                      # a message has no message_id, and only a message with an escalation step to come has escalate_at
                      index_where_set("ix_notifications_message_id", "message_id"),
                      index_where_set("ix_notifications_escalate_at", "escalate_at"))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    platform: Mapped[str | None] = mapped_column(String(20))
    app_version: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[NotificationStatus] = mapped_column(str_enum(NotificationStatus))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    # What the person reads (in the in-app inbox and on every channel), and where it leads.
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[datetime | None]
    # The outbox. A delivery belongs to its message (the inbox row); the target is the Apprise URL it goes
    # to, and ``target_key`` names that target for rate limits without repeating its secrets.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("notify_endpoints.id", ondelete="SET NULL"))
    target: Mapped[str | None] = mapped_column(Text)
    target_key: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    digest_key: Mapped[str | None] = mapped_column(String(80))
    # Escalation: on a message, the steps already taken and when the next is due (None: no more);
    # on a delivery, the step that sent it (0 the first send, 1 the fallback).
    escalation_step: Mapped[int] = mapped_column(default=0, server_default="0")
    escalate_at: Mapped[datetime | None]


class NotifyEndpoint(IdMixin, CreatedMixin, Base):
    """A channel the organisation configured: an Apprise URL, optionally with ``{phone}``, ``{email}``,
    ``{username}`` or ``{user_id}`` filled in per recipient. It serves one team, named users, or everyone."""

    __tablename__ = "notify_endpoints"
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    url: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_ids: Mapped[list[Any]] = mapped_column(default=list)
    is_default: Mapped[bool] = mapped_column(default=False)
    rate_per_minute: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime | None]


class NotifyPreference(Base):
    """One person's choice of channels (besides the in-app inbox, which is always on), personal Apprise
    URLs that replace the organisation's for a channel, and quiet hours in their own time zone."""

    __tablename__ = "notify_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    personal: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[datetime]


class DeliveryAttempt(IdMixin, Base):
    """One try at carrying a delivery, written when the channel answered (``ok``, ``error``) — or by the next
    claimant, as ``lost``, when the worker holding it died before it could record the answer."""

    __tablename__ = "notify_attempts"
    __table_args__ = (UniqueConstraint("notification_id", "number"),
                      Index("ix_notify_attempts_target_started", "target_key", "started_at"))
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(80))
    target_key: Mapped[str | None] = mapped_column(String(40))
    digest_key: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))


class ScheduledJob(Base):
    """When each periodic job of the worker runs next, and who holds it now (several workers, one run)."""

    __tablename__ = "worker_jobs"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_run_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(default=0)
