"""The pure core on hand-built timelines: deadlines in the rep's zone and calendar, which activities count, and
each status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from evenhand.standards.compliance import Act, Status, Tally, WorkCalendar, calendar_of, deadline, evaluate
from evenhand.standards.document import compile, parse

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = calendar_of("Asia/Shanghai", {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
DOC = compile(parse("""
name: test
stages:
  first_contact:
    within: 48h
    all_of: [call, email, note]
  qualification:
    within: 3 working days
    all_of: [call, {type: call, answered: true}]
  needs_analysis:
    within: 7d
    all_of:
      - any_of: [meeting, visit]
      - {type: email, attachments: ">=1"}
  proposal:
    within: 5 working days
    any_of: [meeting, visit]
"""))
FIRST, QUAL, NEEDS = DOC.stages["first_contact"], DOC.stages["qualification"], DOC.stages["needs_analysis"]


def sh(day: str, clock: str = "10:00") -> datetime:
    """A moment given in Shanghai local time, as the aware UTC the service passes."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SHANGHAI).astimezone(UTC)


def act(n: int, kind: str, at: datetime, rep: int = 1, **fields: object) -> Act:
    return Act(id=n, type=kind, at=at, rep_id=rep, **fields)  # type: ignore[arg-type]


# --- deadlines ----------------------------------------------------------------------------------------------------


def test_an_hour_deadline_on_a_weekday_is_calendar_hours() -> None:
    assert deadline(sh("2026-11-02"), FIRST.within, WEEKDAYS) == sh("2026-11-04")  # Monday → Wednesday 10:00


def test_an_hour_deadline_landing_on_a_weekend_moves_to_the_next_working_day_same_local_time() -> None:
    friday = sh("2026-11-06", "17:00")
    assert deadline(friday, FIRST.within, WEEKDAYS) == sh("2026-11-09", "17:00")  # Sunday 17:00 → Monday 17:00
    assert deadline(friday, FIRST.within, WEEKDAYS, roll=False) == sh("2026-11-08", "17:00")


def test_the_weekend_is_the_reps_own_in_their_zone() -> None:
    """Friday 20:00 in Berlin is Saturday 03:00 in Shanghai: 48 hours later is a Sunday in Shanghai but a
    Sunday evening in Berlin as well, and each rep's deadline moves by their own calendar."""
    start = datetime(2026, 11, 6, 19, 0, tzinfo=UTC)  # Fri 20:00 Berlin, Sat 03:00 Shanghai
    berlin = calendar_of("Europe/Berlin", {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
    assert deadline(start, FIRST.within, berlin) == datetime(2026, 11, 9, 19, 0, tzinfo=UTC)  # Mon 20:00 Berlin
    six_days = calendar_of("Asia/Shanghai", {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri",
                                                                             "sun")})
    assert deadline(start, FIRST.within, six_days) == start + timedelta(hours=48)  # Monday 03:00 Shanghai


def test_working_days_skip_weekends_holidays_and_leave_and_end_at_midnight() -> None:
    friday = sh("2026-11-06", "15:00")
    assert deadline(friday, QUAL.within, WEEKDAYS) == sh("2026-11-12", "00:00")  # Mon, Tue, Wed → Thu 00:00
    off = WorkCalendar(SHANGHAI, frozenset(range(5)), frozenset({date(2026, 11, 10)}))
    assert deadline(friday, QUAL.within, off) == sh("2026-11-13", "00:00")  # Tuesday off: Mon, Wed, Thu
    saturday = sh("2026-11-07", "11:00")
    assert deadline(saturday, QUAL.within, WEEKDAYS) == sh("2026-11-12", "00:00")


def test_a_make_up_working_day_is_worked_unless_on_leave() -> None:
    """National Day 2026 (1–7 October) with its make-up working days, Sunday 27 September and Saturday 10 October."""
    holidays = {date(2026, 10, 1) + timedelta(days=i) for i in range(7)}
    make_up = frozenset({date(2026, 9, 27), date(2026, 10, 10)})
    china = WorkCalendar(SHANGHAI, frozenset(range(5)), frozenset(holidays), make_up)
    friday = sh("2026-09-25", "15:00")
    # 3 working days: Sunday 27 (made up), Monday 28, Tuesday 29 → Wednesday 00:00
    assert deadline(friday, QUAL.within, china) == sh("2026-09-30", "00:00")
    # from Wednesday 30: the holidays, then Thursday 8, Friday 9, Saturday 10 (made up) → Sunday 00:00
    assert deadline(sh("2026-09-30", "15:00"), QUAL.within, china) == sh("2026-10-11", "00:00")
    without = WorkCalendar(SHANGHAI, frozenset(range(5)), frozenset(holidays))
    assert deadline(sh("2026-09-30", "15:00"), QUAL.within, without) == sh("2026-10-13", "00:00")
    # 48 hours from Thursday 17:00 end on Saturday 10 October 17:00, a working day: no roll
    assert deadline(sh("2026-10-08", "17:00"), FIRST.within, china) == sh("2026-10-10", "17:00")
    on_leave = WorkCalendar(SHANGHAI, frozenset(range(5)), frozenset({*holidays, date(2026, 10, 10)}), make_up)
    assert deadline(sh("2026-10-08", "17:00"), FIRST.within, on_leave) == sh("2026-10-12", "17:00")
    assert not on_leave.working(date(2026, 10, 10)) and china.working(date(2026, 9, 27))


def test_a_calendar_without_hours_counts_every_day() -> None:
    none = calendar_of("Asia/Shanghai", {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert deadline(sh("2026-11-06"), QUAL.within, none) == sh("2026-11-10", "00:00")


# --- which activities count ---------------------------------------------------------------------------------------


def test_first_contact_met_on_time_names_each_activity() -> None:
    start = sh("2026-11-02", "09:00")
    acts = [act(1, "call", start + timedelta(hours=1)), act(2, "email", start + timedelta(hours=2)),
            act(3, "note", start + timedelta(hours=3))]
    result = evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(days=5), rep_id=1)
    assert result.status is Status.MET
    assert [line.activity.id for line in result.lines if line.activity] == [1, 2, 3]
    assert result.done_at == start + timedelta(hours=3)


def test_an_activity_before_assignment_does_not_count() -> None:
    start = sh("2026-11-02", "09:00")
    acts = [act(1, "call", start - timedelta(minutes=1)), act(2, "email", start), act(3, "note", start)]
    result = evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(hours=1), rep_id=1)
    assert result.status is Status.OPEN
    assert [line.activity is None for line in result.lines] == [True, False, False]
    later = evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(days=3), rep_id=1)
    assert later.status is Status.OVERDUE


