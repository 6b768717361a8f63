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
  day (``roll_past_days_off``). A deadline in working days ends at midnight after the N-th working day following
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
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from evenhand.i18n import N_
from evenhand.standards.document import Action, CompiledStage, Requirement, Within

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OPS: dict[str, Callable[[int, int], bool]] = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
                                               "==": lambda a, b: a == b, "<=": lambda a, b: a <= b,
                                               "<": lambda a, b: a < b}


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
    """A rep's working days: weekdays with working hours, less company holidays and days of leave, in their zone."""

    zone: ZoneInfo
    weekdays: frozenset[int] = frozenset(range(5))
    days_off: frozenset[date] = frozenset()

    def working(self, day: date) -> bool:
        if not self.weekdays:  # nobody works no day at all: a calendar without hours counts every day
            return day not in self.days_off
        return day.weekday() in self.weekdays and day not in self.days_off


def calendar_of(timezone: str, working_hours: Mapping[str, Any] | None, days_off: Iterable[date] = ()) -> WorkCalendar:
    hours = working_hours or {}
    weekdays = frozenset(i for i, day in enumerate(DAYS) if hours.get(day)) if hours else frozenset(range(5))
    return WorkCalendar(ZoneInfo(timezone), weekdays, frozenset(days_off))


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
    on_time = _match(requirements, [a for a in counted if a.at <= due], {})
    after = _match(requirements, [a for a in counted if a.at > due or a not in on_time.values()], on_time)
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


def _match(requirements: Sequence[Requirement], acts: Sequence[Act], fixed: Mapping[int, Act]) -> dict[int, Act]:
    """Requirements (by index) to distinct activities, ``fixed`` kept as it is: each activity in turn takes a
    requirement it fits, moving an earlier activity to another requirement when that frees one (Kuhn's
    augmenting paths), so a requirement once met stays met and the most requirements are met."""
    pairs: dict[int, Act] = {}
    free = [i for i in range(len(requirements)) if i not in fixed]
    for act in acts:
        if len(pairs) == len(free):
            break
        _augment(act, requirements, free, pairs, set())
    return {**fixed, **pairs}


def _augment(act: Act, requirements: Sequence[Requirement], free: Sequence[int], pairs: dict[int, Act],
             seen: set[int]) -> bool:
    for i in free:
        if i in seen or not any(fits(action, act) for action in requirements[i].actions):
            continue
        seen.add(i)
        if i not in pairs or _augment(pairs[i], requirements, free, pairs, seen):
            pairs[i] = act
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
