"""Canaries as sales ops run them: start one with the metrics it may affect, read the board comparing its arms,
roll it back or promote it. Routing does the routing (``routing.canary``); this module compares. Callers commit.

The board reads, since the canary started (until it ended), every decision that names an arm, and for their leads
the first response, the outcome and the "new lead" message, in a few bulk queries. A lead belongs to the arm of its
first such decision. Each metric is compared as ``canary − control`` with the fixed-horizon test and interval and
the always-valid p-value of the mixture SPRT (``monitor.sequential``), which may be read every day without
inflating false alarms; a verdict is given only when that p-value is below 0.05.

Observations enter the sequential test in the order their leads arrived. A value known only later (a first
response, an outcome) is left out until it is known, so each reading is valid on its own; a reading taken
earlier saw fewer of the same leads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import (
    Appeal,
    Canary,
    Lead,
    LeadStatus,
    Notification,
    RoutingDecision,
    RoutingPolicyVersion,
)
from evenhand.monitor import sequential
from evenhand.notify import service as notify
from evenhand.routing import canary as routing_canary

ALPHA = 0.05
BETTER, WORSE, UNCLEAR = "better", "worse", "no_evidence"
VERDICTS = {BETTER: N_("Better"), WORSE: N_("Worse"), UNCLEAR: N_("No evidence yet")}
STATUSES = {"running": N_("running"), "rolled_back": N_("rolled back"), "promoted": N_("promoted")}
GRID_LOOKS = 50  # a median or a spread is tested at this many looks: fewer than every lead, so more conservative
RESAMPLES, SEED = 400, 20260815  # the spread's bootstrap: seeded, so a board read twice shows the same figures
Kind = Literal["rate", "mean", "median", "spread"]


@dataclass(frozen=True)
class Metric:
    """A figure the board compares. ``tau`` is the difference (in ``unit``) the sequential test is tuned to find
    quickly; smaller and larger ones are found too, more slowly. A canary is there to catch a policy that breaks
    something, so it is set at a clear harm: an hour of first response, ten points of acceptance (a lost message
    shows there at once), three of conversion."""

    id: str
    label: str
    kind: Kind
    unit: Literal["hours", "share", "ratio"]
    good: Literal["up", "down"]
    tau: float


METRICS = {m.id: m for m in (
    Metric("first_response_mean", N_("First response, mean"), "mean", "hours", "down", 1.0),
    Metric("first_response_p50", N_("First response, median"), "median", "hours", "down", 0.5),
    Metric("lead_accepted_in_time", N_("New leads accepted in time"), "rate", "share", "up", 0.1),
    Metric("notification_ack", N_("New-lead messages acknowledged"), "rate", "share", "up", 0.1),
    Metric("lead_conversion", N_("Conversion of decided leads"), "rate", "share", "up", 0.03),
    Metric("appeal_rate", N_("Appeal rate"), "rate", "share", "down", 0.02),
    Metric("leads_per_rep_spread", N_("Spread of leads per rep"), "spread", "ratio", "down", 0.1),
)}


# --- the doors: who may, and the running canary ---------------------------------------------------------------


def _may_read(principal: Principal) -> None:
    if not principal.sees_team_figures:
        raise Forbidden("Only sales operations, supervisors and auditors may read canaries.")


def start(session: Session, body: str, *, share: float, metrics: Sequence[str], actor: Principal | None,
          note: str = "") -> Canary:
    """Start a canary of ``body`` on ``share`` of the leads, declaring ``metrics`` (default: every metric the
    board compares); a metric the board does not know is refused, naming it."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise Invalid("Unknown metric {metric}; the board compares {known}.", field="metrics", metric=unknown[0],
                      known=", ".join(METRICS))
    chosen = list(dict.fromkeys(metrics)) or list(METRICS)
    return routing_canary.start(session, body, share=share, metrics=chosen, author=actor, note=note)


def running(session: Session) -> Canary:
    found = routing_canary.running(session)
    if found is None:
        raise NotFound("No canary is running.", field="canary")
    return found


def rollback(session: Session, *, actor: Principal | None, reason: str = "", canary_id: int | None = None) -> Canary:
    """Roll back the running canary (or ``canary_id``): from the next lead on, the active version routes alone."""
    return routing_canary.rollback(session, canary_id or running(session).id, by=actor, reason=reason)


