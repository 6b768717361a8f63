"""Versioned scoring models: the rule YAML and trained predictive models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin


class ScoringModelVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the rule model; exactly one is active at a time."""

    __tablename__ = "scoring_models"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class PredictiveModelVersion(IdMixin, CreatedMixin, Base):
    """A trained conversion model with the figures it was evaluated on."""

    __tablename__ = "predictive_models"
    version: Mapped[int] = mapped_column(unique=True)
    algorithm: Mapped[str] = mapped_column(String(80))
    trained_on: Mapped[str] = mapped_column(String(200))
    features: Mapped[list[Any]]
    metrics: Mapped[dict[str, Any]]
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)
