"""The monthly fairness report (每月公示), computed from plain rows: no database, no web framework.

Per team and rep: leads received in the month, the rep's part of the team's high-quality leads, how many
of the month's leads became won deals, and the share the routing policy meant the rep to have beside the
share they got; per team a chi-square test of actual against expected, the Gini coefficient of lead value
(score) received, and the appeals filed.

Expected shares come from the recorded routing decisions (``routing.fairness.expected_share``). Leads
handed out without a decision — history from before evenhand routed anything — carry no record of who
was available, so each is measured against an equal share of the team's reps at work that day
(employed, not on leave; the rep who received it always counts). Such rows say so.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from evenhand.routing.fairness import ChiSquare, ShareRow, Tally, chi_square, gini
from evenhand.routing.values import Decision

Evidence = Literal["routing", "equal_share", "mixed", "none"]
APPEAL_STATUSES = ("open", "upheld", "rescored", "reassigned", "withdrawn")
SIGNIFICANCE = 0.05
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError otherwise."""
        found = _MONTH.fullmatch(text.strip())
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 2000:
            raise ValueError(text)
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.last.day)]

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The month in ``zone`` as a half-open range of aware datetimes."""
        return (datetime.combine(self.first, time.min, tzinfo=zone),
                datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=zone))

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)


# --- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone who can receive leads; ``sells`` marks reps (counted for an equal share), not supervisors."""

    id: int
    name: str
    username: str
    team_id: int | None
    level: str = "junior"
    sells: bool = True
    hired_on: date | None = None
    left_on: date | None = None
    leaves: tuple[tuple[date, date], ...] = ()

    def at_work(self, day: date) -> bool:
        """Employed that day and not on leave (inclusive dates)."""
        employed = (self.hired_on is None or self.hired_on <= day) and (self.left_on is None or day <= self.left_on)
        return employed and not any(start <= day <= end for start, end in self.leaves)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    department: str = ""
    supervisor_id: int | None = None


@dataclass(frozen=True)
class Unrouted:
    """A lead the rep received in the month without a routing decision; ``day`` is the local date."""

    lead_id: int
    rep_id: int
    day: date
    score: int


@dataclass(frozen=True)
class AppealRow:
    id: int
    team_id: int | None
    appellant_id: int
    lead_id: int
    status: str
    reason_code: str
    filed_at: datetime
    decided_at: datetime | None = None


@dataclass(frozen=True)
class PolicyNote:
    """The policy whose ``threshold_high_value`` defines a high-quality lead; ``version`` None is the shipped
    default, not yet saved."""

    name: str
    version: int | None
    threshold: int


@dataclass(frozen=True)
class MonthLeads:
    """How the leads that arrived in the month (company-wide) came to a rep: each is counted once, in the first
    of these that holds."""

    arrived: int = 0
    routed: int = 0  # given to a rep by evenhand's routing
    backfilled: int = 0  # imported as history: never routed, their rep came from the export
    held: int = 0  # routed but still waiting in the holding queue
    never_routed: int = 0  # arrived without a routing decision (imported before routing was on, or by hand)


@dataclass(frozen=True)
class Inputs:
    month: Month
    zone: str
    generated_at: datetime
    policy: PolicyNote
    teams: Sequence[TeamInfo]
    people: Sequence[Person]
    decisions: Sequence[Decision]  # assigned decisions made in the month
    unrouted: Sequence[Unrouted]
    won: frozenset[tuple[int, int]] = frozenset()  # (lead id, rep id) of won deals from the month's leads
    appeals: Sequence[AppealRow] = ()
    arrivals: MonthLeads = MonthLeads()


# --- outputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepLine:
    """One rep's line in the report; the API serves it as it is (the descriptions go into its schema)."""

    rep_id: int
    name: str
    username: str
    level: str
    leads: int
    high_value: int
    high_value_share: Annotated[float | None, Field(description="of the team's high-value leads")]
    won: int
    conversion_rate: float | None
    expected: Annotated[float, Field(description="leads the policy meant the rep to have (equal shares for "
                                                 "unrouted leads)")]
    expected_share: Annotated[float | None, Field(description="of the team's expected total")]
    actual_share: float | None
    value: Annotated[float, Field(description="sum of the scores of the leads received")]
    routed: int
    unrouted: int
    evidence: Annotated[Evidence, Field(description="routing | equal_share (no routing evidence) | mixed | none")]


@dataclass(frozen=True)
class AppealSummary:
    filed: int
    by_status: dict[str, int]
    median_hours_to_decision: float | None


@dataclass(frozen=True)
class TeamReport:
    id: int
    name: str
    department: str
    supervisor_id: int | None
    reps: tuple[RepLine, ...]
    leads: int
    high_value: int
    won: int
    routed: int
    unrouted: int
    evidence: Evidence
    chi_square: ChiSquare | None
    gini: float
    appeals: AppealSummary
    appeal_rows: tuple[AppealRow, ...]

    @property
    def verdict(self) -> Literal["too_few", "differs", "consistent"]:
        if self.chi_square is None:
            return "too_few"
        return "differs" if self.chi_square.p_value < SIGNIFICANCE else "consistent"


@dataclass(frozen=True)
class FairnessReport:
    month: Month
    zone: str
    generated_at: datetime
    policy: PolicyNote
    teams: tuple[TeamReport, ...]
    arrivals: MonthLeads = MonthLeads()


# --- computation -----------------------------------------------------------------------------------


