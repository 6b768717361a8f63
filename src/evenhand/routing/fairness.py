"""Fairness maths for the monthly report (每月公示) and what-if replay: measured against the policy.

"Equal" is the wrong yardstick when weights differ on purpose. A rep's *expected* leads are the sum,
over every assigned decision in which they were available, of the share the policy meant them to have
in it: an equal share of the available reps on the round-robin track, the guarded weight share on the
weighted track. The chi-square test compares actual with expected counts; Gini of lead value received
is reported beside it (it ignores availability, so it is context, not a verdict).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from scipy import stats

from evenhand.routing.availability import local_time
from evenhand.routing.engine import decide, select_pool
from evenhand.routing.policy import CompiledPolicy
from evenhand.routing.reasons import PASSED_OVER
from evenhand.routing.values import SCALE, Decision, LeadSnapshot, PoolState, RepState, as_utc


def expected_share(decision: Decision) -> dict[int, float]:
    """The share of this lead the policy meant each available rep to have; empty when it was held."""
    if decision.outcome != "assigned":
        return {}
    if decision.weights:
        return {w.rep_id: w.share / SCALE for w in decision.weights}
    available = [v.rep_id for v in decision.verdicts if v.code in PASSED_OVER]
    return {rep: 1.0 / len(available) for rep in available}


@dataclass
class ShareRow:
    rep_id: int
    available: int = 0  # assigned decisions in which the rep could have been chosen
    expected: float = 0.0
    actual: int = 0
    high_value_expected: float = 0.0
    high_value_actual: int = 0
    value: float = 0.0  # sum of the scores of the leads received


@dataclass
class Tally:
    """Expected and actual leads per rep, added up one decision at a time."""

    rows: dict[int, ShareRow] = field(default_factory=dict)
    held: int = 0

    def add(self, decision: Decision) -> None:
        if decision.outcome != "assigned" or decision.rep_id is None:
            self.held += 1
            return
        high = decision.track == "weighted"
        for rep, share in expected_share(decision).items():
            row = self.row(rep)
            row.available += 1
            row.expected += share
            row.high_value_expected += share if high else 0.0
        chosen = self.row(decision.rep_id)
        chosen.actual += 1
        chosen.high_value_actual += int(high)
        chosen.value += decision.lead.score

    def add_equal(self, rep_id: int, eligible: Iterable[int], *, value: float, high: bool = False) -> None:
        """A lead handed out without a routing decision (history from before evenhand): with no record of who
        was available, it is measured against an equal share of ``eligible`` — the rep who received it
        always counts among them."""
        reps = set(eligible) | {rep_id}
        for rep in reps:
            row = self.row(rep)
            row.available += 1
            row.expected += 1.0 / len(reps)
            row.high_value_expected += 1.0 / len(reps) if high else 0.0
        chosen = self.row(rep_id)
        chosen.actual += 1
        chosen.high_value_actual += int(high)
        chosen.value += value

    def row(self, rep: int) -> ShareRow:
        return self.rows.setdefault(rep, ShareRow(rep))


def tally(decisions: Iterable[Decision]) -> Tally:
    out = Tally()
    for decision in decisions:
        out.add(decision)
    return out


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    dof: int
    p_value: float
    bins: int
    merged: int  # reps pooled into one bin because their expected count was below the minimum


def chi_square(actual: Mapping[int, int], expected: Mapping[int, float], *,
               min_expected: float = 5.0) -> ChiSquare | None:
    """Goodness of fit of actual to expected counts over the reps given (expected is rescaled to the same
    total, so a team's distribution is tested within the team). Reps expected fewer than
    ``min_expected`` leads are pooled into one bin; None when fewer than two bins remain."""
    reps = sorted(r for r in expected if expected[r] > 0)
    total_actual, total_expected = sum(actual.get(r, 0) for r in reps), sum(expected[r] for r in reps)
    if total_actual == 0 or total_expected <= 0:
        return None
    scaled = {r: expected[r] * total_actual / total_expected for r in reps}
    big = [r for r in reps if scaled[r] >= min_expected]
    small = [r for r in reps if scaled[r] < min_expected]
    obs, exp = [actual.get(r, 0) for r in big], [scaled[r] for r in big]
    if small:
        obs, exp = _pool_small(obs, exp, sum(actual.get(r, 0) for r in small), sum(scaled[r] for r in small),
                               min_expected)
    if len(obs) < 2:
        return None
    result = stats.chisquare(obs, exp)
    return ChiSquare(float(result.statistic), len(obs) - 1, float(result.pvalue), len(obs), len(small))


def _pool_small(obs: list[int], exp: list[float], small_obs: int, small_exp: float,
                min_expected: float) -> tuple[list[int], list[float]]:
    """The pooled bin stands alone when large enough, else joins the smallest other bin."""
    if small_exp >= min_expected or not obs:
        return [*obs, small_obs], [*exp, small_exp]
    i = min(range(len(exp)), key=exp.__getitem__)
    obs, exp = obs[:], exp[:]
    obs[i] += small_obs
    exp[i] += small_exp
    return obs, exp


def team_tests(rows: Mapping[int, ShareRow], team_of: Mapping[int, str | None]) -> dict[str | None, ChiSquare | None]:
    """One chi-square test per team, over the team's reps."""
    teams: dict[str | None, list[int]] = defaultdict(list)
    for rep in rows:
        teams[team_of.get(rep)].append(rep)
    return {team: chi_square({r: rows[r].actual for r in reps}, {r: rows[r].expected for r in reps})
            for team, reps in teams.items()}


def gini(values: Iterable[float]) -> float:
    """0 when everyone received the same value, towards 1 when one rep received it all."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total <= 0:
        return 0.0
    return sum((2 * i - n + 1) * x for i, x in enumerate(xs)) / (n * total)


# --- what-if replay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    tally: Tally
    states: dict[str, PoolState]
    decisions: tuple[Decision, ...]  # only when asked for with ``keep=True``

    @property
    def counts(self) -> dict[int, int]:
        return {rep: row.actual for rep, row in self.tally.rows.items() if row.actual}


def simulate(leads: Sequence[tuple[datetime, LeadSnapshot]],
             reps_timeline: Sequence[tuple[datetime, Sequence[RepState]]], policy: CompiledPolicy, *,
             states: Mapping[str, PoolState] | None = None, keep: bool = False) -> Simulation:
    """Route ``leads`` (in time order) through ``policy``, each against the latest snapshot of the reps
    at or before its time (the first snapshot for leads before it).

    The simulation keeps its own counts: daily, weekly and high-value counters are what *it* assigned
    (per rep's local day and ISO week), and open leads are the snapshot's plus what it assigned since
    that snapshot (no lead closes inside a snapshot). A held lead counts as held and is not offered again.
    """
    timeline = sorted(reps_timeline, key=lambda item: as_utc(item[0]))
    times = [as_utc(t) for t, _ in timeline]
    pools = dict(states or {})
    run = _Run(Tally(), [])
    for at, lead in sorted(leads, key=lambda item: as_utc(item[0])):
        at = as_utc(at)
        snap = max(bisect_right(times, at) - 1, 0)
        reps = [run.counted(rep, at, times[snap]) for rep in timeline[snap][1]]
        match = select_pool(lead, policy)
        state = pools.get(match.pool_id) or PoolState(match.pool_id)
        decision = decide(lead, reps, policy, state, at, match=match)
        pools[match.pool_id] = decision.state_after
        run.record(decision, reps, at, keep)
    return Simulation(run.tally, pools, tuple(run.kept))


@dataclass
class _Counts:
    """One rep's simulated assignments: per local day and ISO week, and their times (in order)."""

    days: Counter[date] = field(default_factory=Counter)
    weeks: Counter[tuple[int, int]] = field(default_factory=Counter)
    high_days: Counter[date] = field(default_factory=Counter)
    high_weeks: Counter[tuple[int, int]] = field(default_factory=Counter)
    times: list[datetime] = field(default_factory=list)

    def add(self, day: date, high: bool, at: datetime) -> None:
        week = _week(day)
        self.days[day] += 1
        self.weeks[week] += 1
        self.high_days[day] += high
        self.high_weeks[week] += high
        self.times.append(at)


@dataclass
class _Run:
    tally: Tally
    kept: list[Decision]
    counts: dict[int, _Counts] = field(default_factory=lambda: defaultdict(_Counts))

    def record(self, decision: Decision, reps: Sequence[RepState], at: datetime, keep: bool) -> None:
        self.tally.add(decision)
        if keep:
            self.kept.append(decision)
        rep = next((r for r in reps if r.id == decision.rep_id), None)
        if rep is not None:
            day = local_time(at, rep.timezone).date()
            self.counts[rep.id].add(day, decision.track == "weighted", at)

    def counted(self, rep: RepState, at: datetime, snapshot_at: datetime) -> RepState:
        c = self.counts.get(rep.id) or _Counts()
        day = local_time(at, rep.timezone).date()
        week = _week(day)
        since = len(c.times) - bisect_left(c.times, snapshot_at)
        return replace(rep, leads_today=c.days[day], leads_this_week=c.weeks[week],
                       high_value_today=c.high_days[day], high_value_this_week=c.high_weeks[week],
                       open_leads=rep.open_leads + since)


def _week(day: date) -> tuple[int, int]:
    year, week, _ = day.isocalendar()
    return year, week
