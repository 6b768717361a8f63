"""What-if replay, the pure part (R4.7): route a stretch of history again under a policy.

Leads are decided in arrival order by ``engine.decide`` against the reps as they were at that moment
(a ``Roster``), with this replay's own counts:

* leads today, this week and high-value ones are what *this replay* gave the rep, per the rep's local
  day and ISO week;
* open leads are the roster's count, plus the leads the rep held when the range began that were still
  open at the moment, plus the leads this replay gave them until the moment each real lead closed;
* a lead nobody can take waits in the holding queue and is offered again, oldest first, the moment
  availability can have grown: a rep's working interval or local day begins, a recorded presence
  change, a new day of the roster. Leads still waiting when the range ends are reported as held.

Only the members of the lead's pool are handed to the engine: membership is the engine's first check,
non-members never count towards anything, and skipping them makes a 90-day replay several times faster.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from evenhand.routing.availability import DAYS, in_working_hours, local_time, membership
from evenhand.routing.engine import decide, select_pool
from evenhand.routing.fairness import Tally
from evenhand.routing.policy import CompiledPolicy
from evenhand.routing.values import Decision, Hours, LeadSnapshot, PoolState, RepState, Track, as_utc

FOREVER = datetime.max.replace(tzinfo=UTC)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Arrival:
    """A historical lead: when it arrived, what routing reads of it, and when the real lead closed (None: open)."""

    at: datetime
    lead: LeadSnapshot
    closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    """A rep's presence over time: ``initial`` until the first change, then each change's value from its moment."""

    initial: str
    times: tuple[datetime, ...] = ()
    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, initial: str, changes: Sequence[tuple[datetime, str]] = ()) -> Presence:
        ordered = sorted(((as_utc(at), value) for at, value in changes), key=lambda c: c[0])
        return cls(initial, tuple(at for at, _ in ordered), tuple(value for _, value in ordered))

    def at(self, moment: datetime) -> str:
        i = bisect_right(self.times, moment)
        return self.values[i - 1] if i else self.initial


@dataclass(frozen=True)
class Roster:
    """The reps as the replay sees them.

    ``days`` holds every rep once per local day of ``zone`` (standing, leave, grants, win record and quota
    attainment of that day); a moment outside the days given uses the nearest day. ``presence`` overrides
    a rep's recorded presence over time; ``carried`` lists, per rep, the closing moments of the leads they
    held when the range began (``FOREVER`` for leads still open).
    """

    zone: ZoneInfo
    days: Mapping[date, tuple[RepState, ...]]
    presence: Mapping[int, Presence] = field(default_factory=dict)
    carried: Mapping[int, tuple[datetime, ...]] = field(default_factory=dict)

    @cached_property
    def _keys(self) -> list[date]:
        return sorted(self.days)

    def day_of(self, moment: datetime) -> date:
        i = bisect_right(self._keys, moment.astimezone(self.zone).date())
        return self._keys[max(i - 1, 0)]

    def moments(self) -> tuple[datetime, ...]:
        """When the roster itself changes: each day's start and each recorded presence change."""
        starts = [as_utc(datetime.combine(day, time.min, tzinfo=self.zone)) for day in self.days]
        return tuple(sorted({*starts, *(at for p in self.presence.values() for at in p.times)}))


@dataclass(frozen=True, slots=True)
class Assignment:
    lead_id: int
    score: int
    rep_id: int
    track: Track
    waited: timedelta  # from arrival to assignment; zero when routed on arrival


@dataclass(frozen=True)
class Rerun:
    """One policy's replay: expected and actual shares (``tally``), every assignment, the leads still held."""

    tally: Tally
    assignments: tuple[Assignment, ...]
    held: tuple[int, ...]
    states: dict[str, PoolState]

    def owners(self) -> dict[int, int]:
        return {a.lead_id: a.rep_id for a in self.assignments}