@dataclass
class _Counts:
    """What each rep received in the month, beside the two tallies of expectation."""

    routed: Tally = field(default_factory=Tally)
    equal: Tally = field(default_factory=Tally)
    high: Counter[int] = field(default_factory=Counter)
    won: Counter[int] = field(default_factory=Counter)

    def received(self, rep: int) -> int:
        return self._actual(self.routed, rep) + self._actual(self.equal, rep)

    def expected(self, rep: int) -> float:
        return sum(t.rows[rep].expected for t in (self.routed, self.equal) if rep in t.rows)

    def value(self, rep: int) -> float:
        return sum(t.rows[rep].value for t in (self.routed, self.equal) if rep in t.rows)

    @staticmethod
    def _actual(tally: Tally, rep: int) -> int:
        row = tally.rows.get(rep)
        return row.actual if row else 0


def compute(inputs: Inputs) -> FairnessReport:
    people = {p.id: p for p in inputs.people}
    counts = _count(inputs, people)
    teams = tuple(_team(team, inputs, people, counts) for team in inputs.teams)
    return FairnessReport(inputs.month, inputs.zone, inputs.generated_at, inputs.policy, teams, inputs.arrivals)


def _count(inputs: Inputs, people: Mapping[int, Person]) -> _Counts:
    counts, threshold = _Counts(), inputs.policy.threshold
    for decision in inputs.decisions:
        if decision.outcome == "assigned" and decision.rep_id is not None:
            counts.routed.add(decision)
            _received(counts, inputs.won, decision.lead.id, decision.rep_id, decision.lead.score >= threshold)
    at_work = _at_work(inputs, people)
    for lead in inputs.unrouted:
        owner = people.get(lead.rep_id)
        eligible = at_work.get((owner.team_id, lead.day), ()) if owner else ()
        high = lead.score >= threshold
        counts.equal.add_equal(lead.rep_id, eligible, value=lead.score, high=high)
        _received(counts, inputs.won, lead.lead_id, lead.rep_id, high)
    return counts


def _received(counts: _Counts, won: frozenset[tuple[int, int]], lead_id: int, rep_id: int, high: bool) -> None:
    counts.high[rep_id] += high
    counts.won[rep_id] += (lead_id, rep_id) in won


def _at_work(inputs: Inputs, people: Mapping[int, Person]) -> dict[tuple[int | None, date], list[int]]:
    """The reps of each team at work on each day an unrouted lead arrived."""
    days = {lead.day for lead in inputs.unrouted}
    out: dict[tuple[int | None, date], list[int]] = defaultdict(list)
    for person in people.values():
        if person.sells and person.team_id is not None:
            for day in days:
                if person.at_work(day):
                    out[(person.team_id, day)].append(person.id)
    return out


def _members(team: TeamInfo, inputs: Inputs, people: Mapping[int, Person], counts: _Counts) -> list[Person]:
    """The team's reps at work on some day of the month, and anyone of the team who received or was owed leads;
    by username (pinyin for Chinese names, so the order reads alphabetically)."""
    days = inputs.month.days()
    involved = set(counts.routed.rows) | set(counts.equal.rows)
    return sorted((p for p in people.values() if p.team_id == team.id and (
        (p.sells and any(p.at_work(d) for d in days)) or p.id in involved)), key=lambda p: (p.username, p.id))


def _team(team: TeamInfo, inputs: Inputs, people: Mapping[int, Person], counts: _Counts) -> TeamReport:
    members = _members(team, inputs, people, counts)
    total = sum(counts.received(p.id) for p in members)
    owed = sum(counts.expected(p.id) for p in members)
    high = sum(counts.high[p.id] for p in members)
    reps = tuple(_line(p, counts, total, owed, high) for p in members)
    routed, unrouted = sum(r.routed for r in reps), sum(r.unrouted for r in reps)
    appeals = tuple(a for a in inputs.appeals if a.team_id == team.id)
    test = chi_square({r.rep_id: r.leads for r in reps}, {r.rep_id: r.expected for r in reps})
    return TeamReport(team.id, team.name, team.department, team.supervisor_id, reps, total, high,
                      sum(r.won for r in reps), routed, unrouted, _evidence(routed, unrouted), test,
                      gini([r.value for r in reps]), summarise_appeals(appeals), appeals)


def _line(person: Person, counts: _Counts, total: int, owed: float, high: int) -> RepLine:
    leads, expected = counts.received(person.id), counts.expected(person.id)
    routed = _Counts._actual(counts.routed, person.id)
    won = counts.won[person.id]
    return RepLine(person.id, person.name, person.username, person.level, leads, counts.high[person.id],
                   _ratio(counts.high[person.id], high), won, _ratio(won, leads), expected, _ratio(expected, owed),
                   _ratio(leads, total), counts.value(person.id), routed, leads - routed,
                   _evidence(_owed(counts.routed, person.id), _owed(counts.equal, person.id)))


def _owed(tally: Tally, rep: int) -> float:
    row: ShareRow | None = tally.rows.get(rep)
    return row.expected if row else 0.0


def _evidence(routed: float, unrouted: float) -> Evidence:
    if routed and unrouted:
        return "mixed"
    if routed:
        return "routing"
    return "equal_share" if unrouted else "none"


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def summarise_appeals(appeals: Iterable[AppealRow]) -> AppealSummary:
    rows = list(appeals)
    by_status = {status: 0 for status in APPEAL_STATUSES} | Counter(a.status for a in rows)
    hours = [(a.decided_at - a.filed_at).total_seconds() / 3600 for a in rows if a.decided_at is not None]
    return AppealSummary(len(rows), dict(by_status), median(hours) if hours else None)