def test_first_contact_counts_only_the_owners_activities() -> None:
    """After a handover the clock restarts at the new assignment; the previous owner's call does not count."""
    start = sh("2026-11-02", "09:00")
    acts = [act(1, "call", start + timedelta(hours=1), rep=2), act(2, "email", start + timedelta(hours=2)),
            act(3, "note", start + timedelta(hours=3))]
    assert evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(days=3), rep_id=1).status is Status.OVERDUE
    assert evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(days=3)).status is Status.MET


def test_met_after_the_deadline_is_late() -> None:
    start = sh("2026-11-02", "09:00")
    acts = [act(1, "call", start), act(2, "email", start), act(3, "note", start + timedelta(hours=49))]
    result = evaluate(FIRST, start, acts, WEEKDAYS, now=start + timedelta(days=5), rep_id=1)
    assert result.status is Status.LATE
    assert [line.on_time for line in result.lines] == [True, True, False]


def test_a_stage_left_before_its_deadline_is_judged_when_it_was_left() -> None:
    start = sh("2026-11-02", "09:00")
    acts = [act(1, "meeting", start + timedelta(days=1)), act(2, "email", start + timedelta(days=3), attachments=1)]
    left = start + timedelta(days=2)
    missed = evaluate(NEEDS, start, acts, WEEKDAYS, now=start + timedelta(days=30), ended=left)
    assert missed.status is Status.MISSED
    assert [line.activity.id if line.activity else None for line in missed.lines] == [1, None]
    met = evaluate(NEEDS, start, acts, WEEKDAYS, now=start + timedelta(days=30), ended=start + timedelta(days=4))
    assert met.status is Status.MET


def test_conditions_must_all_hold() -> None:
    start = sh("2026-11-02", "09:00")
    plain = [act(1, "visit", start), act(2, "email", start, attachments=0)]
    assert evaluate(NEEDS, start, plain, WEEKDAYS, now=start + timedelta(days=1)).status is Status.OPEN
    attached = [*plain, act(3, "email", start + timedelta(hours=1), attachments=2)]
    assert evaluate(NEEDS, start, attached, WEEKDAYS, now=start + timedelta(days=1)).status is Status.MET


def test_each_requirement_takes_its_own_activity_and_activities_move_to_meet_more() -> None:
    """qualification asks for a call and an answered call: one answered call meets only one of them; an
    unanswered call arriving later takes the plain requirement and the answered one moves over."""
    start = sh("2026-11-02", "09:00")
    answered = act(1, "call", start + timedelta(hours=1), answered=True)
    one = evaluate(QUAL, start, [answered], WEEKDAYS, now=start + timedelta(hours=2))
    assert one.status is Status.OPEN and sum(line.activity is not None for line in one.lines) == 1
    both = evaluate(QUAL, start, [answered, act(2, "call", start + timedelta(hours=2), answered=False)], WEEKDAYS,
                    now=start + timedelta(hours=3))
    assert both.status is Status.MET
    assert {line.activity.id for line in both.lines if line.activity} == {1, 2}
    assert both.lines[1].activity == answered


@pytest.mark.parametrize(("spec", "fields", "fit"), [
    ("{type: call, min_duration: 2m}", {"duration": 119}, False),
    ("{type: call, min_duration: 2m}", {"duration": 120}, True),
    ("{type: email, direction: outbound}", {"direction": "inbound"}, False),
    ("{type: email, attachments: '==0'}", {"attachments": 0}, True),
    ("{type: message, min_messages: 3}", {"messages": 2}, False),
    ("{type: call, sources: [telephony]}", {"source": "wecom"}, False),
    ("{type: email, replied: true}", {"replied": None}, False),
])
def test_each_condition(spec: str, fields: dict[str, Any], fit: bool) -> None:
    stage = compile(parse(f"name: t\nstages:\n  proposal:\n    within: 1h\n    all_of: [{spec}]\n")).stages["proposal"]
    start = sh("2026-11-02")
    kind = stage.requirements[0].actions[0].type
    result = evaluate(stage, start, [act(1, kind, start, **fields)], WEEKDAYS, now=start + timedelta(minutes=5))
    assert (result.status is Status.MET) is fit


def test_tally_leaves_open_entries_out_of_the_share() -> None:
    start = sh("2026-11-02", "09:00")
    tally = Tally()
    for acts, now in (([act(1, "meeting", start)], start + timedelta(days=1)),
                      ([], start + timedelta(days=1)),
                      ([], start + timedelta(days=9))):
        tally.add(evaluate(DOC.stages["proposal"], start, acts, WEEKDAYS, now=now))
    assert tally.as_dict() == {"entries": 3, "judged": 2, "met": 1, "late": 0, "open": 1, "overdue": 1, "missed": 0,
                               "share_on_time": 0.5}
