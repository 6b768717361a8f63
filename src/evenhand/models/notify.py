"""Notifications sent to people, with the channel and client that carried them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class Channel(enum.StrEnum):
    APP_PUSH = "app_push"
    SMS = "sms"
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    WEBHOOK = "webhook"
    IN_APP = "in_app"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Notification(IdMixin, CreatedMixin, Base):
    __tablename__ = "notifications"
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
