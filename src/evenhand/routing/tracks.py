"""The two tracks: who is next in the rotation, and who is due under the weights.

Round robin (ordinary leads): the available rep served *least recently* gets the lead; a rep never
served counts as served before everyone; ties go to the lower rep id. When everyone is available this
is a strict rotation in rep-id order. A rep who was away keeps their place in the queue: on return they
get the next lead — one lead, never a burst, because no debt is kept — and then go to the back. Among
reps available throughout any stretch of time, leads go in strict queue order, so their counts over
that stretch never differ by more than one. Unlike a pointer into a fixed rotation this stays exact
when the pool's membership depends on the lead (``match_lead``) or changes.

Weighted (high-value leads): each available rep's credit grows by their share of the lead; the chosen
rep's credit drops by one lead. A credit is therefore exactly "leads the policy meant this rep to have,
for the time they were available, minus leads received". Two pick rules:

* ``smooth`` — nginx's smooth weighted round robin: the highest credit wins. With fixed weights it
  can drift up to ~1.7 leads from the share when several heavy reps tie (measured), though it is the
  steadier of the two when availability changes often.
* ``deadline`` (default) — Tijdeman's rule for the chairman-assignment problem: among reps at least
  ``1/(2n-2)`` of a lead behind, the one who would fall a full lead behind soonest; anyone already a full
  lead behind, or nobody eligible, falls back to the highest credit. With fixed weights every rep stays
  strictly within one lead of their share at every moment (theorem); with presence changing and weights
  drifting the bound is not guaranteed — simulations stay below about 1.3 leads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from types import MappingProxyType

from evenhand.routing.policy import Weighted
from evenhand.routing.values import SCALE, PoolState, RepState


def round_robin(available: Sequence[int], state: PoolState) -> tuple[int, PoolState]:
    chosen = min(available, key=lambda rep: (state.served.get(rep, -1), rep))
    ticket = state.ticket + 1
    return chosen, replace(state, seq=state.seq + 1, ticket=ticket,
                           served=MappingProxyType({**state.served, chosen: ticket}))


def by_credit(shares: Mapping[int, int], state: PoolState, rule: str) -> tuple[int, PoolState]:
    """``shares`` (rep id → millionths, summing to ``SCALE``) are added, then the pick pays one lead."""
    credits = {**state.credits}
    for rep, share in shares.items():
        credits[rep] = credits.get(rep, 0) + share
    chosen = _deadline(credits, shares) if rule == "deadline" else _highest(credits, shares)
    credits[chosen] -= SCALE
    return chosen, replace(state, seq=state.seq + 1, credits=MappingProxyType(credits))


def _highest(credits: Mapping[int, int], shares: Mapping[int, int]) -> int:
    return max(shares, key=lambda rep: (credits[rep], -rep))


def _deadline(credits: Mapping[int, int], shares: Mapping[int, int]) -> int:
    """Integer arithmetic throughout, so the pick is the same on every machine."""
    top = _highest(credits, shares)
    n = len(shares)
    if n == 1 or credits[top] >= SCALE:
        return top
    eligible = [rep for rep in shares if shares[rep] > 0 and credits[rep] * (2 * n - 2) >= SCALE]
    if not eligible:
        return top
    due = {rep: Fraction((2 * n - 3) * SCALE - (2 * n - 2) * credits[rep], shares[rep]) for rep in eligible}
    return min(eligible, key=lambda rep: (due[rep], rep))


# --- weights ---------------------------------------------------------------------------------------


def prior_rates(members: Sequence[RepState], settings: Weighted) -> dict[int, float]:
    """Each member's prior: the win rate of their team (or the whole pool) among the members given,
    falling back to the pool's and then to ``default_win_rate`` when the scope has no deals."""
    pool = _rate(members, settings.default_win_rate)
    if settings.prior_scope == "pool":
        return {rep.id: pool for rep in members}
    teams = {team: _rate([m for m in members if m.team == team], pool) for team in {m.team for m in members}}
    return {rep.id: teams[rep.team] for rep in members}


def _rate(reps: Sequence[RepState], fallback: float) -> float:
    deals = sum(r.deals for r in reps)
    return sum(r.wins for r in reps) / deals if deals > 0 else fallback


def shrunk_rate(wins: int, deals: int, prior: float, strength: float) -> float:
    """Beta-prior mean: the prior counts as ``strength`` deals (1 win in 2 deals is not a 50% closer)."""
    if deals + strength <= 0:
        return prior
    return (wins + strength * prior) / (deals + strength)


def quota_factor(attainment: float | None, settings: Weighted) -> float:
    if attainment is None or settings.quota.favour == "none":
        return 1.0
    gap = 1.0 - min(max(attainment, 0.0), 2.0)
    return math.exp(settings.quota.strength * (gap if settings.quota.favour == "behind" else -gap))


def load_factor(rep: RepState, settings: Weighted) -> float:
    ratio = rep.open_leads / rep.max_open_leads if rep.max_open_leads > 0 else 1.0
    return 1.0 / (1.0 + settings.load_penalty * ratio)


def guarded_shares(weights: Mapping[int, float], juniors: frozenset[int], settings: Weighted) -> dict[int, int]:
    """Weights → shares of this lead in millionths (summing to ``SCALE``), after the guardrails:
    juniors together get at least ``junior_share`` (their weights scaled up, relative order kept),
    then no one more than ``max_share`` (the excess spread over the others by weight)."""
    total = sum(weights.values())
    p = {r: (w / total if total > 0 else 1.0 / len(weights)) for r, w in weights.items()}
    p = _junior_floor(p, juniors, settings.junior_share)
    if settings.max_share is not None:
        p = _capped(p, settings.max_share)
    return _quantised(p)


def _junior_floor(p: dict[int, float], juniors: frozenset[int], floor: float) -> dict[int, float]:
    young = sum(v for r, v in p.items() if r in juniors)
    if floor <= 0 or young <= 0 or young >= floor or young >= 1.0:
        return p
    scale_young, scale_old = floor / young, (1.0 - floor) / (1.0 - young)
    return {r: v * (scale_young if r in juniors else scale_old) for r, v in p.items()}


def _capped(p: dict[int, float], cap: float) -> dict[int, float]:
    """Water-filling; when the cap cannot be met (fewer than 1/cap reps) everyone gets an equal share."""
    if cap * len(p) < 1.0:
        return {r: 1.0 / len(p) for r in p}
    fixed: set[int] = set()
    while over := {r for r, v in p.items() if v > cap and r not in fixed}:
        fixed |= over
        free = sum(v for r, v in p.items() if r not in fixed)
        room = 1.0 - cap * len(fixed)
        p = {r: cap if r in fixed else (v * room / free if free > 0 else room / (len(p) - len(fixed)))
             for r, v in p.items()}
    return p


def _quantised(p: Mapping[int, float]) -> dict[int, int]:
    """Largest-remainder rounding, ties to the lower rep id, so shares add up to exactly one lead."""
    raw = {r: v * SCALE for r, v in p.items()}
    out = {r: math.floor(v) for r, v in raw.items()}
    short = SCALE - sum(out.values())
    for rep in sorted(raw, key=lambda r: (out[r] - raw[r], r))[:short]:
        out[rep] += 1
    return out
