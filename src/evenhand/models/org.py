"""The organisation: departments, teams, regions, product lines, users (reps and staff), leave."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Numeric, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, CreatedMixin, Id, IdMixin, str_enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPS = "ops"
    SUPERVISOR = "supervisor"
    REP = "rep"
    AUDITOR = "auditor"


class Level(enum.StrEnum):
    JUNIOR = "junior"
    SENIOR = "senior"


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Department(IdMixin, CreatedMixin, Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Region(IdMixin, CreatedMixin, Base):
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class ProductLine(IdMixin, CreatedMixin, Base):
    __tablename__ = "product_lines"
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Team(IdMixin, CreatedMixin, Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("department_id", "name"),)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True), index=True
    )


user_product_lines = Table(
    "user_product_lines",
    Base.metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("product_line_id", Id, ForeignKey("product_lines.id", ondelete="CASCADE"), primary_key=True),
)


def default_working_hours() -> dict[str, Any]:
    week = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    return {**week, "sat": [], "sun": []}


class User(IdMixin, CreatedMixin, Base):
    """Everyone who signs in; reps are users with role ``rep`` (and supervisors may also carry leads)."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # The id the company's own HR or CRM export gives this person: an import finds them again by it.
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role), index=True)
    level: Mapped[Level] = mapped_column(str_enum(Level), default=Level.JUNIOR)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    monthly_quota: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    max_open_leads: Mapped[int] = mapped_column(default=50)
    daily_lead_cap: Mapped[int] = mapped_column(default=20)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    working_hours: Mapped[dict[str, Any]] = mapped_column(default=default_working_hours)
    presence: Mapped[Presence] = mapped_column(str_enum(Presence), default=Presence.OFFLINE)
    presence_since: Mapped[datetime] = mapped_column(default=utcnow)
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    hired_on: Mapped[date | None]
    left_on: Mapped[date | None]

    product_lines: Mapped[list[ProductLine]] = relationship(secondary=user_product_lines, lazy="raise")


class Leave(IdMixin, CreatedMixin, Base):
    __tablename__ = "leaves"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))
