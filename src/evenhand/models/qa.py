"""Call QA: the versioned rubric, each period's random sample of recorded calls, and the reviews of them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class RubricVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the QA rubric (criteria scored 1–5 with anchors); exactly one is active at a time."""

    __tablename__ = "qa_rubrics"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class QaSample(IdMixin, Base):
    """A period's draw: the seed and share recorded, so anyone can draw the same calls again and check."""

    __tablename__ = "qa_samples"
    __table_args__ = (UniqueConstraint("period", "seed"),)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    seed: Mapped[int] = mapped_column(BigInteger)
    share: Mapped[float]
    calls: Mapped[int]  # outbound calls with a recording in the period: the population
    drawn: Mapped[int]
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    current: Mapped[bool] = mapped_column(default=True)  # the period's sample reviewers work on


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    REVIEWED = "reviewed"
    ACKNOWLEDGED = "acknowledged"


class QaReview(IdMixin, Base):
    """One sampled call: its review against the rubric, and the rep's acknowledgement of the feedback."""

    __tablename__ = "qa_reviews"
    __table_args__ = (UniqueConstraint("sample_id", "activity_id"),)
    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus), default=ReviewStatus.PENDING, index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rubric_version: Mapped[int | None]
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # criterion → 1..5
    comment: Mapped[str] = mapped_column(Text, default="")
    coaching: Mapped[list[Any]] = mapped_column(default=list)  # items carried into the next period until done
    reviewed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
