"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, IdMixin


class AuditEntry(IdMixin, Base):
    """One link of the chain; ``hash`` covers ``prev_hash`` and every other field (see kit.audit)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), unique=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    # Not indexed: nothing looks an entry up by its link, and the seq (unique) already makes the chain one line. An
    # index on a random text would be written at a random place by every entry.
    hash: Mapped[str] = mapped_column(String(64))
