"""Opportunities (商机) and their stage history."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class Stage(enum.StrEnum):
    QUALIFICATION = "qualification"
    NEEDS_ANALYSIS = "needs_analysis"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = (Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS, Stage.PROPOSAL, Stage.NEGOTIATION)


class Opportunity(IdMixin, CreatedMixin, Base):
    __tablename__ = "opportunities"
    __table_args__ = (Index("ix_opportunities_owner_closed", "owner_id", "closed_at"),  # routing's win records
                      UniqueConstraint("source", "external_id"))
    # The CRM of record and its id for this deal (both empty for one made in evenhand).
    source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    product_line_id: Mapped[int | None] = mapped_column(ForeignKey("product_lines.id", ondelete="SET NULL"))
    stage: Mapped[Stage] = mapped_column(str_enum(Stage), default=Stage.QUALIFICATION, index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    stage_changed_at: Mapped[datetime | None]
    engaged_at: Mapped[datetime | None]  # the first meeting or demo with the customer
    closed_at: Mapped[datetime | None] = mapped_column(index=True)

    @property
    def won(self) -> bool | None:
        return None if self.stage in OPEN_STAGES else self.stage is Stage.WON


class StageChange(IdMixin, Base):
    __tablename__ = "stage_changes"
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[Stage | None] = mapped_column(str_enum(Stage))
    to_stage: Mapped[Stage] = mapped_column(str_enum(Stage))
    changed_at: Mapped[datetime]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Rebuilt from the deal's dates (created, engaged, closed) when the export had no stage history.
    derived: Mapped[bool] = mapped_column(default=False, server_default=false())
