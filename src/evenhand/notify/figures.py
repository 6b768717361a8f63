"""Delivery figures as the API and the ops page read them: plain values, computed by ``notify.health``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Figures:
    """Delivery and acknowledgement of one group (a channel, a message kind, a platform and app version)."""

    group: str
    messages: int
    delivered: int
    failed: int
    acknowledged: int
    delivery_rate: float | None
    ack_rate: float | None
    ack_p50_seconds: float | None
    ack_p90_seconds: float | None


@dataclass(frozen=True)
class Point(Figures):
    bucket: datetime  # start of the time bucket


@dataclass(frozen=True)
class Breach:
    dimension: str
    group: str
    metric: str
    value: float
    threshold: float
    messages: int
