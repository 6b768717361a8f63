"""The time frame of one demo build: the 12-month window, the snapshot instant and the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from evenhand.demo.worktime import HOUR, WorkCalendar, holidays, local_ts

WINDOW_DAYS = 365
LEGACY_DAYS = 430  # customers won before the window, whose renewals fall inside it
SNAPSHOT_HOUR = 17  # the data stops at 17:00 local time on the end date


@dataclass(frozen=True)
class Frame:
    start: date  # first day of the 12-month window
    end: date  # last day (inclusive)
    legacy_start: date
    now: int  # snapshot instant, epoch seconds
    start_ts: int
    cal: WorkCalendar
    scale: float

    @classmethod
    def build(cls, end: date, scale: float = 1.0) -> Frame:
        start = end - timedelta(days=WINDOW_DAYS - 1)
        legacy_start = start - timedelta(days=LEGACY_DAYS)
        last = end + timedelta(days=800)  # room for schedules that run past the snapshot
        off = holidays(legacy_start.year - 1, last.year)
        cal = WorkCalendar.build(legacy_start - timedelta(days=30), last, off)
        return cls(start, end, legacy_start, local_ts(end, SNAPSHOT_HOUR * HOUR), local_ts(start), cal, scale)

    def ts(self, day: date, hour: float = 0.0) -> int:
        return local_ts(day, hour * HOUR)
