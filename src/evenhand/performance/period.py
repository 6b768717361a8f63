"""A scoring period: a month (``2026-09``) or a quarter (``2026-Q3``), as dates in the organisation's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from evenhand.errors import Invalid
from evenhand.i18n import N_

# Years 2000-2099: a period and the ones around it are real dates, and no business is scored before or after.
PATTERN = re.compile(r"^(?P<year>20\d{2})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))$")


@dataclass(frozen=True, order=True)
class Period:
    """Starts on ``starts_on``, ends before ``ends_on``; ``months`` scales monthly targets (a quota)."""

    starts_on: date
    ends_on: date
    key: str

    @property
    def months(self) -> int:
        return (self.ends_on.year - self.starts_on.year) * 12 + self.ends_on.month - self.starts_on.month

    @property
    def is_quarter(self) -> bool:
        return self.months == 3

    def previous(self) -> Period:
        """The period of the same kind just before this one (the month before, the quarter before)."""
        month = self.starts_on.month - self.months
        year = self.starts_on.year + (month - 1) // 12
        return _make(year, (month - 1) % 12 + 1, self.months)

    def following(self) -> Period:
        month = self.starts_on.month + self.months
        return _make(self.starts_on.year + (month - 1) // 12, (month - 1) % 12 + 1, self.months)


def _make(year: int, month: int, months: int) -> Period:
    end_month = month + months
    ends = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    key = f"{year}-Q{(month - 1) // 3 + 1}" if months == 3 else f"{year}-{month:02d}"
    return Period(date(year, month, 1), ends, key)


def parse(text: str, *, field: str = "period") -> Period:
    """``2026-09`` (a month) or ``2026-Q3`` (a quarter); anything else is refused naming ``field``."""
    found = PATTERN.match(text.strip())
    if found is None:
        raise Invalid(N_("A period is a month like 2026-09 or a quarter like 2026-Q3, not {value}."),
                      field=field, value=text)
    year = int(found["year"])
    if found["quarter"]:
        return _make(year, (int(found["quarter"]) - 1) * 3 + 1, 3)
    return _make(year, int(found["month"]), 1)


def containing(day: date, *, quarter: bool = False) -> Period:
    """The month (or quarter) that ``day`` falls in."""
    if quarter:
        return _make(day.year, (day.month - 1) // 3 * 3 + 1, 3)
    return _make(day.year, day.month, 1)
