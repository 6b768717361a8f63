"""The sales process: versioned stage action standards, and the honesty flags raised on CRM notes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class StandardVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the stage action standards; exactly one is active at a time."""

    __tablename__ = "stage_standards"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class FlagKind(enum.StrEnum):
    UNBACKED = "unbacked"  # a note claims a contact nothing captured backs
    DUPLICATE = "duplicate"  # a note near-identical to notes on other deals


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class HonestyFlag(IdMixin, CreatedMixin, Base):
    """A CRM note the honesty checks doubt, with its evidence, until the rep's supervisor confirms or dismisses it."""

    __tablename__ = "honesty_flags"
    __table_args__ = (UniqueConstraint("activity_id", "kind"),)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    kind: Mapped[FlagKind] = mapped_column(str_enum(FlagKind))
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[FlagStatus] = mapped_column(str_enum(FlagStatus), default=FlagStatus.OPEN, index=True)
    evidence: Mapped[dict[str, Any]]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(String(500), default="")
