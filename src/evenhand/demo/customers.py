"""After the sale: accounts, contracts, cash collected, surveys and renewals.

A customer's satisfaction depends on the service the rep gives and on the discount they were
sold: a deep discount usually came with cut service, and the customer feels it. Satisfaction
shows in CSAT and NPS answers and decides whether the contract is renewed a year later.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.catalog import INDUSTRIES, REGIONS
from evenhand.demo.deals import Deals
from evenhand.demo.frame import Frame
from evenhand.demo.org import Org, handover
from evenhand.demo.records import Table
from evenhand.demo.worktime import DAY, HOUR, OFFSET

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
TERM_DAYS = 365


@dataclass(frozen=True)
class Book:
    account_of_deal: I64  # per opportunity: its account id, 0 when not won by the snapshot
    accounts: Table
    contracts: Table
    payments: Table
    surveys: Table


@dataclass(frozen=True)
class _Contracts:
    account: I64
    opportunity: I64  # 0 for renewals
    owner: I64
    kind: list[str]
    amount: F64
    signed: I64
    start_day: I64  # local day numbers
    end_day: I64
    satisfaction: F64
    renewed: list[bool | None]


def customer_book(deals: Deals, org: Org, frame: Frame, rng: np.random.Generator) -> Book:
    won = np.flatnonzero(deals.won & (deals.closed_at >= 0))
    account_of_deal = np.zeros(len(deals.won), dtype=np.int64)
    account_of_deal[won] = np.arange(1, len(won) + 1)
    first = _new_contracts(deals, won, org, rng)
    renewed, renewal = _renewals(first, org, frame, rng)
    contracts = _merge(replace(first, renewed=renewed), renewal)
    return Book(account_of_deal, _accounts(deals, won, org, frame), _contract_table(contracts),
                _payments(contracts, frame, rng), _surveys(contracts, org, frame, rng))


def _accounts(deals: Deals, won: I64, org: Org, frame: Frame) -> Table:
    c = deals.seeds.leads
    return Table("accounts", {
        "id": np.arange(1, len(won) + 1), "name": [c.company[i] for i in won.tolist()],
        "industry": [INDUSTRIES[i].name for i in c.industry[won].tolist()],
        "region": [REGIONS[r].code for r in c.region[won].tolist()],
        "owner_id": handover(deals.owner[won], np.full(len(won), frame.now), org.traits),
        "created_at": deals.closed_at[won],
    }, ("created_at",))


def _new_contracts(deals: Deals, won: I64, org: Org, rng: np.random.Generator) -> _Contracts:
    n, owner = len(won), deals.owner[won]
    signed = deals.closed_at[won]
    start = (signed + OFFSET) // DAY + rng.integers(0, 15, n)
    quality = org.traits.quality[owner]
    satisfaction = rng.normal(0.6 + quality - 4.5 * deals.discount[won], 0.7)
    return _Contracts(np.arange(1, n + 1), won + 1, owner, ["new"] * n, deals.amount[won], signed, start,
                      start + TERM_DAYS - 1, satisfaction, [None] * n)


def _renewals(first: _Contracts, org: Org, frame: Frame,
              rng: np.random.Generator) -> tuple[list[bool | None], _Contracts]:
    """Each first-year contract comes up for renewal a few weeks before it ends."""
    n = len(first.signed)
    decision_day = first.end_day - rng.integers(5, 31, n)
    decided_at = frame.cal.next_open(decision_day * DAY - OFFSET + rng.integers(10 * HOUR, 17 * HOUR, n))
    decided = decided_at <= frame.now
    renews = rng.random(n) < 1 / (1 + np.exp(-(0.5 + 1.7 * first.satisfaction)))
    renewed = [bool(r) if d else None for r, d in zip(renews.tolist(), decided.tolist(), strict=True)]
    idx = np.flatnonzero(decided & renews)
    uplift = rng.uniform(1.0, 1.08, len(idx))
    amount = np.round(first.amount[idx] * uplift, -2)
    start = first.end_day[idx] + 1
    owner = handover(first.owner[idx], decided_at[idx], org.traits)
    satisfaction = first.satisfaction[idx] + rng.normal(0, 0.3, len(idx))
    return renewed, _Contracts(first.account[idx], np.zeros(len(idx), dtype=np.int64), owner,
                               ["renewal"] * len(idx), amount, decided_at[idx], start, start + TERM_DAYS - 1,
                               satisfaction, [None] * len(idx))


def _merge(a: _Contracts, b: _Contracts) -> _Contracts:
    values: dict[str, Any] = {}
    for f in fields(_Contracts):
        x, y = getattr(a, f.name), getattr(b, f.name)
        values[f.name] = np.concatenate([x, y]) if isinstance(x, np.ndarray) else [*x, *y]
    return _Contracts(**values)


def _contract_table(c: _Contracts) -> Table:
    n = len(c.signed)
    return Table("contracts", {
        "id": np.arange(1, n + 1), "account_id": c.account,
        "opportunity_id": [int(o) if o else None for o in c.opportunity.tolist()], "owner_id": c.owner,
        "kind": c.kind, "amount": c.amount, "signed_at": c.signed, "starts_on": _dates(c.start_day),
        "ends_on": _dates(c.end_day), "renewed": c.renewed, "created_at": c.signed,
    }, ("signed_at", "created_at"))


def _payments(c: _Contracts, frame: Frame, rng: np.random.Generator) -> Table:
    """Instalments over the first ten months; most arrive a little after they fall due, a few very late."""
    parts = np.select([c.amount < 80_000, c.amount < 250_000], [1, 2], 4)
    contract = np.repeat(np.arange(len(parts)), parts)
    k = np.arange(len(contract)) - np.repeat(np.cumsum(parts) - parts, parts)
    due = c.start_day[contract] + 20 + k * (300 // parts[contract])
    late = rng.lognormal(np.log(7), 0.8, len(contract)) + (rng.random(len(contract)) < 0.05) * rng.uniform(60, 120)
    received = frame.cal.next_open((due + late.astype(np.int64)) * DAY - OFFSET + 10 * HOUR)
    share = np.round(c.amount[contract] / parts[contract], 2)
    keep = received <= frame.now
    return Table("payments", {
        "id": np.arange(1, int(keep.sum()) + 1), "contract_id": contract[keep] + 1, "amount": share[keep],
        "received_at": received[keep],
    }, ("received_at",))


def _surveys(c: _Contracts, org: Org, frame: Frame, rng: np.random.Generator) -> Table:
    n = len(c.signed)
    csat_at = c.start_day * DAY - OFFSET + rng.integers(45, 76, n) * DAY + rng.integers(9 * HOUR, 20 * HOUR, n)
    nps_at = c.start_day * DAY - OFFSET + rng.integers(150, 211, n) * DAY + rng.integers(9 * HOUR, 20 * HOUR, n)
    csat = np.clip(np.round(3.8 + 0.9 * c.satisfaction + rng.normal(0, 0.5, n)), 1, 5)
    nps = np.clip(np.round(7.3 + 1.8 * c.satisfaction + rng.normal(0, 1.2, n)), 0, 10)
    answers = rng.random((2, n)) < np.array([[0.75], [0.6]])
    at = np.concatenate([csat_at, nps_at])
    keep = np.concatenate(answers) & (at <= frame.now)
    owner = np.concatenate([c.owner, c.owner])
    kind = np.array(["csat"] * n + ["nps"] * n)[keep]
    order = np.argsort(at[keep], kind="stable")
    return Table("survey_responses", {
        "id": np.arange(1, int(keep.sum()) + 1), "account_id": np.concatenate([c.account, c.account])[keep][order],
        "rep_id": handover(owner[keep], at[keep], org.traits)[order], "kind": kind[order].tolist(),
        "score": np.concatenate([csat, nps]).astype(np.int64)[keep][order], "responded_at": at[keep][order],
    }, ("responded_at",))


def _dates(day_numbers: I64) -> list[date]:
    return list(day_numbers.astype("datetime64[D]").tolist())
