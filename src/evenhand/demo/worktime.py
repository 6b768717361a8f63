"""Working time in Asia/Shanghai, vectorised over epoch seconds.

The simulation keeps every instant as int64 seconds since the epoch (UTC). Reps work 09:00–18:00
local time on weekdays that are not public holidays; "two working hours later" is computed on a
working-seconds axis so it carries over nights, weekends and holidays. Shanghai has no daylight
saving time, so local time is a fixed +8 h offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from evenhand.kit.clock import day_date
from evenhand.kit.clock import day_number as day_number

DAY = 86_400
HOUR = 3_600
OFFSET = 8 * HOUR
WORK_START = 9 * HOUR
WORK_LEN = 9 * HOUR

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

# Statutory holidays (no make-up working days: a simplification). Other years fall back to the
# fixed-date holidays only.
_RANGES: dict[int, tuple[tuple[str, str], ...]] = {
    2024: (("02-10", "02-17"), ("04-04", "04-06"), ("06-10", "06-10"), ("09-15", "09-17")),
    2025: (("01-28", "02-04"), ("04-04", "04-06"), ("05-31", "06-02"), ("10-08", "10-08")),
    2026: (("02-15", "02-23"), ("04-04", "04-06"), ("06-19", "06-21"), ("09-25", "09-27")),
    2027: (("02-05", "02-12"), ("04-03", "04-05"), ("06-09", "06-11"), ("09-15", "09-17")),
}
_FIXED = (("01-01", "01-01"), ("05-01", "05-05"), ("10-01", "10-07"))


def holidays(first_year: int, last_year: int) -> list[date]:
    days: list[date] = []
    for year in range(first_year, last_year + 1):
        for start, end in _FIXED + _RANGES.get(year, ()):
            day, stop = date.fromisoformat(f"{year}-{start}"), date.fromisoformat(f"{year}-{end}")
            while day <= stop:
                days.append(day)
                day += timedelta(days=1)
    return days


def local_ts(day: date, seconds_of_day: float = 0) -> int:
    """The instant at ``seconds_of_day`` local time on ``day``."""
    return day_number(day) * DAY - OFFSET + int(seconds_of_day)


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


def local_date(ts: int) -> date:
    return day_date((int(ts) + OFFSET) // DAY)


@dataclass(frozen=True)
class WorkCalendar:
    first_day: int
    working: NDArray[np.bool_]
    cum: I64  # working seconds before each day; one longer than ``working``

    @classmethod
    def build(cls, first: date, last: date, off_days: Iterable[date] = ()) -> WorkCalendar:
        n = (last - first).days + 1
        numbers = day_number(first) + np.arange(n)
        working = (numbers + 3) % 7 < 5  # 1970-01-01 was a Thursday
        off = np.array([day_number(d) for d in off_days], dtype=np.int64)
        working &= ~np.isin(numbers, off)
        cum = np.concatenate([[0], np.cumsum(working * WORK_LEN)]).astype(np.int64)
        return cls(day_number(first), working, cum)

    def day_index(self, ts: I64) -> I64:
        idx = (np.asarray(ts, dtype=np.int64) + OFFSET) // DAY - self.first_day
        return np.clip(idx, 0, len(self.working) - 1)

    def is_working_day(self, ts: I64) -> NDArray[np.bool_]:
        return self.working[self.day_index(ts)]

    def work_at(self, ts: I64) -> I64:
        """Working seconds elapsed on the calendar up to ``ts``."""
        ts = np.asarray(ts, dtype=np.int64)
        idx = self.day_index(ts)
        within = np.clip((ts + OFFSET) % DAY - WORK_START, 0, WORK_LEN) * self.working[idx]
        return self.cum[idx] + within

    def at_work(self, work: I64) -> I64:
        """The instant at which ``work`` working seconds have elapsed (inverse of :meth:`work_at`)."""
        work = np.asarray(work, dtype=np.int64)
        idx = np.clip(np.searchsorted(self.cum, work, side="right") - 1, 0, len(self.working) - 1)
        return (self.first_day + idx) * DAY - OFFSET + WORK_START + (work - self.cum[idx])

    def add(self, ts: I64, seconds: I64 | F64) -> I64:
        """``seconds`` of working time after ``ts`` (from the next opening if ``ts`` is off hours)."""
        return self.at_work(self.work_at(ts) + np.asarray(seconds).astype(np.int64))

    def next_open(self, ts: I64) -> I64:
        """``ts`` itself during working hours, else the next opening."""
        return self.add(ts, np.zeros(np.shape(ts), dtype=np.int64))

    def day_start(self, ts: I64) -> I64:
        """Local midnight of the day containing ``ts``."""
        ts = np.asarray(ts, dtype=np.int64)
        return (ts + OFFSET) // DAY * DAY - OFFSET
