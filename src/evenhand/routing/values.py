"""The plain values routing reads and writes, and their JSON form.

Everything a decision depends on is one of these, so a decision record replays without a database.
Times are aware UTC ``datetime``s (naive ones are taken as UTC); calendar dates (leave, ``left_on``) are
the rep's local dates. Counters such as ``leads_today`` are the caller's, counted in the rep's own day
and ISO week.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from evenhand.kit.bounded import Bounded

LEAD_FIELDS = ("id", "source", "industry", "region", "company_size", "title", "score", "product_line", "company")
SCALE = 1_000_000  # credits and shares are counted in millionths of a lead, so they add up exactly

Track = Literal["round_robin", "weighted", "manual"]  # manual: a supervisor named the rep
Outcome = Literal["assigned", "held"]
# Why a rep who belongs to the pool was left out of this one decision: the appellant when a lead is
# routed again after an appeal, the owner a lead is taken from on a reassignment.
EXCLUSIONS = frozenset({"appealed", "previous_owner"})


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (that is how the database stores them); aware ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class LeadSnapshot:
    """What pool conditions may read, as ``lead.<field>``; blank values are ``null`` in CEL."""

    id: int
    score: int
    source: str | None = None
    industry: str | None = None
    region: str | None = None
    company_size: int | None = None
    title: str | None = None
    product_line: str | None = None
    company: str | None = None

    def cel_context(self) -> dict[str, Any]:
        return {"lead": {name: getattr(self, name) for name in LEAD_FIELDS}}

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LEAD_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeadSnapshot:
        values: dict[str, Any] = {name: data.get(name) for name in LEAD_FIELDS}
        return cls(**values)


Hours = Mapping[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class RepState:
    """One rep as routing sees them at the moment of the decision.

    ``working_hours`` maps ``mon``..``sun`` to ``("09:00", "18:00")`` intervals in the rep's ``timezone``;
    an interval ending at or before its start runs past midnight. An empty mapping means no schedule is
    kept (always inside hours); a day that is absent or empty is a day off. ``leaves`` are inclusive
    local date ranges. ``wins``/``deals`` are the rep's closed deals in the window the caller chose;
    ``quota_attainment`` is attained/quota to date (1.0 = on target), None when the rep has no quota.
    """

    id: int
    username: str
    level: str = "junior"
    team: str | None = None
    department: str | None = None
    region: str | None = None
    skills: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()
    active: bool = True
    left_on: date | None = None
    presence: str = "offline"
    presence_since: datetime | None = None
    timezone: str = "Asia/Shanghai"
    working_hours: Hours = field(default_factory=dict)
    leaves: tuple[tuple[date, date], ...] = ()
    open_leads: int = 0
    max_open_leads: int = 50
    leads_today: int = 0
    daily_lead_cap: int = 20
    leads_this_week: int = 0
    weekly_lead_cap: int | None = None
    high_value_today: int = 0
    high_value_this_week: int = 0
    wins: int = 0
    deals: int = 0
    quota_attainment: float | None = None

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        """``full=False`` keeps only what pool membership reads: enough to replay a non-member's verdict."""
        return _record(self, full, lambda: self._fresh_record(full=full))

    def _fresh_record(self, *, full: bool) -> dict[str, Any]:
        if not full:
            return {name: list(v) if isinstance(v := getattr(self, name), tuple) else v for name in MEMBERSHIP_FIELDS}
        out = {name: getattr(self, name) for name in _REP_FIELDS}
        out |= {"skills": list(self.skills), "product_lines": list(self.product_lines), "grants": list(self.grants),
                "left_on": _day(self.left_on), "presence_since": _moment(self.presence_since),
                "working_hours": {d: [list(i) for i in v] for d, v in self.working_hours.items()},
                "leaves": [[a.isoformat(), b.isoformat()] for a, b in self.leaves]}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RepState:
        plain = {name: data[name] for name in _REP_FIELDS if name in data}
        return cls(**plain | {
            "skills": tuple(data.get("skills", ())), "product_lines": tuple(data.get("product_lines", ())),
            "grants": tuple(data.get("grants", ())), "left_on": _parse_day(data.get("left_on")),
            "presence_since": _parse_moment(data.get("presence_since")),
            "working_hours": {d: tuple((a, b) for a, b in v) for d, v in (data.get("working_hours") or {}).items()},
            "leaves": tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in data.get("leaves", ()))})


