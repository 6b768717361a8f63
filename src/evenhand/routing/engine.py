"""Routing decisions as a pure function of (lead, candidates, policy, pool state, time).

``decide`` picks the pool (first condition that holds, in policy order), screens every candidate
(``availability.screen``), and hands the lead to the round-robin track below the policy's threshold or
the weighted track at or above it (``tracks``). No randomness: the same inputs give the same decision,
which is how ``replay`` proves a recorded decision. Nothing here reads a clock or a database.

``assign_manually`` is the supervisor's decision: the named rep gets the lead whatever the rotation, the
pool state stays as it was, and everything the supervisor overrode is written into the evidence.

Caveats: working hours and leave use the machine's time-zone database, so a change in a zone's rules
between deciding and replaying could change an ``outside_working_hours`` verdict. Win-rate priors are
computed over the candidates passed in, so pass every member of the pool, not only the available ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import cel

from evenhand.routing.availability import Reason, screen
from evenhand.routing.policy import CompiledPolicy, CompiledPool, Weighted
from evenhand.routing.reasons import CHOSEN
from evenhand.routing.tracks import (
    by_credit,
    guarded_shares,
    load_factor,
    prior_rates,
    quota_factor,
    round_robin,
    shrunk_rate,
)
from evenhand.routing.values import (
    EXCLUSIONS,
    NOT_MEMBER,
    SCALE,
    Decision,
    LeadSnapshot,
    PoolCheck,
    PoolState,
    RepState,
    Track,
    Verdict,
    Weight,
    as_utc,
)


class PolicyMismatch(ValueError):
    """A decision was replayed against a policy other than the one it was made under."""


class Refused(ValueError):
    """A supervisor named a rep who may not be given the lead: ``code`` is the rule (a verdict code, or
    ``not_a_rep`` for someone who is not among the candidates), ``params`` its details."""

    def __init__(self, rep_id: int, code: str, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"rep {rep_id} refused: {code}")
        self.rep_id, self.code, self.params = rep_id, code, dict(params or {})


# Never overridden, not even by a supervisor naming the rep: the rep is gone, switched off or on leave,
# or the pool is one only reps holding the key-account grant may enter (an earned right, R3.5).
NEVER_OVERRIDDEN = ("departed", "inactive", "on_leave", "no_key_account_grant")


@dataclass(frozen=True, slots=True)
class PoolMatch:
    pool_id: str
    checks: tuple[PoolCheck, ...]


def select_pool(lead: LeadSnapshot, policy: CompiledPolicy) -> PoolMatch:
    """The first pool whose condition holds; the last pool has none, so there always is one.

    Call it before ``decide`` to know which pool's state to lock, and pass the result on.
    """
    context = cel.Context()  # converted once per lead, then shared by every condition: ~10x faster than a dict
    context.update(lead.cel_context())
    checks = []
    for pool in policy.pools:
        matched, error = _holds(pool, context)
        checks.append(PoolCheck(pool.id, matched, error))
        if matched:
            return PoolMatch(pool.id, tuple(checks))
    raise AssertionError("the last pool has no condition")  # enforced by the schema


def _holds(pool: CompiledPool, context: cel.Context) -> tuple[bool, str | None]:
    if pool.program is None:
        return True, None
    try:
        result = pool.program.execute(context)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}".split("\n")[0][:200]
    return (True, None) if result is True else (False, None if result is False else f"not a bool: {result!r}")


def decide(lead: LeadSnapshot, candidates: Sequence[RepState], policy: CompiledPolicy, state: PoolState,
           now: datetime, *, match: PoolMatch | None = None, excluded: Mapping[int, str] | None = None) -> Decision:
    """Route one lead. ``state`` must be the state of the pool the lead falls into (``select_pool``);
    a held decision leaves it unchanged. A pool member listed in ``excluded`` is not a candidate, and that
    code is their verdict (their other reasons follow in ``also``); a non-member stays ``not_in_pool``."""
    now = as_utc(now)
    match = match or select_pool(lead, policy)
    if state.pool_id != match.pool_id:
        raise ValueError(f"state of pool {state.pool_id!r} given for a lead of pool {match.pool_id!r}")
    reps, out = _unique_sorted(candidates), _exclusions(excluded)
    pool = policy.pool(match.pool_id)
    track = _track(lead, policy)
    reasons = {rep.id: _excluding(screen(rep, lead, pool, policy.policy, track, now), out.get(rep.id)) for rep in reps}
    available = [rep for rep in reps if not reasons[rep.id]]
    base = _Base(lead, reps, policy, now, match, track, state, out)
    if not available:
        members = any(reasons[r.id][0][0] not in NOT_MEMBER for r in reps)
        return base.held(_excluded(reasons), "nobody_available" if members else "pool_has_no_members")
    if track == "round_robin":
        return _round_robin(base, reasons, available)
    return _weighted(base, reasons, available)


def _track(lead: LeadSnapshot, policy: CompiledPolicy) -> Track:
    return "weighted" if lead.score >= policy.policy.threshold_high_value else "round_robin"


def _exclusions(excluded: Mapping[int, str] | None) -> dict[int, str]:
    unknown = sorted({code for code in (excluded or {}).values() if code not in EXCLUSIONS})
    if unknown:
        raise ValueError(f"unknown exclusion codes {unknown}; known: {sorted(EXCLUSIONS)}")
    return {int(rep): code for rep, code in sorted((excluded or {}).items())}


def _excluding(reasons: list[Reason], code: str | None) -> list[Reason]:
    """The exclusion goes first for a pool member; a non-member's verdict stays the membership reason."""
    if code is None or (reasons and reasons[0][0] in NOT_MEMBER):
        return reasons
    return [(code, {}), *reasons]


