"""Whether a stage's standard was met: the pure core, on a timeline of activities and the moment the clock started.

The rules (docs/standards.md says them for people):

- The clock starts at the lead's assignment to its current owner (first contact) or the deal's entry into the
  stage. Activities before it do not count, nor those after the stage was left (or the lead closed) or after now.
- First contact counts only the owner's own activities (``rep_id``); a deal's stage counts anyone's work on the
  deal (a colleague's visit serves the stage), and the entry is the current owner's in the figures.
- Every requirement is met by an activity of its own (``all_of: [call, {type: call, answered: true}]`` asks
  for two calls). Activities are taken in time order and may be moved between requirements when that lets one
  more requirement be met, so the earliest set of activities that meets the most requirements is chosen.
- An hour deadline is counted in calendar hours; one that lands on the rep's day off (a weekday without working
  hours, a company holiday, a day of leave, in the rep's zone) moves to the same local time on their next working
  day (``roll_past_days_off``). A company's make-up working day (调休) is worked by every rep not on leave, whatever
  their weekly hours. A deadline in working days ends at midnight after the N-th working day following
  the day the clock started, in the rep's zone and calendar.
- The deadline is inclusive. Status: ``met`` (every requirement met by the deadline), ``late`` (met after it,
  before the stage was left), ``open`` (not yet, deadline ahead), ``overdue`` (deadline passed, still in the
  stage), ``missed`` (the stage was left, or the lead closed, with requirements missing). Open entries are not
  yet judged and stay out of the share met on time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from evenhand.i18n import N_
from evenhand.kit.clock import day_number
from evenhand.standards.document import ACTIONS, DIRECTIONS, SOURCES, STAGES, Action, CompiledStage, Requirement, Within

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OPS: dict[str, Callable[[int, int], bool]] = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
                                               "==": lambda a, b: a == b, "<=": lambda a, b: a <= b,
                                               "<": lambda a, b: a < b}
T = TypeVar("T")


class Status(enum.StrEnum):
    MET = "met"
    LATE = "late"
    OPEN = "open"
    OVERDUE = "overdue"
    MISSED = "missed"


STATUS_LABELS = {Status.MET: N_("Met on time"), Status.LATE: N_("Met late"), Status.OPEN: N_("Open"),
                 Status.OVERDUE: N_("Overdue"), Status.MISSED: N_("Missed")}


@dataclass(frozen=True, slots=True)
class Act:
    """One captured activity as the standards read it (times aware, UTC)."""

    id: int
    type: str
    at: datetime
    rep_id: int
    direction: str = "outbound"
    source: str = "crm"
    duration: int | None = None
    answered: bool | None = None
    replied: bool | None = None
    attachments: int = 0
    messages: int | None = None


@dataclass(frozen=True)
class WorkCalendar:
    """A rep's working days: weekdays with working hours, less company holidays and days of leave, and the company's
    make-up working days (调休) besides, unless on leave, in their zone."""

    zone: ZoneInfo
    weekdays: frozenset[int] = frozenset(range(5))
    days_off: frozenset[date] = frozenset()
    days_on: frozenset[date] = frozenset()

    def working(self, day: date) -> bool:
        if day in self.days_off:
            return False
        # nobody works no day at all: a calendar without hours counts every day
        return day in self.days_on or not self.weekdays or day.weekday() in self.weekdays


def weekdays_worked(working_hours: Mapping[str, Any] | None) -> frozenset[int]:
    """The weekdays (0 = Monday) with hours in these weekly working hours; Monday to Friday when none are set. Empty
    when the hours give no day any: such a calendar counts every day (``WorkCalendar.working``)."""
    hours = working_hours or {}
    return frozenset(i for i, day in enumerate(DAYS) if hours.get(day)) if hours else frozenset(range(5))


def calendar_of(timezone: str, working_hours: Mapping[str, Any] | None, days_off: Iterable[date] = (),
                days_on: Iterable[date] = ()) -> WorkCalendar:
    return WorkCalendar(ZoneInfo(timezone), weekdays_worked(working_hours), frozenset(days_off), frozenset(days_on))


def deadline(start: datetime, within: Within, calendar: WorkCalendar, *, roll: bool = True) -> datetime:
    """When a clock started at ``start`` runs out (see the module's rules)."""
    if within.working:
        day, left = start.astimezone(calendar.zone).date(), within.amount
        while left:
            day += timedelta(days=1)
            left -= calendar.working(day)
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=calendar.zone).astimezone(start.tzinfo)
    end = (start + timedelta(hours=within.hours)).astimezone(calendar.zone)
    for _ in range(366):
        if not roll or calendar.working(end.date()):
            break
        end = datetime.combine(end.date() + timedelta(days=1), end.timetz().replace(tzinfo=None), tzinfo=calendar.zone)
    return end.astimezone(start.tzinfo)


