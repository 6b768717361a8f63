"""Routing: policy versions, each pool's durable state, decisions, the holding queue, and grants."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base, CreatedMixin, Id, IdMixin, str_enum


class RoutingPolicyVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the routing policy YAML; exactly one is active."""

    __tablename__ = "routing_policies"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    affected_metrics: Mapped[list[Any]] = mapped_column(default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class PoolStateRow(Base):
    """The round-robin pointer and weighted credits of one pool, written back by every assignment.

    ``seq`` increases with each write; a writer that read an older ``seq`` lost a race and retries.
    """

    __tablename__ = "routing_pool_states"
    pool_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class RoutingDecision(IdMixin, CreatedMixin, Base):
    """Who got a lead and on what grounds; the full replayable record is in the audit entry."""

    __tablename__ = "routing_decisions"
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # intake | release | reassign | manual
    outcome: Mapped[str] = mapped_column(String(10))  # assigned | held
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    track: Mapped[str | None] = mapped_column(String(20))
    pool_id: Mapped[str | None] = mapped_column(String(60))
    policy_version: Mapped[int]
    latency_us: Mapped[int]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    audit_seq: Mapped[int] = mapped_column(index=True)
    arm: Mapped[str | None] = mapped_column(String(10))  # canary | control while a canary runs


class HeldLead(Base):
    """A lead nobody could take yet; it is routed the moment a candidate is available."""

    __tablename__ = "routing_holds"
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    pool_id: Mapped[str] = mapped_column(String(60), index=True)
    held_since: Mapped[datetime]
    escalated_at: Mapped[datetime | None]


KEY_ACCOUNT_GRANT = "key_account"  # entry to a pool marked ``key_account`` (granted by sales ops or performance)


class UserGrant(IdMixin, CreatedMixin, Base):
    """A right a rep has earned, e.g. ``key_account`` (entry to the key-account pool)."""

    __tablename__ = "user_grants"
    __table_args__ = (UniqueConstraint("user_id", "grant"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grant: Mapped[str] = mapped_column(String(40))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(300), default="")


class AppealStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the supervisor kept the assignment
    RESCORED = "rescored"  # the corrected facts were applied and the lead routed again
    REASSIGNED = "reassigned"  # routed again without the appellant, or to a rep the supervisor named
    WITHDRAWN = "withdrawn"


class Appeal(IdMixin, CreatedMixin, Base):
    """A rep's objection to an assignment (异议申诉), and the supervisor's ruling on it."""

    __tablename__ = "appeals"
    decision_id: Mapped[int] = mapped_column(ForeignKey("routing_decisions.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    appellant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    reason_code: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    corrections: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[AppealStatus] = mapped_column(str_enum(AppealStatus), default=AppealStatus.OPEN, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    ruling: Mapped[str] = mapped_column(String(1000), default="")
    outcome_decision_id: Mapped[int | None] = mapped_column(ForeignKey("routing_decisions.id", ondelete="SET NULL"))


class OwnerStamp(Base):
    """Per owner, a random stamp drawn again by every write that can change what routing counts of their leads and
    deals (SQLite triggers, ``owner_stamp_ddl``): counts read under a stamp stay true while the stamp does, so a
    process may keep them (``routing.snapshot``). Only SQLite carries the triggers: there a writer holds the
    database from its first statement to its commit, so the counts a router leaves can be kept under the stamps its
    own writes drew. On PostgreSQL the table stays empty and counts are always read."""

    __tablename__ = "owner_stamps"
    user_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(BigInteger)


# The columns of a lead and a deal that routing's counts read (``routing.snapshot._member_counts``).
STAMPED = {"leads": ("owner_id", "status", "score", "assigned_at"),
           "opportunities": ("owner_id", "stage", "closed_at", "amount")}


def _redraw(row: str) -> str:
    return (f"INSERT INTO owner_stamps (user_id, stamp) SELECT {row}.owner_id, random() "
            f"WHERE {row}.owner_id IS NOT NULL ON CONFLICT (user_id) DO UPDATE SET stamp = random();")


def owner_stamp_ddl(table: str) -> list[str]:
    """The SQLite triggers that draw the owner's stamp again on every write to ``table`` that can change a count:
    a row inserted or deleted, or one of its ``STAMPED`` columns written (for its owner before and after)."""
    columns = ", ".join(STAMPED[table])
    return [f"CREATE TRIGGER owner_stamp_{table}_insert AFTER INSERT ON {table} BEGIN {_redraw('NEW')} END",
            f"CREATE TRIGGER owner_stamp_{table}_update AFTER UPDATE OF {columns} ON {table} "
            f"BEGIN {_redraw('OLD')} {_redraw('NEW')} END",
            f"CREATE TRIGGER owner_stamp_{table}_delete AFTER DELETE ON {table} BEGIN {_redraw('OLD')} END"]


def owner_stamp_triggers(table: str) -> list[str]:
    return [f"owner_stamp_{table}_{event}" for event in ("insert", "update", "delete")]