def promote(session: Session, *, actor: Principal | None, note: str = "",
            canary_id: int | None = None) -> RoutingPolicyVersion:
    """Promote the running canary (or ``canary_id``): its candidate becomes the next active version."""
    return routing_canary.promote(session, canary_id or running(session).id, by=actor, note=note)


def history(session: Session, principal: Principal | None = None) -> list[Canary]:
    """Every canary, newest first (``principal``: who asks, when a person does)."""
    if principal is not None:
        _may_read(principal)
    return routing_canary.history(session)


def get(session: Session, canary_id: int) -> Canary:
    return routing_canary.get(session, canary_id)


def latest(session: Session) -> Canary | None:
    """The running canary, else the last one that ran."""
    return routing_canary.running(session) or next(iter(routing_canary.history(session, limit=1)), None)


# --- the board ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    value: float | None
    n: int


@dataclass(frozen=True)
class Row:
    """One metric in both arms: ``diff`` is canary − control, ``low``/``high`` its 95% interval, ``p`` the
    fixed-horizon p-value and ``p_always`` the always-valid one; None where an arm has too little to compare."""

    metric: str
    label: str
    unit: str
    good: str
    control: Side
    canary: Side
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    p_always: float | None = None
    verdict: str = UNCLEAR


@dataclass(frozen=True)
class Board:
    canary_id: int
    version: int
    control_version: int
    share: float
    status: str
    started_at: datetime
    ended_at: datetime | None
    leads: dict[str, int]
    rows: list[Row]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


def board(session: Session, canary_id: int, *, principal: Principal | None = None,
          now: datetime | None = None) -> Board:
    """Each declared metric in both arms since the canary started (until it ended, or ``now``)."""
    if principal is not None:
        _may_read(principal)
    found = routing_canary.get(session, canary_id)
    facts = _facts(session, found, as_utc(found.ended_at) if found.ended_at else now or utcnow())
    rows = [_row(METRICS[m], facts.sample(m)) for m in found.metrics if m in METRICS]
    return Board(found.id, found.version, found.control_version, found.share, found.status.value,
                 as_utc(found.started_at), as_utc(found.ended_at) if found.ended_at else None,
                 {"control": int((~facts.lead_canary).sum()), "canary": int(facts.lead_canary.sum())}, rows)


@dataclass(frozen=True)
class Sample:
    """A metric's observations in the order their leads arrived: the arm (True: canary) and the value."""

    canary: NDArray[np.bool_]
    values: NDArray[np.float64]


_NO = Sample(np.zeros(0, bool), np.zeros(0))
Messages = dict[int | None, tuple[datetime, datetime | None]]  # per lead: the "new lead" message sent, acknowledged


class _Facts:
    """What the board reads for one canary, arranged per metric."""

    def __init__(self, leads: list[tuple[int, bool]], assigned: list[tuple[int, bool, int, bool]],
                 lead_rows: dict[int, tuple[Any, ...]], messages: Messages,
                 now: datetime, sla: timedelta) -> None:
        self.leads, self.assigned, self.lead_rows, self.messages = leads, assigned, lead_rows, messages
        self.now, self.sla = now, sla
        self.lead_canary = np.array([c for _, c in leads], bool)

    def sample(self, metric: str) -> Sample:
        return _SAMPLES[metric](self)

    def per_lead(self, value: Callable[[int], float | None]) -> Sample:
        pairs = [(canary, v) for lead_id, canary in self.leads if (v := value(lead_id)) is not None]
        return _sample(pairs)


def _sample(pairs: list[tuple[bool, float]]) -> Sample:
    if not pairs:
        return _NO
    return Sample(np.array([c for c, _ in pairs], bool), np.array([v for _, v in pairs], np.float64))


def _first_response(facts: _Facts, lead_id: int) -> float | None:
    assigned_at, responded_at, _ = facts.lead_rows.get(lead_id, (None, None, None))
    if assigned_at is None or responded_at is None or responded_at < assigned_at:
        return None
    return float((as_utc(responded_at) - as_utc(assigned_at)).total_seconds() / 3600)


