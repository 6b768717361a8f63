"""The bulk path (``judge_many`` over columns) gives exactly the statuses and deadlines the one-row path
(``evaluate`` on each clock's timeline) gives: on hand-built edge cases and on seeded random timelines in zones with
and without daylight saving, calendars with leave and holidays, and requirements one activity can fit twice."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from evenhand.standards.compliance import (
    NONE,
    STATUSES,
    Act,
    ActColumns,
    ClockColumns,
    Status,
    WorkCalendar,
    calendar_of,
    evaluate,
    judge_many,
    micros,
)
from evenhand.standards.document import ACTIONS, DIRECTIONS, SOURCES, STAGES, CompiledStandards, compile, parse

WEEK = ("mon", "tue", "wed", "thu", "fri")


def hours(days: tuple[str, ...], *span: list[str]) -> dict[str, list[list[str]]]:
    return {day: list(span) for day in days}


DOC = compile(parse("""
name: bulk
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
    any_of: [meeting, visit, {type: call, answered: true, min_duration: 2m}]
  negotiation:
    within: 10h
    all_of:
      - {type: message, min_messages: 3, sources: [wecom, dingtalk]}
      - {type: call, direction: outbound, min_duration: 90s}
      - {type: email, replied: true, attachments: "<2"}
      - any_of: [call, {type: email, direction: inbound}]