def _unique_sorted(candidates: Sequence[RepState]) -> tuple[RepState, ...]:
    reps = tuple(sorted(candidates, key=lambda r: r.id))
    if any(a.id == b.id for a, b in itertools.pairwise(reps)):
        raise ValueError("a rep appears twice among the candidates")
    return reps


def _excluded(reasons: Mapping[int, list[tuple[str, dict[str, Any]]]]) -> dict[int, Verdict]:
    return {rep: Verdict(rep, found[0][0], found[0][1], tuple([code for code, _ in found[1:]]) if found[1:] else ())
            for rep, found in reasons.items() if found}


@dataclass(frozen=True, slots=True)
class _Base:
    """The inputs every outcome records."""

    lead: LeadSnapshot
    reps: tuple[RepState, ...]
    policy: CompiledPolicy
    now: datetime
    match: PoolMatch
    track: Track
    state: PoolState
    excluded: Mapping[int, str]

    def decision(self, verdicts: Mapping[int, Verdict], rep_id: int | None, after: PoolState,
                 weights: tuple[Weight, ...] = (), reason: str | None = None) -> Decision:
        spec = self.policy.policy
        return Decision(self.lead, self.reps, spec.name, spec.version, self.policy.hash, self.now,
                        self.match.pool_id, self.match.checks, self.track, "held" if rep_id is None else "assigned",
                        rep_id, reason, tuple(verdicts[r.id] for r in self.reps), weights, self.state, after,
                        self.excluded)

    def held(self, verdicts: Mapping[int, Verdict], reason: str) -> Decision:
        return self.decision(verdicts, None, self.state, reason=reason)

    def pruned(self, after: PoolState, verdicts: Mapping[int, Verdict]) -> PoolState:
        """Departed reps leave the pool state for good, so it does not grow without bound."""
        gone = {rep for rep, v in verdicts.items() if v.code == "departed" or "departed" in v.also}
        if not gone:
            return after
        return replace(after, served=MappingProxyType({r: t for r, t in after.served.items() if r not in gone}),
                       credits=MappingProxyType({r: c for r, c in after.credits.items() if r not in gone}))


def _round_robin(base: _Base, reasons: Mapping[int, list[tuple[str, dict[str, Any]]]],
                 available: list[RepState]) -> Decision:
    chosen, after = round_robin([rep.id for rep in available], base.state)
    verdicts = _excluded(reasons)
    served = base.state.served
    for rep in available:
        params = {"last_served": served.get(rep.id), "ticket": after.ticket}
        code = CHOSEN if rep.id == chosen else "not_this_turn"
        verdicts[rep.id] = Verdict(rep.id, code, params if code == CHOSEN else {**params, "chosen": chosen})
    return base.decision(verdicts, chosen, base.pruned(after, verdicts))


def _weighted(base: _Base, reasons: Mapping[int, list[tuple[str, dict[str, Any]]]],
              available: list[RepState]) -> Decision:
    settings = base.policy.policy.weighted
    members = [rep for rep in base.reps if not reasons[rep.id] or reasons[rep.id][0][0] not in NOT_MEMBER]
    priors = prior_rates(members, settings)
    raw = {rep.id: _weight(rep, priors[rep.id], settings) for rep in available}
    juniors = frozenset(rep.id for rep in available if rep.level == "junior")
    shares = guarded_shares({r: parts[-1] for r, parts in raw.items()}, juniors, settings)
    chosen, after = by_credit(shares, base.state, settings.pick)
    weights = tuple(Weight(rep.id, rep.wins, rep.deals, priors[rep.id], *raw[rep.id], shares[rep.id],
                           base.state.credits.get(rep.id, 0), after.credits[rep.id]) for rep in available)
    verdicts = _excluded(reasons)
    for w in weights:
        params = {"credit": w.credit_before / SCALE, "share": w.share / SCALE}
        verdicts[w.rep_id] = Verdict(w.rep_id, CHOSEN if w.rep_id == chosen else "lower_weight",
                                     params if w.rep_id == chosen else {**params, "chosen": chosen})
    return base.decision(verdicts, chosen, base.pruned(after, verdicts), weights)


def _weight(rep: RepState, prior: float, settings: Weighted) -> tuple[float, float, float, float]:
    """(shrunk win rate, quota factor, load factor, their product)."""
    rate = shrunk_rate(rep.wins, rep.deals, prior, settings.prior_deals)
    quota, load = quota_factor(rep.quota_attainment, settings), load_factor(rep, settings)
    return rate, quota, load, rate * quota * load