def _accepted(facts: _Facts, lead_id: int, *, in_time: bool) -> float | None:
    """1 when the "new lead" message was acknowledged (within the SLA, ``in_time``), 0 when not; None while the
    SLA has not run out on a message still waiting (not known yet) or when there was no message."""
    sent, acknowledged = facts.messages.get(lead_id, (None, None))
    if sent is None:
        return None
    if acknowledged is not None:
        return float(not in_time or as_utc(acknowledged) - as_utc(sent) <= facts.sla)
    return None if facts.now - as_utc(sent) < facts.sla else 0.0


def _converted(facts: _Facts, lead_id: int) -> float | None:
    status = facts.lead_rows.get(lead_id, (None, None, None))[2]
    if status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        return None  # still open: its outcome is not known
    return float(status == LeadStatus.CONVERTED)


_SAMPLES: dict[str, Callable[[_Facts], Sample]] = {
    "first_response_mean": lambda f: f.per_lead(lambda i: _first_response(f, i)),
    "first_response_p50": lambda f: f.per_lead(lambda i: _first_response(f, i)),
    "lead_accepted_in_time": lambda f: f.per_lead(lambda i: _accepted(f, i, in_time=True)),
    "notification_ack": lambda f: f.per_lead(lambda i: _accepted(f, i, in_time=False)),
    "lead_conversion": lambda f: f.per_lead(lambda i: _converted(f, i)),
    "appeal_rate": lambda f: _sample([(canary, float(appealed)) for _, canary, _, appealed in f.assigned]),
    "leads_per_rep_spread": lambda f: _sample([(canary, float(rep)) for _, canary, rep, _ in f.assigned]),
}


def figure(value: float | None, unit: str, tr: Callable[..., str], *, signed: bool = False) -> str:
    """A metric's value as a reader sees it: hours with two decimals, a share in per cent (a difference of shares
    in percentage points), a ratio; "—" for none."""
    if value is None:
        return "—"
    return _with_unit(_number(value, unit, signed), unit, tr, signed=signed)


def interval(row: Row, tr: Callable[..., str]) -> str:
    """The difference with its interval, the unit once: "+4.00 [+3.28, +4.72] h"."""
    if row.diff is None or row.low is None or row.high is None:
        return "—"
    diff, low, high = (_number(v, row.unit, True) for v in (row.diff, row.low, row.high))
    return _with_unit(f"{diff} [{low}, {high}]", row.unit, tr, signed=True)


def _number(value: float, unit: str, signed: bool) -> str:
    sign = "+" if signed else ""
    if unit == "share":
        return f"{value * 100:{sign}.1f}"
    return f"{value:{sign}.2f}"


def _with_unit(number: str, unit: str, tr: Callable[..., str], *, signed: bool) -> str:
    if unit == "share":
        return tr("{value} pp", value=number) if signed else f"{number}%"
    return tr("{value} h", value=number) if unit == "hours" else number


# --- reading: a few bulk queries over the canary's window ---------------------------------------------------------


def _decisions(started: datetime, until: datetime) -> Select[int, int, str | None, str, int | None]:
    return (select(RoutingDecision.id, RoutingDecision.lead_id, RoutingDecision.arm, RoutingDecision.outcome,
                   RoutingDecision.rep_id)
            .where(RoutingDecision.arm.is_not(None), RoutingDecision.created_at >= started,
                   RoutingDecision.created_at <= until).order_by(RoutingDecision.id))


def _facts(session: Session, canary: Canary, until: datetime) -> _Facts:
    started = as_utc(canary.started_at)
    decisions = _decisions(started, until)
    window = decisions.with_only_columns(RoutingDecision.lead_id).order_by(None)
    appealed = set(session.scalars(select(Appeal.decision_id).where(
        Appeal.decision_id.in_(decisions.with_only_columns(RoutingDecision.id).order_by(None)))))
    leads: dict[int, bool] = {}
    assigned = []
    for decision_id, lead_id, arm, outcome, rep_id in session.execute(decisions).tuples():
        leads.setdefault(lead_id, arm == routing_canary.CANARY)
        if outcome == "assigned" and rep_id is not None:
            assigned.append((decision_id, arm == routing_canary.CANARY, rep_id, decision_id in appealed))
    rows = {i: (a, r, s) for i, a, r, s in session.execute(select(
        Lead.id, Lead.assigned_at, Lead.first_response_at, Lead.status).where(Lead.id.in_(window))).tuples()}
    return _Facts(list(leads.items()), assigned, rows, _messages(session, window, started), until, _sla())


