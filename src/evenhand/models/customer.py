"""Customers after the sale: accounts, contracts (new and renewal), cash collected, surveys."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, IdMixin, str_enum


class ContractKind(enum.StrEnum):
    NEW = "new"
    RENEWAL = "renewal"


class SurveyKind(enum.StrEnum):
    CSAT = "csat"
    NPS = "nps"


class Account(IdMixin, CreatedMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    # The CRM of record and its id for this account (both empty for an account made in evenhand).
    source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(60))
    region: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class Contract(IdMixin, CreatedMixin, Base):
    __tablename__ = "contracts"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[ContractKind] = mapped_column(str_enum(ContractKind))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    signed_at: Mapped[datetime]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    renewed: Mapped[bool | None]


class Payment(IdMixin, Base):
    """Cash collected (回款) against a contract."""

    __tablename__ = "payments"
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    received_at: Mapped[datetime]


class SurveyResponse(IdMixin, Base):
    __tablename__ = "survey_responses"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[SurveyKind] = mapped_column(str_enum(SurveyKind))
    score: Mapped[int]
    responded_at: Mapped[datetime]


class Complaint(IdMixin, Base):
    """A customer's complaint about the service (客户投诉), from the CRM or the service desk."""

    __tablename__ = "complaints"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(String(500), default="")