# --- manual assignment -----------------------------------------------------------------------------


def assign_manually(lead: LeadSnapshot, candidates: Sequence[RepState], policy: CompiledPolicy, state: PoolState,
                    now: datetime, *, rep_id: int, match: PoolMatch | None = None,
                    excluded: Mapping[int, str] | None = None) -> Decision:
    """A supervisor gives the lead to ``rep_id`` (track ``manual``); the pool state is unchanged.

    ``Refused`` when the rep is not a candidate at all, is excluded from this decision, or fails a rule in
    ``NEVER_OVERRIDDEN``. Presence, working hours, caps and pool membership may be overridden: the chosen
    verdict lists each overridden reason with its details (``params["overrides"]``, codes in ``also``).
    Every other rep is screened as the policy would have screened them; those available read ``not_named``.
    """
    now = as_utc(now)
    match = match or select_pool(lead, policy)
    if state.pool_id != match.pool_id:
        raise ValueError(f"state of pool {state.pool_id!r} given for a lead of pool {match.pool_id!r}")
    reps, out = _unique_sorted(candidates), _exclusions(excluded)
    named = next((rep for rep in reps if rep.id == rep_id), None)
    if named is None:
        raise Refused(rep_id, "not_a_rep")
    if rep_id in out:
        raise Refused(rep_id, out[rep_id])
    pool, track = policy.pool(match.pool_id), _track(lead, policy)
    overrides = _named_reasons(named, lead, pool, policy, track, now)
    refused = next(((code, params) for code, params in overrides if code in NEVER_OVERRIDDEN), None)
    if refused is not None:
        raise Refused(rep_id, *refused)
    verdicts = _excluded({rep.id: _excluding(screen(rep, lead, pool, policy.policy, track, now), out.get(rep.id))
                          for rep in reps if rep.id != rep_id})
    for rep in reps:
        if rep.id != rep_id and rep.id not in verdicts:
            verdicts[rep.id] = Verdict(rep.id, "not_named", {"chosen": rep_id})
    verdicts[rep_id] = Verdict(rep_id, CHOSEN, {"named": True, "overrides": [
        {"code": code, "params": params} for code, params in overrides]}, tuple(code for code, _ in overrides))
    base = _Base(lead, reps, policy, now, match, "manual", state, out)
    return base.decision(verdicts, rep_id, state)


def _named_reasons(rep: RepState, lead: LeadSnapshot, pool: CompiledPool, policy: CompiledPolicy, track: Track,
                   now: datetime) -> list[Reason]:
    """Every reason the policy would have passed the rep over, membership included: ``screen`` stops at
    membership, so a non-member is screened again against the same pool with its member lists cleared
    (the key-account condition stays, and refuses a rep without the grant)."""
    outside = screen(rep, lead, pool, policy.policy, track, now)
    if not outside or outside[0][0] not in NOT_MEMBER:
        return outside
    open_pool = replace(pool, lists=(), match_lead=())
    return [*outside, *screen(rep, lead, open_pool, policy.policy, track, now)]


# --- holding queue and replay ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Escalation:
    pool_id: str
    supervisor: str | None  # None: the policy names nobody; the caller asks the pool's team supervisors
    due_at: datetime


def escalation(held_since: datetime, policy: CompiledPolicy, pool_id: str) -> Escalation:
    """When a lead held in ``pool_id`` escalates and to whom: the pool's own wait and supervisor, else the
    policy's ``holding`` defaults. The wait is wall-clock minutes, not working minutes."""
    spec, holding = policy.pool(pool_id).spec, policy.policy.holding
    minutes = spec.escalate_after_minutes or holding.escalate_after_minutes
    return Escalation(pool_id, spec.supervisor or holding.supervisor, as_utc(held_since) + timedelta(minutes=minutes))


def escalate_due(held_since: datetime, now: datetime, policy: CompiledPolicy, *, pool_id: str) -> Escalation | None:
    """The escalation once it is due (``now`` at or past ``due_at``), else None."""
    found = escalation(held_since, policy, pool_id)
    return found if as_utc(now) >= found.due_at else None


def replay(record: Decision | Mapping[str, Any], policy: CompiledPolicy) -> Decision:
    """Recompute a recorded decision from its recorded inputs. Equal ``to_dict()`` means it is proven;
    ``PolicyMismatch`` when ``policy`` is not the version the decision was made under."""
    recorded = record if isinstance(record, Decision) else Decision.from_dict(record)
    if recorded.policy_hash != policy.hash:
        raise PolicyMismatch(f"decision made under policy {recorded.policy_hash[:12]}, given {policy.hash[:12]}")
    if recorded.track == "manual" and recorded.rep_id is not None:
        return assign_manually(recorded.lead, recorded.candidates, policy, recorded.state_before, recorded.now,
                               rep_id=recorded.rep_id, excluded=recorded.excluded)
    return decide(recorded.lead, recorded.candidates, policy, recorded.state_before, recorded.now,
                  excluded=recorded.excluded)
