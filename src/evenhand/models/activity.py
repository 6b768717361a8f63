"""Activities: what reps actually did, captured from communication tools or logged by hand."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, IdMixin, str_enum


class ActivityType(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MESSAGE = "message"
    MEETING = "meeting"
    VISIT = "visit"
    NOTE = "note"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class SourceSystem(enum.StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    OUTLOOK = "outlook"
    TELEPHONY = "telephony"
    CRM = "crm"


class Activity(IdMixin, Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_activities_rep_time", "rep_id", "occurred_at"),
    )
    type: Mapped[ActivityType] = mapped_column(str_enum(ActivityType))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    source_system: Mapped[SourceSystem] = mapped_column(str_enum(SourceSystem))
    external_id: Mapped[str] = mapped_column(String(120))
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    occurred_at: Mapped[datetime]
    duration_seconds: Mapped[int | None]
    answered: Mapped[bool | None]
    replied: Mapped[bool | None]
    attachment_count: Mapped[int] = mapped_column(default=0)
    subject: Mapped[str | None] = mapped_column(String(300))
    recording_ref: Mapped[str | None] = mapped_column(String(300))
    message_count: Mapped[int | None]  # messages a conversation's record stands for (a chat session)
    body: Mapped[str | None] = mapped_column(Text)  # a CRM note's text
    declared_type: Mapped[ActivityType | None] = mapped_column(str_enum(ActivityType))  # what a note says it records


class UnmatchedActivity(IdMixin, Base):
    """An activity that names no known rep, or no lead or deal: it waits here, never dropped, until someone links
    it (or a later import brings what it names) and it becomes an ``Activity``."""

    __tablename__ = "unmatched_activities"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)
    source_system: Mapped[SourceSystem] = mapped_column(str_enum(SourceSystem))
    external_id: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(24), index=True)  # no_rep, no_link
    fields: Mapped[dict[str, Any]]  # the activity as it came, after validation (JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
