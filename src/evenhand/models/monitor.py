"""KPI monitoring: the versioned KPI definitions, their daily series, the anomalies found in them, and canaries."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.kit.clock import utcnow
from evenhand.models.base import Base, CreatedMixin, IdMixin, Json, str_enum


class KpiDefinitionVersion(IdMixin, CreatedMixin, Base):
    """One saved version of the KPI definitions (YAML); exactly one is active at a time."""

    __tablename__ = "kpi_definitions"
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=False, index=True)


class KpiPoint(IdMixin, Base):
    """One KPI on one local day, for the whole company (``dimension`` and ``value`` empty) or one dimension value.

    ``n`` counts what the KPI is taken over (leads, notifications, …), ``x`` sums its numerator (a rate) or its
    measure (a duration), ``x2`` the measure's squares; ``v`` is the KPI's value that day (a rate, a mean, a
    quantile). A rate with a horizon keeps in ``by_age`` its numerator known after 0, 1, … horizon days, so a
    young cohort can be compared with older ones at the same age."""

    __tablename__ = "kpi_points"
    __table_args__ = (UniqueConstraint("kpi", "dimension", "value", "day"),)
    kpi: Mapped[str] = mapped_column(String(60))
    dimension: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[str] = mapped_column(String(120), default="")
    day: Mapped[date]
    n: Mapped[float] = mapped_column(Float, default=0.0)
    x: Mapped[float] = mapped_column(Float, default=0.0)
    x2: Mapped[float] = mapped_column(Float, default=0.0)
    v: Mapped[float | None] = mapped_column(Float)
    by_age: Mapped[list[Any] | None] = mapped_column(Json)


class KpiWatermark(Base):
    """Per fact source, the moment up to which its changes are already in the series (incremental refresh)."""

    __tablename__ = "kpi_watermarks"
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    seen_until: Mapped[datetime]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnomalyStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    # A later scan of its days no longer finds it: with what the company has told since (its holidays, history
    # imported, a KPI's definition) the shift is not there. Kept, so what was announced can still be read.
    WITHDRAWN = "withdrawn"


class Anomaly(IdMixin, CreatedMixin, Base):
    """A shift found in a KPI's series: when it started, when it was first seen, how large, why, and what changed."""

    __tablename__ = "anomalies"
    __table_args__ = (UniqueConstraint("kpi", "kind", "detected_on"),)
    kpi: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))  # statistical | alert_line
    method: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10))  # up | down
    started_on: Mapped[date]
    detected_on: Mapped[date] = mapped_column(index=True)  # with the KPI and kind, names the episode
    last_on: Mapped[date]
    ended_on: Mapped[date | None]
    baseline: Mapped[float | None] = mapped_column(Float)
    observed: Mapped[float | None] = mapped_column(Float)
    effect: Mapped[float | None] = mapped_column(Float)  # relative: observed / baseline - 1
    p_value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[AnomalyStatus] = mapped_column(str_enum(AnomalyStatus), default=AnomalyStatus.OPEN, index=True)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    change_ids: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CanaryStatus(enum.StrEnum):
    RUNNING = "running"
    ROLLED_BACK = "rolled_back"
    PROMOTED = "promoted"


class Canary(IdMixin, CreatedMixin, Base):
    """A candidate routing policy version serving a share of leads, chosen by a stable hash of the lead."""

    __tablename__ = "canaries"
    document: Mapped[str] = mapped_column(String(40), default="routing_policy")
    version: Mapped[int]  # the candidate version (stored, not active)
    control_version: Mapped[int]  # the version active when it started
    share: Mapped[float] = mapped_column(Float)  # 0 < share < 1
    salt: Mapped[str] = mapped_column(String(40))
    status: Mapped[CanaryStatus] = mapped_column(str_enum(CanaryStatus), default=CanaryStatus.RUNNING, index=True)
    metrics: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change_entries.id", ondelete="SET NULL"))
