"""Reading the standards document: the shipped default, shorthand forms, and problems with their path and line."""

from __future__ import annotations

from datetime import date

import pytest

from evenhand.standards.document import StandardsError, Within, compile, default_text, parse


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(StandardsError) as caught:
        parse(text)
    return [(p.path, p.line, p.type) for p in caught.value.problems]


def test_the_default_covers_first_contact_and_every_open_stage() -> None:
    standards = compile(parse(default_text()))
    assert list(standards.stages) == ["first_contact", "qualification", "needs_analysis", "proposal", "negotiation"]
    first = standards.stages["first_contact"]
    assert first.within == Within(48, False)
    assert [r.actions[0].type for r in first.requirements] == ["call", "email", "note"]
    needs = standards.stages["needs_analysis"].requirements
    assert [a.type for a in needs[0].actions] == ["meeting", "visit"]
    assert needs[1].actions[0].attachments == (">=", 1) and needs[1].actions[0].direction == "outbound"


@pytest.mark.parametrize(("written", "within"), [("48h", Within(48, False)), ("7d", Within(168, False)),
                                                ("3 working days", Within(3, True)), ("1 working day", Within(1, True)),
                                                ("2wd", Within(2, True))])
def test_deadlines(written: str, within: Within) -> None:
    text = f"name: t\nstages:\n  proposal:\n    within: {written}\n    any_of: [meeting]\n"
    assert compile(parse(text)).stages["proposal"].within == within


def test_an_unknown_stage_is_refused_at_its_line() -> None:
    text = "name: t\nstages:\n  proposal:\n    within: 1h\n    any_of: [meeting]\n  won:\n    within: 1h\n" \
           "    any_of: [call]\n"
    assert problems(text) == [("stages.won", 7, "unknown_stage")]


def test_every_problem_of_the_stages_is_listed_with_its_line() -> None:
    text = """name: t
stages:
  first_contact:
    within: soon
    all_of:
      - fax
      - {type: email, attachment: 1}
      - any_of: [visit, {type: call, min_duration: long}]
      - {type: email, attachments: "~1"}
  proposal:
    within: 1h
    all_of: [call]
    any_of: [call]
"""
    assert problems(text) == [
        ("stages.first_contact.within", 4, "bad_within"),
        ("stages.first_contact.all_of.0.type", 6, "unknown_action"),
        ("stages.first_contact.all_of.1.attachment", 7, "unknown_condition"),
        ("stages.first_contact.all_of.2.any_of.1.min_duration", 8, "bad_duration"),
        ("stages.first_contact.all_of.3.attachments", 9, "bad_count"),
        ("stages.proposal", 11, "one_group"),
    ]


def test_holidays_must_be_dates() -> None:
    text = "name: t\ncalendar:\n  holidays:\n    - 2026-10-01\n    - 十一\nstages: {}\n"
    assert problems(text) == [("calendar.holidays.1", 5, "bad_date")]


def test_a_make_up_working_day_is_a_date_and_no_holiday() -> None:
    text = "name: t\ncalendar:\n  workdays: [2026-10-10, 十月十日]\nstages: {}\n"
    assert problems(text) == [("calendar.workdays.1", 3, "bad_date")]
    text = ("name: t\ncalendar:\n  holidays: [2026-10-01, 2026-10-02]\n  workdays:\n    - 2026-09-27\n"
            "    - 2026-10-02\nstages: {}\n")
    assert problems(text) == [("calendar.workdays.1", 6, "holiday_and_workday")]
    assert compile(parse(text.replace("    - 2026-10-02\nstages", "    - 2026-10-10\nstages"))).workdays == {
        date(2026, 9, 27), date(2026, 10, 10)}
