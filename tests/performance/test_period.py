"""Months and quarters."""

from __future__ import annotations

from datetime import date

import pytest

from evenhand.errors import Invalid
from evenhand.performance import period


def test_a_month_and_a_quarter() -> None:
    month, quarter = period.parse("2026-09"), period.parse(" 2026-Q4 ")
    assert (month.starts_on, month.ends_on, month.months, month.is_quarter) == (date(2026, 9, 1), date(2026, 10, 1),
                                                                                1, False)
    assert (quarter.starts_on, quarter.ends_on, quarter.months, quarter.key) == (date(2026, 10, 1), date(2027, 1, 1),
                                                                                 3, "2026-Q4")


def test_previous_and_following_cross_the_year() -> None:
    assert period.parse("2026-01").previous().key == "2025-12"
    assert period.parse("2026-12").following().key == "2027-01"
    assert period.parse("2026-Q1").previous().key == "2025-Q4"
    assert period.parse("2026-Q4").following().key == "2027-Q1"


def test_containing() -> None:
    assert period.containing(date(2026, 8, 31)).key == "2026-08"
    assert period.containing(date(2026, 8, 31), quarter=True).key == "2026-Q3"


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "2026-9", "26-09", "", "2026-Q0", "0000-01", "9999-12",
                                  "1999-Q4"])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        period.parse(text, field="period")
    assert caught.value.field == "period"
