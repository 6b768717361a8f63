"""Time helpers: evenhand stores UTC and shows the organisation's zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_FROZEN: ContextVar[datetime | None] = ContextVar("evenhand_frozen_clock", default=None)


def utcnow() -> datetime:
    return _FROZEN.get() or datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """``utcnow()`` answers ``at`` inside the block, in this thread or task only: for work that happens in a
    simulated past (the demo's go-live afternoon), so every stamp it writes is the moment it stands for."""
    token = _FROZEN.set(as_utc(at))
    try:
        yield
    finally:
        _FROZEN.reset(token)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC already (that is how the database returns them)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: datetime, zone: ZoneInfo) -> datetime:
    return as_utc(value).astimezone(zone)
