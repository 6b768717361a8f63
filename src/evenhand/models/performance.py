"""Performance: the versioned scorecard templates, targets per period, frozen scorecards, and peer review.

Peer review keeps its promise of anonymity in the schema itself: an assignment knows who reviews whom and whether
it is done (no time), a review knows whom it is about and nothing of who wrote it or when (its id is random, so
not even the order of writing links the two)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, CreatedMixin, IdMixin, Json, str_enum


class ScorecardTemplateVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the scorecard templates (YAML: metrics, weights per level, caps, gates, tiers);
    exactly one is active at a time."""

    __tablename__ = "scorecard_templates"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class MetricTarget(IdMixin, CreatedMixin, Base):
    """A metric's target for a period, for the whole company (no team, no rep), a team or one rep; the most
    specific one applies."""

    __tablename__ = "metric_targets"
    __table_args__ = (UniqueConstraint("metric", "period", "team_id", "user_id"),)
    metric: Mapped[str] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(10), index=True)  # 2026-09 or 2026-Q3
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    value: Mapped[float]


class PeriodStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ScorePeriod(IdMixin, CreatedMixin, Base):
    """A month or quarter being scored. Closing freezes its scorecards; a late correction re-opens it (audited) and
    the next close writes a new revision beside the old one, never over it."""

    __tablename__ = "score_periods"
    period: Mapped[str] = mapped_column(String(10), unique=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # exclusive
    status: Mapped[PeriodStatus] = mapped_column(str_enum(PeriodStatus), default=PeriodStatus.OPEN)
    revision: Mapped[int] = mapped_column(default=0)  # the revision of the scorecards in force; 0: never closed
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Scorecard(IdMixin, Base):
    """One rep's frozen score for one revision of a period, with every metric's value, target, normalised score,
    weight and the inputs behind it as evidence."""

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("period_id", "revision", "user_id"),
                      Index("ix_scorecards_user_period", "user_id", "period_id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("score_periods.id", ondelete="CASCADE"))
    revision: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    template_version: Mapped[int]
    template_name: Mapped[str] = mapped_column(String(120))
    total: Mapped[float | None]  # None: not enough data for any metric
    gate: Mapped[str | None] = mapped_column(String(60))  # the gate that capped the total, if one did
    tier: Mapped[str | None] = mapped_column(String(40))
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    inputs: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewCycleStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PeerReviewCycle(IdMixin, CreatedMixin, Base):
    """A month's peer review: who reviews whom was drawn with ``seed``; aggregates show from ``threshold`` reviews
    (never fewer than 3)."""

    __tablename__ = "peer_review_cycles"
    period: Mapped[str] = mapped_column(String(10), unique=True)
    seed: Mapped[int]
    per_reviewer: Mapped[int]
    threshold: Mapped[int] = mapped_column(default=3)
    status: Mapped[ReviewCycleStatus] = mapped_column(str_enum(ReviewCycleStatus), default=ReviewCycleStatus.OPEN)


class PeerReviewAssignment(IdMixin, Base):
    """Reviewer X is to review rep Y in a cycle. ``done`` carries no time, so it cannot be matched to a review."""

    __tablename__ = "peer_review_assignments"
    __table_args__ = (UniqueConstraint("cycle_id", "reviewer_id", "reviewee_id"),)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("peer_review_cycles.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reviewee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    done: Mapped[bool] = mapped_column(default=False)


def _review_id() -> str:
    return uuid.uuid4().hex


class PeerReview(Base):
    """A submitted review: about whom, the ratings and the comment; nothing about who wrote it or when."""

    __tablename__ = "peer_reviews"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_review_id)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("peer_review_cycles.id", ondelete="CASCADE"), index=True)
    reviewee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    professionalism: Mapped[int]
    collaboration: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
