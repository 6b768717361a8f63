"""The change registry: every system change, with the metrics it declared it may affect and how they are watched."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class ChangeStatus(enum.StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    ROLLED_BACK = "rolled_back"


class ChangeEntry(IdMixin, CreatedMixin, Base):
    """``source`` is ``manual`` for what ops enter (a CRM release, an app version) and ``config`` for a saved
    version of one of evenhand's own documents (``document``, ``document_version``), recorded as it is saved."""

    __tablename__ = "change_entries"
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    effective_at: Mapped[datetime] = mapped_column(index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    affected_metrics: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[ChangeStatus] = mapped_column(str_enum(ChangeStatus), default=ChangeStatus.RELEASED,
                                                 server_default=ChangeStatus.RELEASED.value, index=True)
    source: Mapped[str] = mapped_column(String(20), default="manual", server_default="manual")
    document: Mapped[str | None] = mapped_column(String(40))
    document_version: Mapped[int | None]
    checklist: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    monitors: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
