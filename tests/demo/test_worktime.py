"""Working-time arithmetic of the simulation: 09:00–18:00 Shanghai, weekdays, statutory holidays."""

from __future__ import annotations

from datetime import date

import numpy as np

from evenhand.demo.worktime import HOUR, WorkCalendar, holidays, local_ts

CAL = WorkCalendar.build(date(2026, 9, 1), date(2026, 10, 31), holidays(2026, 2026))


def at(day: date, hour: float) -> int:
    return local_ts(day, hour * HOUR)


def one(values: np.ndarray) -> int:
    return int(values[0])


def test_time_inside_working_hours_is_left_alone() -> None:
    assert one(CAL.next_open(np.array([at(date(2026, 9, 2), 10.5)]))) == at(date(2026, 9, 2), 10.5)


def test_evening_moves_to_next_morning() -> None:
    assert one(CAL.next_open(np.array([at(date(2026, 9, 2), 20)]))) == at(date(2026, 9, 3), 9)


def test_friday_evening_moves_to_monday() -> None:
    assert one(CAL.next_open(np.array([at(date(2026, 9, 4), 18.5)]))) == at(date(2026, 9, 7), 9)


def test_adding_working_time_carries_over_the_night() -> None:
    start = np.array([at(date(2026, 9, 2), 17)])
    assert one(CAL.add(start, np.array([2 * HOUR]))) == at(date(2026, 9, 3), 10)


def test_national_day_is_not_worked() -> None:
    start = np.array([at(date(2026, 9, 30), 17.5)])
    assert one(CAL.add(start, np.array([HOUR]))) == at(date(2026, 10, 8), 9.5)


def test_working_seconds_round_trip() -> None:
    ts = np.array([at(date(2026, 9, d), h) for d in (1, 2, 3) for h in (9.25, 12, 17.75)])
    assert np.array_equal(CAL.at_work(CAL.work_at(ts)), ts)