def fits(action: Action, act: Act) -> bool:
    """Whether the activity is the kind the action asks for and meets every condition it states."""
    if act.type != action.type or (action.direction is not None and act.direction != action.direction):
        return False
    if (action.answered is not None and bool(act.answered) != action.answered) or (
            action.replied is not None and bool(act.replied) != action.replied):
        return False
    if action.min_duration is not None and (act.duration or 0) < action.min_duration:
        return False
    if action.attachments is not None and not _OPS[action.attachments[0]](act.attachments, action.attachments[1]):
        return False
    if action.min_messages is not None and (act.messages or 1) < action.min_messages:
        return False
    return action.sources is None or act.source in action.sources


@dataclass(frozen=True)
class Line:
    """One requirement's outcome: the activity that met it (None: missing) and whether that was by the deadline."""

    requirement: Requirement
    activity: Act | None
    on_time: bool


@dataclass(frozen=True)
class StageResult:
    stage: str
    start: datetime
    deadline: datetime
    ended: datetime | None  # when the stage was left (the lead closed), if it was
    status: Status
    lines: tuple[Line, ...]

    @property
    def judged(self) -> bool:
        return self.status is not Status.OPEN

    @property
    def done_at(self) -> datetime | None:
        """When the last requirement was met, once every one is."""
        if any(line.activity is None for line in self.lines):
            return None
        return max((line.activity.at for line in self.lines if line.activity), default=self.start)


def evaluate(stage: CompiledStage, start: datetime, acts: Sequence[Act], calendar: WorkCalendar, *, now: datetime,
             ended: datetime | None = None, rep_id: int | None = None, roll: bool = True) -> StageResult:
    """The standard of ``stage`` against ``acts`` (any order) for a clock started at ``start``."""
    due = deadline(start, stage.within, calendar, roll=roll)
    limit = min(now, ended) if ended is not None else now
    counted = sorted((a for a in acts if start <= a.at <= limit and (rep_id is None or a.rep_id == rep_id)),
                     key=lambda a: (a.at, a.id))
    requirements = stage.requirements

    def fit(i: int, act: Act) -> bool:
        return any(fits(action, act) for action in requirements[i].actions)
    on_time = _match(len(requirements), [a for a in counted if a.at <= due], fit, {})
    after = _match(len(requirements), [a for a in counted if a.at > due or a not in on_time.values()], fit, on_time)
    lines = tuple(Line(r, on_time.get(i) or after.get(i), i in on_time) for i, r in enumerate(requirements))
    return StageResult(stage.stage, start, due, ended, _status(lines, due, now, ended), lines)


def _status(lines: Sequence[Line], due: datetime, now: datetime, ended: datetime | None) -> Status:
    if all(line.on_time for line in lines):
        return Status.MET
    if all(line.activity is not None for line in lines):
        return Status.LATE
    if ended is not None and ended <= now:
        return Status.MISSED
    return Status.OVERDUE if now > due else Status.OPEN


def _match(count: int, items: Sequence[T], fit: Callable[[int, T], bool], fixed: Mapping[int, T]) -> dict[int, T]:
    """Requirements (by index, ``count`` of them) to distinct items, ``fixed`` kept as it is: each item in turn takes
    a requirement it fits, moving an earlier item to another requirement when that frees one (Kuhn's augmenting
    paths), so a requirement once met stays met and the most requirements are met. The one-row and the bulk path
    both match here; only how they tell a fit differs."""
    pairs: dict[int, T] = {}
    free = [i for i in range(count) if i not in fixed]
    for item in items:
        if len(pairs) == len(free):
            break
        _augment(item, fit, free, pairs, set())
    return {**fixed, **pairs}


