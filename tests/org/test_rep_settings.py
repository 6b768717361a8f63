"""The rep settings form's own reading of what was typed: the week's working hours and the time zone."""

from __future__ import annotations

from functools import partial

from evenhand.i18n import t
from evenhand.org.rep_settings import hours_text, known_zone, parse_hours

zh = partial(t, locale="zh-CN")


def test_a_typed_week_becomes_the_stored_schedule() -> None:
    week, wrong = parse_hours({"mon": "09:00-12:00, 13:00-18:00", "tue": " 09:00 – 18:00 ", "fri": "22:00-06:00",
                               "sat": "00:00-00:00", "wed": "09:00-12:00，13:00-17:00"}, zh)
    assert wrong is None
    assert week == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "18:00"]],
                    "wed": [["09:00", "12:00"], ["13:00", "17:00"]], "thu": [], "fri": [["22:00", "06:00"]],
                    "sat": [["00:00", "00:00"]], "sun": []}
    assert hours_text(week["mon"]) == "09:00-12:00, 13:00-18:00"


def test_every_day_empty_keeps_no_schedule() -> None:
    assert parse_hours({}, zh) == ({}, None)


def test_a_span_that_is_not_one_is_named_with_its_day() -> None:
    for typed in ("9-18", "09:00", "09:00-09:00", "25:00-26:00", "早上"):
        week, wrong = parse_hours({"thu": typed}, zh)
        assert week == {} and wrong is not None and wrong.startswith("周四") and typed in wrong


def test_time_zones_are_checked_by_name() -> None:
    assert known_zone("Asia/Shanghai") and known_zone("Europe/Berlin")
    assert not any(known_zone(name) for name in ("Mars/Base", "", None, "../etc/passwd", "UTC+8"))