def rerun(arrivals: Sequence[Arrival], roster: Roster, policy: CompiledPolicy, *,
          states: Mapping[str, PoolState] | None = None, until: datetime | None = None,
          progress: Progress | None = None) -> Rerun:
    """Route ``arrivals`` (sorted here by time, then lead id) through ``policy``; held leads are offered
    again at each opening up to ``until`` (exclusive; default the last arrival)."""
    run = _Replay(roster, policy, dict(states or {}))
    ordered = sorted(arrivals, key=lambda a: (as_utc(a.at), a.lead.id))
    step = max(len(ordered) // 100, 1)
    for i, arrival in enumerate(ordered, 1):
        at = as_utc(arrival.at)
        run.release(at, inclusive=True)
        run.take(arrival, at)
        if progress is not None and (i % step == 0 or i == len(ordered)):
            progress(i, len(ordered))
    if until is not None:
        run.release(as_utc(until), inclusive=False)
    return Rerun(run.tally, tuple(run.assignments), tuple(a.lead.id for a in run.held), run.states)


@dataclass
class _Load:
    """What this replay gave one rep: per local day and ISO week, and when each open one closes."""

    days: Counter[date] = field(default_factory=Counter)
    weeks: Counter[tuple[int, int]] = field(default_factory=Counter)
    high_days: Counter[date] = field(default_factory=Counter)
    high_weeks: Counter[tuple[int, int]] = field(default_factory=Counter)
    closing: list[datetime] = field(default_factory=list)  # a heap

    def add(self, day: date, high: bool, closes: datetime) -> None:
        week = _week(day)
        self.days[day] += 1
        self.weeks[week] += 1
        self.high_days[day] += high
        self.high_weeks[week] += high
        heapq.heappush(self.closing, closes)

    def open_at(self, moment: datetime) -> int:
        """Moments only move forward in a replay, so closed leads can be dropped for good."""
        while self.closing and self.closing[0] <= moment:
            heapq.heappop(self.closing)
        return len(self.closing)


class _Replay:
    def __init__(self, roster: Roster, policy: CompiledPolicy, states: dict[str, PoolState]) -> None:
        self.roster, self.policy, self.states = roster, policy, states
        self.tally = Tally()
        self.assignments: list[Assignment] = []
        self.held: list[Arrival] = []
        self.loads: dict[int, _Load] = {}
        self.members: dict[tuple[object, ...], list[RepState]] = {}
        self.moments = roster.moments()
        self.next_check: datetime | None = None

    def take(self, arrival: Arrival, at: datetime) -> None:
        if self.offer(arrival, at).outcome == "held":
            if self.next_check is None:
                self.next_check = self.opening_after(at)
            self.held.append(arrival)

    def release(self, limit: datetime, *, inclusive: bool) -> None:
        """Offer the held leads again at every opening up to ``limit`` at which anyone is around at all."""
        while self.held and self.next_check is not None and (
                self.next_check <= limit if inclusive else self.next_check < limit):
            moment = self.next_check
            if any(not self.idle(rep, self.presence(rep, moment), moment)
                   for rep in self.roster.days[self.roster.day_of(moment)]):
                waiting, self.held = self.held, []
                self.held = [arrival for arrival in waiting if self.offer(arrival, moment).outcome == "held"]
            self.next_check = self.opening_after(moment) if self.held else None

    def offer(self, arrival: Arrival, at: datetime) -> Decision:
        lead = arrival.lead
        match = select_pool(lead, self.policy)
        reps = [self.now(rep, at) for rep in self.pool_members(lead, match.pool_id, at)]
        state = self.states.get(match.pool_id) or PoolState(match.pool_id)
        decision = decide(lead, reps, self.policy, state, at, match=match)
        if decision.outcome == "assigned" and decision.rep_id is not None:
            self.states[match.pool_id] = decision.state_after
            self.record(decision, arrival, at, next(r for r in reps if r.id == decision.rep_id))
        return decision

    def pool_members(self, lead: LeadSnapshot, pool_id: str, at: datetime) -> list[RepState]:
        day = self.roster.day_of(at)
        pool = self.policy.pool(pool_id)
        key = (day, pool_id, *(getattr(lead, criterion) for criterion in pool.match_lead))
        found = self.members.get(key)
        if found is None:
            found = self.members[key] = [rep for rep in self.roster.days[day] if not membership(rep, lead, pool)]
        return found

    def now(self, rep: RepState, at: datetime) -> RepState:
        """The rep at ``at`` with this replay's counts; an idle rep (see ``idle``) keeps the roster's."""
        presence = self.presence(rep, at)
        if self.idle(rep, presence, at):
            return rep if self.idle(rep, rep.presence, at) else replace(rep, presence=presence)
        day = local_time(at, rep.timezone).date()
        load = self.loads.get(rep.id) or _Load()
        carried = self.roster.carried.get(rep.id, ())
        still_open = len(carried) - bisect_right(carried, at)
        week = _week(day)
        return replace(rep, presence=presence, open_leads=rep.open_leads + still_open + load.open_at(at),
                       leads_today=load.days[day], leads_this_week=load.weeks[week],
                       high_value_today=load.high_days[day], high_value_this_week=load.high_weeks[week])

    def presence(self, rep: RepState, at: datetime) -> str:
        found = self.roster.presence.get(rep.id)
        return found.at(at) if found is not None else rep.presence

    def idle(self, rep: RepState, presence: str, at: datetime) -> bool:
        """Offline, away (unless it counts) or outside working hours (when they count): the engine excludes
        the rep whatever their counts, so they are not worked out — most reps, most of the time."""
        rules = self.policy.policy.availability
        if presence not in ("online", "away") or (presence == "away" and not rules.away_counts):
            return True
        return rules.working_hours and not in_working_hours(rep.working_hours, local_time(at, rep.timezone))

    def record(self, decision: Decision, arrival: Arrival, at: datetime, rep: RepState) -> None:
        assert decision.rep_id is not None
        self.tally.add(decision)
        day = local_time(at, rep.timezone).date()
        closes = as_utc(arrival.closes_at) if arrival.closes_at is not None else FOREVER
        self.loads.setdefault(rep.id, _Load()).add(day, decision.track == "weighted", closes)
        self.assignments.append(Assignment(arrival.lead.id, arrival.lead.score, decision.rep_id, decision.track,
                                           at - as_utc(arrival.at)))

    def opening_after(self, moment: datetime) -> datetime:
        """The next moment at which someone may have become available (always later than ``moment``)."""
        found = [FOREVER]
        i = bisect_right(self.moments, moment)
        if i < len(self.moments):
            found.append(self.moments[i])
        groups = {(rep.timezone, _hours_key(rep.working_hours)) for rep in self.roster.days[self.roster.day_of(moment)]}
        found += [_next_start(zone, hours, moment) for zone, hours in groups]
        return min(found)


HoursKey = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def _hours_key(hours: Hours) -> HoursKey:
    return tuple(sorted((day, tuple((a, b) for a, b in spans)) for day, spans in hours.items()))


def _next_start(zone: str, hours: HoursKey, moment: datetime) -> datetime:
    """The rep's next local midnight or start of a working interval, whichever comes first."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    found = [datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=tz)]
    schedule = dict(hours)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        for start, _ in schedule.get(DAYS[day.weekday()], ()):
            at = datetime.combine(day, _clock(start), tzinfo=tz)
            if at > local:
                found.append(at)
    return as_utc(min(found))


@lru_cache(maxsize=256)
def _clock(hhmm: str) -> time:
    hours, _, minutes = hhmm.partition(":")
    return time(int(hours) % 24, int(minutes or 0))


def _week(day: date) -> tuple[int, int]:
    year, week, _ = day.isocalendar()
    return year, week