def _messages(session: Session, window: Select[Any], started: datetime) -> Messages:
    """Each lead's first "new lead" message since the canary started: when it was sent and acknowledged."""
    stmt = (select(Notification.lead_id, Notification.created_at, Notification.acknowledged_at)
            .where(Notification.kind == notify.LEAD_ASSIGNED, Notification.message_id.is_(None),
                   Notification.lead_id.in_(window), Notification.created_at >= started).order_by(Notification.id))
    out: Messages = {}
    for lead_id, sent, acknowledged in session.execute(stmt).tuples():
        out.setdefault(lead_id, (sent, acknowledged))
    return out


def _sla() -> timedelta:
    """The time a rep has to acknowledge a new lead (the ``lead_assigned`` escalation policy)."""
    policy = notify.active_policies().get(notify.LEAD_ASSIGNED)
    return timedelta(minutes=policy.ack_within_minutes if policy else 15)


# --- comparing ----------------------------------------------------------------------------------------------------

Compared = tuple[sequential.Comparison, float] | None  # the fixed-horizon comparison and the always-valid p-value


def _row(metric: Metric, sample: Sample) -> Row:
    a, b = _arms(metric, sample)
    sides = Side(_VALUE[metric.kind](a), _size(metric, a)), Side(_VALUE[metric.kind](b), _size(metric, b))
    compared = _COMPARE[metric.kind](sample, metric) if min(len(a), len(b)) >= 2 else None
    if compared is None:
        return Row(metric.id, metric.label, metric.unit, metric.good, *sides)
    fixed, p_always = compared
    return Row(metric.id, metric.label, metric.unit, metric.good, *sides, diff=fixed.diff, low=fixed.low,
               high=fixed.high, p=fixed.p, p_always=p_always, verdict=_verdict(metric, fixed.diff, p_always))


def _arms(metric: Metric, sample: Sample) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each arm's values; for the spread, each arm's leads per rep."""
    if metric.kind == "spread":
        return _rep_counts(sample)
    return sample.values[~sample.canary], sample.values[sample.canary]


def _size(metric: Metric, values: NDArray[np.float64]) -> int:
    return int(values.sum()) if metric.kind == "spread" else len(values)


def _verdict(metric: Metric, diff: float, p_always: float) -> str:
    if p_always >= ALPHA or diff == 0:
        return UNCLEAR
    return BETTER if (diff > 0) == (metric.good == "up") else WORSE


def _compare_rate(sample: Sample, metric: Metric) -> Compared:
    xa, na, xb, nb = _cumulative(sample, sample.values)
    fixed = sequential.proportions(xa[-1], na[-1], xb[-1], nb[-1])
    return fixed, float(sequential.always_valid_proportions(xa, na, xb, nb, tau=metric.tau)[-1])


def _compare_mean(sample: Sample, metric: Metric) -> Compared:
    sa, na, sb, nb = _cumulative(sample, sample.values)
    qa, _, qb, _ = _cumulative(sample, sample.values ** 2)
    a, b = sample.values[~sample.canary], sample.values[sample.canary]
    fixed = sequential.means(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    return fixed, float(sequential.always_valid_means(sa, qa, na, sb, qb, nb, tau=metric.tau)[-1])


def _cumulative(sample: Sample, values: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Running sums and counts of each arm after every observation (every observation is a look)."""
    control, canary = ~sample.canary, sample.canary
    return (np.cumsum(np.where(control, values, 0)), np.cumsum(control).astype(np.float64),
            np.cumsum(np.where(canary, values, 0)), np.cumsum(canary).astype(np.float64))


Estimate = tuple[float, float, float]  # control, canary, the variance of their difference