_REP_FIELDS = tuple(f for f in RepState.__dataclass_fields__)
MEMBERSHIP_FIELDS = ("id", "username", "level", "team", "department", "region", "skills", "product_lines", "grants")
# Verdict codes of reps outside the pool: only their membership fields go into a decision record.
NOT_MEMBER = frozenset({"not_in_pool", "no_key_account_grant"})


@dataclass(frozen=True, slots=True)
class PoolState:
    """The durable part of a pool, stored with it and written back after each assignment.

    ``served[rep]`` is the round-robin ticket of the last ordinary lead the rep received (``ticket`` counts
    them); ``credits[rep]`` is how far the rep is behind (+) or ahead (-) of their weighted share of
    high-value leads, in millionths of a lead. ``seq`` counts assignments, for optimistic locking. The tables of
    a state a decision made are read-only (``MappingProxyType``): the state goes on, as it is, into the pool's row
    and the next decision in the pool, and its record is made once (``_record``).
    """

    pool_id: str
    seq: int = 0
    ticket: int = 0
    served: Mapping[int, int] = field(default_factory=dict)
    credits: Mapping[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _record(self, True, lambda: {"pool_id": self.pool_id, "seq": self.seq, "ticket": self.ticket,
                                            "served": _int_keys_out(self.served),
                                            "credits": _int_keys_out(self.credits)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolState:
        return cls(data["pool_id"], data.get("seq", 0), data.get("ticket", 0), _int_keys_in(data.get("served", {})),
                   _int_keys_in(data.get("credits", {})))


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a rep did or did not get the lead: ``code`` is ``chosen`` or an exclusion reason (see ``reasons``).

    ``also`` lists further reasons that would have excluded the rep, so "why not me" is complete.
    """

    rep_id: int
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    also: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "code": self.code, "params": dict(self.params), "also": list(self.also)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(data["rep_id"], data["code"], dict(data.get("params", {})), tuple(data.get("also", ())))


@dataclass(frozen=True, slots=True)
class Weight:
    """One available rep's weight on the weighted track and how it came about.

    ``weight = win_rate * quota_factor * load_factor``; ``share`` is the rep's part of this lead after the
    guardrails (junior floor, share cap), in millionths; credits are before and after this decision.
    """

    rep_id: int
    wins: int
    deals: int
    prior_rate: float
    win_rate: float
    quota_factor: float
    load_factor: float
    weight: float
    share: int
    credit_before: int
    credit_after: int

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _WEIGHT_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weight:
        return cls(**{name: data[name] for name in _WEIGHT_FIELDS})


_WEIGHT_FIELDS = tuple(Weight.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class PoolCheck:
    """One pool condition evaluated for the lead, in policy order, up to the first match.

    A condition that fails at run time (comparing ``null`` with a number, say) does not match, and
    ``error`` says why.
    """

    pool_id: str
    matched: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"pool_id": self.pool_id, "matched": self.matched, "error": self.error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolCheck:
        return cls(data["pool_id"], data["matched"], data.get("error"))


@dataclass(frozen=True)
class Decision:
    """Everything needed to explain and replay one routing decision.

    ``outcome`` is ``held`` when nobody could take the lead (``rep_id`` is then None, ``reason`` says why,
    and the pool state is unchanged); ``weights`` is empty on the round-robin and manual tracks.
    ``excluded`` maps reps left out of this decision to an ``EXCLUSIONS`` code; on the ``manual`` track
    ``rep_id`` is the rep a supervisor named and the pool state is unchanged.
    """

    lead: LeadSnapshot
    candidates: tuple[RepState, ...]
    policy_name: str
    policy_version: str | None
    policy_hash: str
    now: datetime
    pool_id: str
    pools_checked: tuple[PoolCheck, ...]
    track: Track
    outcome: Outcome
    rep_id: int | None
    reason: str | None
    verdicts: tuple[Verdict, ...]
    weights: tuple[Weight, ...]
    state_before: PoolState
    state_after: PoolState
    excluded: Mapping[int, str] = field(default_factory=dict)

    def verdict_for(self, rep_id: int) -> Verdict | None:
        return next((v for v in self.verdicts if v.rep_id == rep_id), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able. Candidates outside the pool are recorded by their membership fields alone (a pool of
        20 in a company of 500 would otherwise store 480 full states): the record replays to itself, but
        ``from_dict`` gives those candidates default values for everything else. ``excluded`` is written
        only when there are exclusions, so records made before it existed read and replay unchanged."""
        outside = {v.rep_id for v in self.verdicts if v.code in NOT_MEMBER}
        candidates = [c.to_dict(full=c.id not in outside) for c in self.candidates]
        excluded = {"excluded": {str(k): self.excluded[k] for k in sorted(self.excluded)}} if self.excluded else {}
        return excluded | {"schema": 1, "lead": self.lead.to_dict(), "candidates": candidates,
                "policy": {"name": self.policy_name, "version": self.policy_version, "hash": self.policy_hash},
                "now": _moment(self.now), "pool_id": self.pool_id,
                "pools_checked": [p.to_dict() for p in self.pools_checked], "track": self.track,
                "outcome": self.outcome, "rep_id": self.rep_id, "reason": self.reason,
                "verdicts": [v.to_dict() for v in self.verdicts], "weights": [w.to_dict() for w in self.weights],
                "state_before": self.state_before.to_dict(), "state_after": self.state_after.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        policy = data["policy"]
        return cls(LeadSnapshot.from_dict(data["lead"]), tuple(RepState.from_dict(c) for c in data["candidates"]),
                   policy["name"], policy.get("version"), policy["hash"], _parse_moment(data["now"]) or _never(),
                   data["pool_id"], tuple(PoolCheck.from_dict(p) for p in data["pools_checked"]), data["track"],
                   data["outcome"], data.get("rep_id"), data.get("reason"),
                   tuple(Verdict.from_dict(v) for v in data["verdicts"]),
                   tuple(Weight.from_dict(w) for w in data["weights"]), PoolState.from_dict(data["state_before"]),
                   PoolState.from_dict(data["state_after"]),
                   {int(k): str(v) for k, v in (data.get("excluded") or {}).items()})


# A state's record, kept by the state's identity: the states routing shares (the roster's reps, the counted ones kept
# between transactions, a pool's state after one decision and before the next) go into many decisions' evidence and
# are written more than once. States are frozen, and the entry holds its state, so the id names no other object while
# the entry lives. The caller gets a copy of its own, whose nested lists and maps are shared: replace them, do not
# change them in place.
_RECORDS: Bounded[tuple[int, bool], tuple[object, dict[str, Any]]] = Bounded(2048)


def _record(state: object, variant: bool, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    key = (id(state), variant)
    kept = _RECORDS.get(key)
    if kept is None or kept[0] is not state:
        kept = (state, make())
        _RECORDS.store({key: kept})
    return dict(kept[1])


def _never() -> datetime:
    raise ValueError("a decision record needs its time, now")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def _parse_moment(value: str | None) -> datetime | None:
    return None if value is None else as_utc(datetime.fromisoformat(value))


def _int_keys_out(table: Mapping[int, int]) -> dict[str, int]:
    """JSON object keys are strings; rep ids go out sorted so equal states serialise identically."""
    return {str(k): table[k] for k in sorted(table)}


def _int_keys_in(table: Mapping[str, int]) -> dict[int, int]:
    return {int(k): int(v) for k, v in table.items()}
