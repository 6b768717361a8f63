"""Time helpers: evenhand stores UTC and shows the organisation's zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
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


_FIRST_DAY = date(1970, 1, 1)


def day_number(day: date) -> int:
    """A day as the days since 1970-01-01: what the vectorised calendars (numpy) count in."""
    return (day - _FIRST_DAY).days


def day_date(number: int) -> date:
    return _FIRST_DAY + timedelta(days=int(number))
