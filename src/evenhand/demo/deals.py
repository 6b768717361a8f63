"""Opportunities (商机): discount, size, the stages they pass and whether they are won.

A rep's habit of discounting raises the chance to win and the size of the package the customer
takes (more seats at a lower unit price); it also costs satisfaction later (see customers.py).
Opportunities from before the window are the existing customer base whose renewals fall inside it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.assign import department_of
from evenhand.demo.catalog import CHANNELS, PRODUCTS
from evenhand.demo.frame import Frame
from evenhand.demo.leads import Leads, attributes, join, subset
from evenhand.demo.org import Org, handover
from evenhand.demo.records import Table
from evenhand.demo.worktime import DAY, HOUR

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
STAGES = ("qualification", "needs_analysis", "proposal", "negotiation")
STAGE_DAYS = np.array([6.0, 10.0, 12.0, 9.0])
DEPT_PACE = np.array([1.5, 0.8, 1.0])  # 大客户部 deals take longer
LOSS_STAGE = np.array([0.35, 0.3, 0.2, 0.15])
LEGACY_DEALS = 1300


@dataclass(frozen=True)
class Seeds:
    """Where opportunities come from: converted leads, or the customer base before the window."""

    lead_id: I64  # 0 when the opportunity predates lead tracking
    owner: I64
    created: I64
    leads: Leads  # attributes of the company behind each opportunity (row-aligned)


@dataclass(frozen=True)
class Deals:
    seeds: Seeds
    owner: I64  # after hand-overs
    discount: F64
    amount: F64
    won: NDArray[np.bool_]
    closed_at: I64  # -1 while open at the snapshot
    stage: list[str]
    times: I64  # [n, 5] entry into each open stage, then the close
    last: I64  # index of the last open stage entered before the close


def lead_seeds(leads: Leads, converted: NDArray[np.bool_], decided: I64, owner: I64, org: Org) -> Seeds:
    idx = np.flatnonzero(converted)
    created = decided[idx]
    return Seeds(idx + 1, handover(owner[idx], created, org.traits), created, subset(leads, idx))


def legacy_seeds(org: Org, frame: Frame, rng: np.random.Generator, rnd: random.Random) -> Seeds:
    n = round(LEGACY_DEALS * frame.scale)
    lo, hi = frame.ts(frame.legacy_start), frame.start_ts - 60 * DAY
    created = np.sort(frame.cal.add(rng.integers(lo, hi, n), rng.uniform(0, 4 * HOUR, n)))
    channel = rng.choice(len(CHANNELS), n)
    company = attributes(created, channel, rng, rnd)
    company = replace(company, intent=company.intent + 0.4)
    owner = _legacy_owners(company, org, frame, rng)
    return Seeds(np.zeros(n, dtype=np.int64), owner, created, company)


def combine(a: Seeds, b: Seeds) -> Seeds:
    """Both sets of seeds, ordered by creation so opportunity ids follow time."""
    created = np.concatenate([a.created, b.created])
    order = np.argsort(created, kind="stable")
    return Seeds(np.concatenate([a.lead_id, b.lead_id])[order], np.concatenate([a.owner, b.owner])[order],
                 created[order], subset(join(a.leads, b.leads), order))


def _legacy_owners(company: Leads, org: Org, frame: Frame, rng: np.random.Generator) -> I64:
    t = org.traits
    days = frame.cal.day_index(company.created)
    teams = {(tm.department, tm.region): tm.id for tm in org.teams}
    weight = np.select([t.favourite, t.senior], [3.0, 1.5], 1.0) * t.is_rep
    owners = []
    for d, r, day, u in zip(department_of(company).tolist(), company.region.tolist(), days.tolist(),
                            rng.random(len(days)).tolist(), strict=True):
        here = (t.team == teams[(d, r)]) & org.available[:, day]
        if not here.any():
            here = (t.dept == d) & org.available[:, day]
        w = np.cumsum(weight * here)
        owners.append(int(np.searchsorted(w, u * w[-1], side="right")))
    return np.array(owners, dtype=np.int64)


def run_deals(seeds: Seeds, org: Org, frame: Frame, rng: np.random.Generator) -> Deals:
    t, n = org.traits, len(seeds.created)
    rep = seeds.owner
    discount = np.clip(rng.normal(t.discount_mean[rep], np.where(t.discount_mean[rep] > 0.1, 0.05, 0.02)), 0, 0.45)
    discount = np.round(discount * 200) / 200
    logit = -0.45 + 0.7 * seeds.leads.intent + 2.0 * (t.skill[rep] - 1) + 6.0 * (discount - 0.03)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    times = _stage_times(seeds, org, frame, rng)
    last = np.where(won, 3, rng.choice(4, n, p=LOSS_STAGE))
    close = times[np.arange(n), last + 1]
    closed = close <= frame.now
    reached = (times <= frame.now) & (np.arange(5)[None, :] <= last[:, None])
    stage_idx = reached[:, :4].sum(axis=1) - 1
    stage = np.where(closed, np.where(won, "won", "lost"), np.array(STAGES)[np.maximum(stage_idx, 0)])
    owner = handover(rep, np.where(closed, close, frame.now), t)
    return Deals(seeds, owner, discount, _amount(seeds, discount, rng, t.dept[rep]), won,
                 np.where(closed, close, -1), stage.tolist(), times, last)


def _stage_times(seeds: Seeds, org: Org, frame: Frame, rng: np.random.Generator) -> I64:
    """Entry instants of the four open stages and the close, each at a working moment."""
    n = len(seeds.created)
    pace = DEPT_PACE[org.traits.dept[seeds.owner]]
    days = rng.gamma(2.0, 0.5, (n, 4)) * STAGE_DAYS[None, :] * pace[:, None] + 0.5
    raw = seeds.created[:, None] + (np.cumsum(days, axis=1) * DAY).astype(np.int64)
    snapped = frame.cal.add(raw.ravel(), rng.uniform(0, 3 * HOUR, raw.size)).reshape(n, 4)
    times = np.concatenate([seeds.created[:, None], snapped], axis=1)
    return np.maximum.accumulate(times, axis=1)


def _amount(seeds: Seeds, discount: F64, rng: np.random.Generator, dept: I64) -> F64:
    """List price scaled by company size; discounters sell bigger packages at a lower unit price."""
    price = np.array([p.annual_price for p in PRODUCTS])[seeds.leads.product]
    size = np.clip(seeds.leads.size, 20, 20_000) / 200
    bundle = (1 + 4.0 * discount) * (1 - discount) * np.where(dept == 0, 1.3, 1.0)
    return np.round(price * size**0.6 * bundle * rng.lognormal(0, 0.3, len(price)), -2)


def opportunity_tables(deals: Deals, account_id: I64, org: Org, frame: Frame) -> tuple[Table, Table]:
    """The opportunities and their stage history, ids in order of creation."""
    s, n, times = deals.seeds, len(deals.seeds.created), deals.times
    product_names = [PRODUCTS[p].name for p in s.leads.product.tolist()]
    stage_changed = np.where(deals.closed_at >= 0, deals.closed_at,
                             np.max(np.where(times[:, :4] <= frame.now, times[:, :4], 0), axis=1))
    opps = Table("opportunities", {
        "id": np.arange(1, n + 1), "name": [f"{c} · {p}" for c, p in zip(s.leads.company, product_names, strict=True)],
        "lead_id": [int(x) if x else None for x in s.lead_id.tolist()],
        "account_id": [int(a) if a else None for a in account_id.tolist()], "owner_id": deals.owner,
        "product_line_id": s.leads.product + 1, "stage": deals.stage, "amount": deals.amount,
        "discount_pct": np.round(deals.discount * 100, 2), "stage_changed_at": stage_changed,
        "closed_at": deals.closed_at, "created_at": s.created,
    }, ("stage_changed_at", "closed_at", "created_at"))
    return opps, _stage_changes(deals, org, frame)


def _stage_changes(deals: Deals, org: Org, frame: Frame) -> Table:
    """One row per stage entered, then the close; only what happened by the snapshot."""
    n, times, last = len(deals.times), deals.times, deals.last
    names = np.array([*STAGES, "won", "lost"])
    j = np.arange(5)[None, :]
    closing = j == last[:, None] + 1
    to_idx = np.where(closing, np.where(deals.won, 4, 5)[:, None], j)
    keep = (j <= last[:, None] + 1) & (times <= frame.now)
    opp = np.broadcast_to(np.arange(1, n + 1)[:, None], (n, 5))[keep]
    at = times[keep]
    owner = handover(np.broadcast_to(deals.seeds.owner[:, None], (n, 5))[keep], at, org.traits)
    from_idx = np.broadcast_to(j - 1, (n, 5))[keep]
    return Table("stage_changes", {
        "id": np.arange(1, len(at) + 1), "opportunity_id": opp,
        "from_stage": [None if f < 0 else str(names[f]) for f in from_idx.tolist()],
        "to_stage": names[to_idx[keep]].tolist(), "changed_at": at, "changed_by_id": owner,
    }, ("changed_at",))
