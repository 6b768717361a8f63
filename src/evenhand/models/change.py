"""The change registry: every system change, with the metrics it declared it may affect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin


class ChangeEntry(IdMixin, CreatedMixin, Base):
    __tablename__ = "change_entries"
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    effective_at: Mapped[datetime] = mapped_column(index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    affected_metrics: Mapped[list[Any]] = mapped_column(default=list)