def _compare_at_looks(estimate: Callable[[Sample], Estimate | None]) -> Callable[[Sample, Metric], Compared]:
    """A comparison known by an estimate and its variance, tested at ``GRID_LOOKS`` evenly spaced looks (a look
    with fewer than ``sequential.MIN_N`` in an arm counts as none). Nothing to compare until the whole sample has
    that many in each arm."""
    def compare(sample: Sample, metric: Metric) -> Compared:
        ends = np.unique(np.linspace(0, len(sample.values), GRID_LOOKS + 1).astype(int)[1:])
        looks = [estimate(Sample(sample.canary[:end], sample.values[:end])) for end in ends]
        final = looks[-1]
        if final is None:
            return None
        p_always = sequential.always_valid([0.0 if e is None else e[1] - e[0] for e in looks],
                                           [0.0 if e is None else e[2] for e in looks], metric.tau)[-1]
        return sequential.normal(*final), float(p_always)
    return compare


def _median_estimate(sample: Sample) -> Estimate | None:
    a, b = sample.values[~sample.canary], sample.values[sample.canary]
    if min(len(a), len(b)) < sequential.MIN_N:
        return None
    return float(np.median(a)), float(np.median(b)), _median_variance(a) + _median_variance(b)


def _median_variance(values: NDArray[np.float64]) -> float:
    """The variance of a sample median, distribution-free (Bonett and Price 2002): from the order statistics
    ``c`` places in from either end, c = round(n/2 − √n), whose interval covers the median with a known
    binomial probability."""
    n, ordered = len(values), np.sort(values)
    c = max(1, round(n / 2 - math.sqrt(n)))
    z = float(stats.norm.isf(stats.binom.cdf(c - 1, n, 0.5)))
    return float(((ordered[n - c] - ordered[c - 1]) / (2 * z)) ** 2)


def _rep_counts(sample: Sample) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Leads per rep in each arm, over every rep who got a lead in either (the same reps on both sides)."""
    reps = np.unique(sample.values)
    return _counts(sample.values[~sample.canary], reps), _counts(sample.values[sample.canary], reps)


def _counts(values: NDArray[np.float64], reps: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.bincount(np.searchsorted(reps, values), minlength=len(reps)).astype(np.float64)


def spread(counts: NDArray[np.float64]) -> float | None:
    """How unevenly an arm shares its leads among reps (``counts``: leads per rep): the coefficient of variation
    of the reps' shares, 0 when perfectly even; None under two leads. (Σc² − n)/(n(n − 1)) estimates Σπ² without
    the noise a small arm adds (unbiased when leads fall on reps independently), so an arm of 10% and one of 90%
    are compared on the same footing."""
    return None if counts.sum() < 2 else float(_spreads(counts[np.newaxis, :])[0])


def _spreads(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """``spread`` of each row."""
    n, reps = counts.sum(axis=1), counts.shape[1]
    squares = (np.square(counts).sum(axis=1) - n) / (n * (n - 1))
    return np.sqrt(np.maximum(reps * squares - 1, 0))


def _spread_estimate(sample: Sample) -> Estimate | None:
    """Each arm's spread; the variance by a seeded parametric bootstrap (leads drawn again onto the reps with
    the arm's observed shares)."""
    a, b = _rep_counts(sample)
    if min(a.sum(), b.sum()) < sequential.MIN_N:
        return None
    rng = np.random.default_rng(SEED)
    variance = sum(float(np.var(_spreads(rng.multinomial(int(c.sum()), c / c.sum(), size=RESAMPLES)
                                         .astype(np.float64)), ddof=1)) for c in (a, b))
    return _spreads(a[np.newaxis, :])[0], _spreads(b[np.newaxis, :])[0], variance


_VALUE: dict[str, Callable[[NDArray[np.float64]], float | None]] = {
    "rate": lambda v: float(v.mean()) if len(v) else None,
    "mean": lambda v: float(v.mean()) if len(v) else None,
    "median": lambda v: float(np.median(v)) if len(v) else None,
    "spread": spread,
}
_COMPARE: dict[str, Callable[[Sample, Metric], Compared]] = {
    "rate": _compare_rate, "mean": _compare_mean, "median": _compare_at_looks(_median_estimate),
    "spread": _compare_at_looks(_spread_estimate),
}