def _augment(item: T, fit: Callable[[int, T], bool], free: Sequence[int], pairs: dict[int, T], seen: set[int]) -> bool:
    for i in free:
        if i in seen or not fit(i, item):
            continue
        seen.add(i)
        if i not in pairs or _augment(pairs[i], fit, free, pairs, seen):
            pairs[i] = item
            return True
    return False


@dataclass
class Tally:
    """Entries (first contacts or stage entries) by status; the share met on time is of those judged."""

    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))

    def add(self, result: StageResult) -> None:
        self.counts[result.status] += 1

    @property
    def entries(self) -> int:
        return sum(self.counts.values())

    @property
    def judged(self) -> int:
        return self.entries - self.counts[Status.OPEN]

    @property
    def share(self) -> float | None:
        return self.counts[Status.MET] / self.judged if self.judged else None

    def as_dict(self) -> dict[str, Any]:
        share = self.share
        return {"entries": self.entries, "judged": self.judged, **{s.value: n for s, n in self.counts.items()},
                "share_on_time": round(share, 4) if share is not None else None}


# --- many clocks at once: the bulk path ---------------------------------------------------------------------------
# The figures of a period judge thousands of clocks over tens of thousands of activities. They read columns (epoch
# microseconds, enums as codes) and judge them here with numpy: which requirements each activity fits, once per
# stage; the activities on each clock's timeline as (clock, activity) pairs; then, where no activity fits two
# requirements, who met what is a bitwise OR per clock. A clock with such an activity is matched by ``_match`` itself,
# so a status is exactly the one ``evaluate`` gives (tests/standards/test_bulk.py holds them equal).

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NONE = -1  # a missing id, time, flag or count in the columns below
STATUSES = tuple(Status)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // _MICRO