"""))
CALENDARS = {
    1: calendar_of("Asia/Shanghai", hours(WEEK, ["09:00", "18:00"])),
    2: calendar_of("Europe/Berlin", hours(WEEK, ["09:00", "18:00"]), [date(2026, 10, 30)]),
    3: calendar_of("America/New_York", hours((*WEEK, "sat"), ["08:00", "12:00"])),
    4: calendar_of("Asia/Shanghai", hours(WEEK, ["09:00", "18:00"]),
                   [date(2026, 10, 1) + timedelta(days=i) for i in range(7)] + [date(2026, 11, 11)]),
    5: calendar_of("Asia/Shanghai", hours((*WEEK, "sat", "sun"))),  # no hours at all: every day
    # National Day with its make-up working days (a Sunday and a Saturday); on leave on the second
    6: calendar_of("Asia/Shanghai", hours(WEEK, ["09:00", "18:00"]),
                   [date(2026, 10, 1) + timedelta(days=i) for i in range(7)] + [date(2026, 10, 10)],
                   [date(2026, 9, 27), date(2026, 10, 10)]),
}


@dataclass(frozen=True)
class Clock:
    stage: str
    lead: int | None
    deal: int | None
    rep: int
    start: datetime
    ended: datetime | None = None


def sh(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


Linked = Sequence[tuple[Act, int | None, int | None]]  # an activity with its lead and deal


def one_by_one(clocks: Sequence[Clock], acts: Linked, standards: CompiledStandards, now: datetime, roll: bool
               ) -> list[tuple[str, int]]:
    """Each clock judged by ``evaluate`` on its own timeline, grouped here by hand as the service groups it."""
    out = []
    for c in clocks:
        stage = standards.stages[c.stage]
        if c.lead is not None and c.deal is None:
            timeline = [a for a, lead, _ in acts if lead == c.lead]
            result = evaluate(stage, c.start, timeline, CALENDARS[c.rep], now=now, ended=c.ended, rep_id=c.rep,
                              roll=roll)
        else:
            timeline = [a for a, lead, deal in acts if deal == c.deal or (deal is None and lead == c.lead is not None)]
            result = evaluate(stage, c.start, timeline, CALENDARS[c.rep], now=now, ended=c.ended, roll=roll)
        out.append((result.status.value, micros(result.deadline)))
    return out


def in_bulk(clocks: Sequence[Clock], acts: Linked, standards: CompiledStandards, now: datetime, roll: bool
            ) -> list[tuple[str, int]]:
    def n(value: int | None) -> int:
        return NONE if value is None else value
    clock_table = ClockColumns(*(np.array(column, np.int64) for column in zip(*(
        (STAGES.index(c.stage), n(c.lead), n(c.deal), c.rep, micros(c.start), micros(c.ended) if c.ended else NONE)
        for c in clocks), strict=True)))
    rows = [(a.id, ACTIONS.index(a.type), micros(a.at), a.rep_id, DIRECTIONS.index(a.direction),
             SOURCES.index(a.source), n(a.duration), n(None if a.answered is None else int(a.answered)),
             n(None if a.replied is None else int(a.replied)), a.attachments, n(a.messages), n(lead), n(deal))
            for a, lead, deal in acts]
    table = ActColumns.of(np.array(rows, np.int64).reshape(-1, 13))
    status, due = judge_many(standards.stages, clock_table, table, CALENDARS, now=now, roll=roll)
    return [(STATUSES[s].value, d) for s, d in zip(status.tolist(), due.tolist(), strict=True)]


def act(n: int, kind: str, at: datetime, rep: int = 1, **fields: object) -> Act:
    return Act(id=n, type=kind, at=at, rep_id=rep, **fields)  # type: ignore[arg-type]


def test_hand_built_edge_cases_agree() -> None:
    """A lead assigned Friday 17:00 (48 h land on Sunday, move to Monday; a call at Monday 17:00 is on time), an
    activity a minute before the assignment, a colleague's call on a first contact, a deal re-entering qualification
    (two clocks, the first ended by the move with one call of two), an answered call that fits both of
    qualification's requirements and gives one up to a later plain call, a deadline across Berlin's change to winter
    time, a working-day deadline over a rep's leave, a deal's activity linked to its lead only."""
    friday = sh("2026-11-06", "17:00")
    clocks = [Clock("first_contact", 10, None, 1, friday),
              Clock("qualification", 20, 200, 1, sh("2026-11-02"), sh("2026-11-04")),
              Clock("qualification", 20, 200, 1, sh("2026-11-09")),
              Clock("first_contact", 11, None, 2, datetime(2026, 10, 23, 15, 0, tzinfo=UTC)),
              Clock("proposal", 12, 201, 4, sh("2026-11-09", "23:30")),
              Clock("needs_analysis", None, 202, 3, sh("2026-11-01", "00:00"))]
    acts = [(act(1, "call", friday - timedelta(minutes=1)), 10, None),
            (act(2, "email", sh("2026-11-08", "20:00")), 10, None),
            (act(3, "note", sh("2026-11-09", "16:59")), 10, None),
            (act(4, "call", sh("2026-11-07"), rep=9), 10, None),
            (act(13, "call", sh("2026-11-09", "17:00")), 10, None),
            (act(5, "call", sh("2026-11-03"), answered=True), 20, 200),
            (act(6, "call", sh("2026-11-10"), answered=True), 20, None),
            (act(7, "call", sh("2026-11-10", "11:00")), 20, 200),
            (act(8, "call", datetime(2026, 10, 25, 14, 0, tzinfo=UTC), rep=2), 11, 300),
            (act(9, "email", datetime(2026, 10, 25, 14, 0, tzinfo=UTC), rep=2), 11, None),
            (act(10, "note", datetime(2026, 10, 25, 14, 0, 0, 1, tzinfo=UTC), rep=2), 11, None),
            (act(11, "visit", sh("2026-11-17", "23:00"), rep=7), 12, 201),
            (act(12, "email", sh("2026-11-04"), attachments=1), None, 202)]
    now = sh("2026-11-20")
    expected = one_by_one(clocks, acts, DOC, now, True)
    assert [s for s, _ in expected] == ["met", "missed", "met", "met", "met", "overdue"]
    assert in_bulk(clocks, acts, DOC, now, True) == expected
    assert in_bulk(clocks, acts, DOC, now, False) == one_by_one(clocks, acts, DOC, now, False)


def _random_company(seed: int) -> tuple[list[Clock], list[tuple[Act, int | None, int | None]]]:
    """Leads 1..40 (deals 101..130 on leads 1..30), clocks from late September to November across every zone,
    activities around them by the owner or a colleague, on the deal, on its lead only, or before the clock."""
    rng = random.Random(seed)
    base = datetime(2026, 9, 25, tzinfo=UTC)
    clocks: list[Clock] = []
    for lead in range(1, 41):
        clocks.append(Clock("first_contact", lead, None, rng.choice(list(CALENDARS)),
                            base + timedelta(minutes=rng.randrange(60 * 24 * 60)),
                            None if rng.random() < 0.6 else base + timedelta(days=rng.randrange(30, 70))))
    for deal in range(101, 131):
        at, rep = base + timedelta(minutes=rng.randrange(60 * 24 * 20)), rng.choice(list(CALENDARS))
        for _ in range(rng.randrange(1, 5)):  # stages entered in turn, sometimes one again
            moved = at + timedelta(minutes=rng.randrange(60, 60 * 24 * 12))
            ended = moved if rng.random() < 0.7 else None
            clocks.append(Clock(rng.choice(STAGES[1:]), deal - 100, deal, rep, at, ended))
            if ended is None:
                break
            at = moved
    acts: list[tuple[Act, int | None, int | None]] = []
    for n in range(1, 1500):
        lead = rng.randrange(1, 41)
        on = lead + 100 if lead <= 30 and rng.random() < 0.6 else None
        owner = next(c.rep for c in clocks if c.lead == lead)
        acts.append((Act(id=n, type=rng.choice(ACTIONS), at=base + timedelta(seconds=rng.randrange(86400 * 75),
                                                                             microseconds=rng.choice((0, 1, 500000))),
                         rep_id=owner if rng.random() < 0.7 else 9, direction=rng.choice(DIRECTIONS),
                         source=rng.choice(SOURCES), duration=rng.choice((None, 0, 60, 90, 120, 600)),
                         answered=rng.choice((None, True, False)), replied=rng.choice((None, True, False)),
                         attachments=rng.choice((0, 0, 1, 2, 3)), messages=rng.choice((None, 0, 1, 3, 8))),
                     None if on is not None and rng.random() < 0.2 else lead, on))
    return clocks, acts


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("roll", [True, False])
def test_seeded_timelines_agree(seed: int, roll: bool) -> None:
    clocks, acts = _random_company(seed)
    seen = set()
    for now in (datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 12, 15, 3, 0, 0, 500000, tzinfo=UTC)):
        expected = one_by_one(clocks, acts, DOC, now, roll)
        assert in_bulk(clocks, acts, DOC, now, roll) == expected
        seen |= {s for s, _ in expected}
    assert seen == {s.value for s in Status}  # every status is exercised


def test_a_stage_without_a_standard_is_left_out() -> None:
    doc = compile(parse("name: x\nstages:\n  proposal:\n    within: 1d\n    any_of: [call]\n"))
    clocks = [Clock("qualification", None, 1, 1, sh("2026-11-02")), Clock("proposal", None, 1, 1, sh("2026-11-03"))]
    status, due = judge_many(doc.stages, ClockColumns(*(np.array(c, np.int64) for c in (
        [1, 3], [NONE, NONE], [1, 1], [1, 1], [micros(c.start) for c in clocks], [NONE, NONE]))),
        ActColumns.of(np.zeros((0, 13), np.int64)), CALENDARS, now=sh("2026-11-20"))
    assert status.tolist() == [NONE, STATUSES.index(Status.OVERDUE)]
    assert due.tolist() == [NONE, micros(sh("2026-11-04"))]


def test_a_calendar_reads_days_off_in_its_zone() -> None:
    assert isinstance(CALENDARS[2], WorkCalendar) and date(2026, 10, 30) in CALENDARS[2].days_off
