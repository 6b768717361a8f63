"""Alerts to supervisors: the versioned alert rules, each alert raised on an entity, and what people did with it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.activity import Activity
from evenhand.models.base import Base, CreatedMixin, Id, IdMixin, str_enum
from evenhand.models.opportunity import Opportunity


class AlertRuleVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the alert rules (YAML with CEL conditions); exactly one is active at a time."""

    __tablename__ = "alert_rules"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


FILLFACTOR = 70  # percent of each page of ``alerts`` filled by inserts on PostgreSQL


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Alert(IdMixin, Base):
    """A rule's condition holding for one entity (a deal, a lead, a rep). ``open_key`` (rule, entity) is set while
    the alert is not resolved and unique, so an entity has at most one live alert per rule; resolving clears it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_rep", "status", "rep_id"),
                      # the live alerts by entity: the scan's reads and the hook's lookups
                      Index("ix_alerts_live", "entity_type", "entity_id", "rule",
                            sqlite_where=text("open_key IS NOT NULL"), postgresql_where=text("open_key IS NOT NULL")),
                      # room in each page for the scan's every-few-minutes "last seen" to update in place (HOT)
                      {"postgresql_with": {"fillfactor": FILLFACTOR}})
    rule: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int]
    open_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus), default=AlertStatus.OPEN)
    rule_version: Mapped[int]
    evidence: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    snoozed_until: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # None: itself


class AlertAction(IdMixin, Base):
    """What someone did with an alert: acknowledged, commented, snoozed (with a reason and an end), resolved."""

    __tablename__ = "alert_actions"
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(String(2000), default="")
    until: Mapped[datetime | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertStageClock(Base):
    """What the scan last found of a deal's current stage standard, so it does not judge again what cannot have
    changed: a standard met (on time or late) stays met, and one still open cannot be overdue before its deadline.
    Valid while the deal stands on the same clock (the same stage entry), owner and standards version."""

    __tablename__ = "alert_stage_clocks"
    opportunity_id: Mapped[int] = mapped_column(Id, ForeignKey("opportunities.id", ondelete="CASCADE"),
                                                primary_key=True, autoincrement=False)
    started_at: Mapped[datetime]
    rep_id: Mapped[int]
    standards_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(index=True)  # the incremental scan reads the deadlines passed since
    judged_at: Mapped[datetime]


class AlertMark(Base):
    """An entity whose facts changed since the last scan (an activity captured on it, a stage or owner change, an
    honesty flag raised or decided, a lead's response recorded): the next incremental scan judges it and deletes the
    mark. One row per change, not per entity, so a mark written while a scan runs is never deleted unread."""

    __tablename__ = "alert_marks"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int] = mapped_column(Id)


class AlertScanState(Base):
    """The one row the scans keep: the moment ``W`` the last scan judged up to, the rules and standards versions it
    judged under, and when the last full scan ran. An incremental scan reads only what changed or crossed a
    threshold in (``scanned_at``, now]."""

    __tablename__ = "alert_scan_state"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    scanned_at: Mapped[datetime]
    rules_version: Mapped[int]
    standards_version: Mapped[int | None]
    full_at: Mapped[datetime]


# The incremental scan reads what crossed a threshold in a few minutes' window: activities by when they happened and
# deals by when they last moved (deals by creation, leads by creation and assignment have their indexes already).
Index("ix_activities_occurred_at", Activity.occurred_at)
Index("ix_opportunities_stage_changed_at", Opportunity.stage_changed_at)