def moment(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class ActColumns:
    """Activities as columns: times in epoch microseconds, a type, direction and source by its index in ``ACTIONS``,
    ``DIRECTIONS``, ``SOURCES``, a flag 0/1; ``NONE`` where the row has no value (no lead, no duration)."""

    id: np.ndarray
    type: np.ndarray
    at: np.ndarray
    rep: np.ndarray
    direction: np.ndarray
    source: np.ndarray
    duration: np.ndarray
    answered: np.ndarray
    replied: np.ndarray
    attachments: np.ndarray
    messages: np.ndarray
    lead: np.ndarray
    deal: np.ndarray

    @classmethod
    def of(cls, table: np.ndarray) -> ActColumns:
        """From a table of 13 integer columns in the order of the fields."""
        return cls(*(table[:, i] for i in range(13)))

    def act(self, i: int) -> Act:
        """Row ``i`` as the one-row path reads it."""
        def maybe(column: np.ndarray) -> int | None:
            return None if column[i] == NONE else int(column[i])
        def named(values: Sequence[str], column: np.ndarray) -> str:
            return values[column[i]] if 0 <= column[i] < len(values) else "?"  # another value: fits no action
        answered, replied = maybe(self.answered), maybe(self.replied)
        return Act(id=int(self.id[i]), type=named(ACTIONS, self.type), at=moment(int(self.at[i])),
                   rep_id=int(self.rep[i]), direction=named(DIRECTIONS, self.direction),
                   source=named(SOURCES, self.source),
                   duration=maybe(self.duration), answered=None if answered is None else bool(answered),
                   replied=None if replied is None else bool(replied), attachments=int(self.attachments[i]),
                   messages=maybe(self.messages))


@dataclass(frozen=True)
class ClockColumns:
    """First contacts and stage entries as columns: the stage by its index in ``STAGES`` (0: a lead's first contact,
    else a deal's stage), the lead and the deal (``NONE``: none), the rep whose calendar counts (the current owner),
    when the clock started and when the stage was left or the lead closed (``NONE``: not yet), in microseconds."""

    stage: np.ndarray
    lead: np.ndarray
    deal: np.ndarray
    rep: np.ndarray
    start: np.ndarray
    ended: np.ndarray

    def __len__(self) -> int:
        return len(self.stage)

    def columns(self) -> tuple[np.ndarray, ...]:
        return self.stage, self.lead, self.deal, self.rep, self.start, self.ended

    def take(self, keep: np.ndarray) -> ClockColumns:
        return ClockColumns(*(column[keep] for column in self.columns()))

    @classmethod
    def joined(cls, *parts: ClockColumns) -> ClockColumns:
        return cls(*(np.concatenate(columns) for columns in zip(*(p.columns() for p in parts), strict=True)))


def fits_many(action: Action, acts: ActColumns) -> np.ndarray:
    """``fits`` for every activity at once (a missing duration counts as 0, a missing message count as 1)."""
    ok = acts.type == ACTIONS.index(action.type)
    if action.direction is not None:
        ok &= acts.direction == DIRECTIONS.index(action.direction)
    for wanted, column in ((action.answered, acts.answered), (action.replied, acts.replied)):
        if wanted is not None:
            ok &= (column == 1) == wanted
    if action.min_duration is not None:
        ok &= np.where(acts.duration == NONE, 0, acts.duration) >= action.min_duration
    if action.attachments is not None:
        ok &= _OPS[action.attachments[0]](acts.attachments, action.attachments[1])  # type: ignore[arg-type]
    if action.min_messages is not None:
        ok &= np.where((acts.messages == NONE) | (acts.messages == 0), 1, acts.messages) >= action.min_messages
    if action.sources is not None:
        ok &= np.isin(acts.source, [SOURCES.index(s) for s in action.sources])
    return ok


def requirement_bits(stage: CompiledStage, acts: ActColumns) -> np.ndarray:
    """Per activity, the requirements of ``stage`` it fits, a bit each (requirement 0 the lowest)."""
    bits = np.zeros(len(acts.id), np.int64)
    for i, requirement in enumerate(stage.requirements):
        fitting = np.zeros(len(acts.id), bool)
        for action in requirement.actions:
            fitting |= fits_many(action, acts)
        bits |= fitting.astype(np.int64) << i
    return bits


def judge_many(stages: Mapping[str, CompiledStage], clocks: ClockColumns, acts: ActColumns,
               calendars: Mapping[int, WorkCalendar], *, now: datetime, roll: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each clock's status (its index in ``STATUSES``; ``NONE`` for a stage without a standard) and deadline
    (microseconds), as ``evaluate`` would judge it on its timeline: a lead's own activities (any deal's too) by its
    owner for a first contact; a deal's, and its lead's linked to no deal, by anyone for a stage entry."""
    standard = [stages.get(name) for name in STAGES]
    due = deadlines(standard, clocks, calendars, roll=roll)
    clock, act, bits = _pairs(standard, clocks, acts, now=micros(now))
    on_time = acts.at[act] <= due[clock]
    every, timely = np.zeros(len(clocks), np.int64), np.zeros(len(clocks), np.int64)
    np.bitwise_or.at(every, clock, bits)
    np.bitwise_or.at(timely, clock, np.where(on_time, bits, 0))
    shared = np.unique(clock[(bits & (bits - 1)) != 0])  # an activity fitting two requirements: match them
    if len(shared):
        timely[shared], every[shared] = _matched(standard, clocks, acts, shared, (clock, act, bits, due))
    size = np.array([len(s.requirements) if s else 0 for s in standard])[clocks.stage]
    full = (np.int64(1) << size) - 1
    return _statuses(clocks, size, full == timely, full == every, due, micros(now)), due


def deadlines(standard: Sequence[CompiledStage | None], clocks: ClockColumns, calendars: Mapping[int, WorkCalendar],
              *, roll: bool) -> np.ndarray:
    """Each clock's deadline in microseconds, as ``deadline`` gives it (``NONE`` for a stage without a standard):
    by numpy, a stage at a time, for the clocks of reps whose zone keeps one offset over the days concerned (no
    daylight saving then); one by one for the others."""
    out = np.full(len(clocks), NONE, np.int64)
    judged = np.array([s is not None for s in standard])[clocks.stage]
    if not judged.any():
        return out
    reps = np.unique(clocks.rep[judged])
    reach = max(_reach(s.within, calendars.values()) for s in standard if s is not None)
    starts = clocks.start[judged]
    days = _Days(int(starts.min()) // DAY - 2, int(starts.max()) // DAY + reach + 2,
                 [calendars[r] for r in reps.tolist()])
    row = np.searchsorted(reps, clocks.rep)
    fixed = judged & days.fixed[np.minimum(row, len(reps) - 1)]
    for code, stage in enumerate(standard):
        if stage is None:
            continue
        mine = clocks.stage == code
        out[mine & fixed] = days.deadlines(clocks.start[mine & fixed], row[mine & fixed], stage.within, roll=roll)
        for i in np.flatnonzero(mine & judged & ~fixed).tolist():
            out[i] = micros(deadline(moment(int(clocks.start[i])), stage.within, calendars[int(clocks.rep[i])],
                                     roll=roll))
    return out


DAY = 86_400_000_000  # microseconds
_HOUR = 3_600_000_000
_ROLL_DAYS = 366  # ``deadline`` rolls an hour deadline past at most this many days off
_LONGEST = 800  # days: over a longer span a zone is not checked for one offset, and clocks are judged one by one


def _reach(within: Within, calendars: Iterable[WorkCalendar]) -> int:
    """How many days after a clock's start its deadline may fall, for any of these calendars."""
    if not within.working:
        return within.hours // 24 + _ROLL_DAYS + 2
    fewest = min((len(c.weekdays) or 7 for c in calendars), default=7)
    return (within.amount // fewest + 2) * 7 + max((len(c.days_off) for c in calendars), default=0) + 1


def _offset(zone: ZoneInfo, first: int, last: int) -> int | None:
    """The zone's one UTC offset (microseconds) over local days ``first``..``last``, or None when it changes
    (daylight saving) or the span is too long to check. Sampled every six hours: offsets hold for months."""
    if last - first > _LONGEST:
        return None
    found = {datetime.fromtimestamp(t, zone).utcoffset() for t in range((first - 1) * 86_400, (last + 2) * 86_400,
                                                                        21_600)}
    return found.pop() // _MICRO if len(found) == 1 else None  # type: ignore[operator]


class _Days:
    """Local days ``first``..``last`` (days since 1970-01-01) for some reps (rows): each one's zone offset, when it
    keeps one, and working days, counted and with the next working day from each."""

    def __init__(self, first: int, last: int, calendars: Sequence[WorkCalendar]) -> None:
        self.first = first
        zones: dict[ZoneInfo, int | None] = {}
        for zone in {c.zone for c in calendars}:
            zones[zone] = _offset(zone, first, last)
        found = [zones[c.zone] for c in calendars]
        self.fixed = np.array([o is not None for o in found], bool)
        self.offset = np.array([o or 0 for o in found], np.int64)
        days = np.arange(first, last + 1)
        work = np.array([((np.isin((days + 3) % 7, sorted(c.weekdays)) if c.weekdays else np.ones(len(days), bool))
                          | np.isin(days, _numbers(c.days_on))) & ~np.isin(days, _numbers(c.days_off))
                         for c in calendars])
        step = len(days) + 1  # rows' counts apart, so the flattened counts still rise
        self.counted = (np.cumsum(work, axis=1) + step * np.arange(len(calendars))[:, None]).ravel()
        self.width = len(days)
        later = np.where(work, np.arange(len(days)), len(days) + _ROLL_DAYS)
        self.next = np.minimum.accumulate(later[:, ::-1], axis=1)[:, ::-1]

    def deadlines(self, starts: np.ndarray, row: np.ndarray, within: Within, *, roll: bool) -> np.ndarray:
        """``deadline`` for clocks of reps with one offset: a local day is then a fixed stretch of UTC. An hour
        deadline moves to the next working day at the same local time; a working-day deadline ends at the midnight
        after the N-th working day following the start."""
        offset = self.offset[row]
        if within.working:
            start = row * self.width + (starts + offset) // DAY - self.first
            last = np.searchsorted(self.counted, self.counted[start] + within.amount, "left") - row * self.width
            return (self.first + last + 1) * DAY - offset
        end = starts + within.hours * _HOUR
        if not roll:
            return end
        index = (end + offset) // DAY - self.first
        return end + np.minimum(self.next[row, index] - index, _ROLL_DAYS) * DAY


def _numbers(days: Iterable[date]) -> list[int]:
    return [day_number(day) for day in days]


def _pairs(standard: Sequence[CompiledStage | None], clocks: ClockColumns, acts: ActColumns, *, now: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clock, activity, requirement bits) for every activity that counts on a clock and fits some requirement."""
    lead_clock = clocks.stage == 0
    joined = [_join(np.flatnonzero(lead_clock), clocks.lead, acts.lead, np.ones(len(acts.id), bool)),
              _join(np.flatnonzero(~lead_clock), clocks.deal, acts.deal, np.ones(len(acts.id), bool)),
              _join(np.flatnonzero(~lead_clock), clocks.lead, acts.lead, acts.deal == NONE)]
    clock = np.concatenate([c for c, _ in joined])
    act = np.concatenate([a for _, a in joined])
    limit = np.where(clocks.ended == NONE, now, np.minimum(clocks.ended, now))
    keep = (acts.at[act] >= clocks.start[clock]) & (acts.at[act] <= limit[clock])
    keep &= ~lead_clock[clock] | (acts.rep[act] == clocks.rep[clock])  # a first contact is the owner's own
    table = np.zeros((len(STAGES), len(acts.id)), np.int64)
    for code, stage in enumerate(standard):
        if stage is not None:
            table[code] = requirement_bits(stage, acts)
    bits = table[clocks.stage[clock], act]
    keep &= bits != 0
    return clock[keep], act[keep], bits[keep]


def _join(which: np.ndarray, keys: np.ndarray, act_keys: np.ndarray, eligible: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Every (clock, activity) among the clocks ``which`` whose key (a lead, a deal) the eligible activity has."""
    which = which[keys[which] != NONE]
    candidates = np.flatnonzero(eligible & (act_keys != NONE))
    order = candidates[np.argsort(act_keys[candidates], kind="stable")]
    ordered = act_keys[order]
    low, high = np.searchsorted(ordered, keys[which], "left"), np.searchsorted(ordered, keys[which], "right")
    counts = high - low
    starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
    return np.repeat(which, counts), order[np.arange(int(counts.sum())) + starts]


def _matched(standard: Sequence[CompiledStage | None], clocks: ClockColumns, acts: ActColumns, shared: np.ndarray,
             pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The requirements met on time and met at all (bits) of the clocks ``shared``, by ``_match`` over their
    activities in time order, as ``evaluate`` matches them."""
    clock, act, bits, due = pairs
    mine = np.isin(clock, shared)
    clock, act, bits = clock[mine], act[mine], bits[mine]
    order = np.lexsort((acts.id[act], acts.at[act], clock))
    clock, at, bits = clock[order].tolist(), acts.at[act[order]].tolist(), bits[order].tolist()
    timely, every, begin = [], [], 0
    for c in shared.tolist():
        end = begin
        while end < len(clock) and clock[end] == c:
            end += 1
        count = len(standard[int(clocks.stage[c])].requirements)  # type: ignore[union-attr]

        def fit(i: int, item: int) -> bool:
            return bool(bits[item] >> i & 1)
        on_time = _match(count, [k for k in range(begin, end) if at[k] <= due[c]], fit, {})
        used = set(on_time.values())
        after = _match(count, [k for k in range(begin, end) if at[k] > due[c] or k not in used], fit, on_time)
        timely.append(sum(1 << i for i in on_time))
        every.append(sum(1 << i for i in after))
        begin = end
    return np.array(timely, np.int64), np.array(every, np.int64)


def _statuses(clocks: ClockColumns, size: np.ndarray, met: np.ndarray, done: np.ndarray, due: np.ndarray,
              now: int) -> np.ndarray:
    """``_status`` for every clock at once."""
    left = (clocks.ended != NONE) & (clocks.ended <= now)
    status = np.where(now > due, STATUSES.index(Status.OVERDUE), STATUSES.index(Status.OPEN))
    status = np.where(left, STATUSES.index(Status.MISSED), status)
    status = np.where(done, STATUSES.index(Status.LATE), status)
    status = np.where(met, STATUSES.index(Status.MET), status)
    return np.where(size > 0, status, NONE)
