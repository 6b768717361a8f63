"""Complaints (客户投诉) about the service a customer gets while its contract runs.

They have the causes satisfaction has in ``customers``: the service quality of the rep who looks after the account,
and the discount the customer was first sold at — a deep discount usually came with cut service, and a customer who
gets less than it was promised complains. A contract's expected satisfaction (0.6 + quality − 4.5 × discount, as
``customers`` draws it) sets its yearly rate of complaints, 0.25 × e^(−1.2 × satisfaction): about one in eight
contracts a year at the average rep's service and no discount, one in two at a 25 % discount.

Complaints are drawn from a random stream of their own, seeded from the demo's seed apart from the phases' streams,
so adding them changed no other figure the demo generates."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.customers import Book
from evenhand.demo.deals import Deals
from evenhand.demo.frame import Frame
from evenhand.demo.org import Org, handover
from evenhand.demo.records import Table
from evenhand.demo.worktime import DAY, HOUR, OFFSET

STREAM = 101  # the spawn key of the complaints' stream; the phases use 0–6
BASE_RATE = 0.25  # complaints a contract-year at satisfaction 0
SENSITIVITY = 1.2
SUMMARIES = ("上门服务次数比签约时承诺的少", "问题反馈后一周没有回复", "承诺的培训没有安排", "实施顾问频繁更换",
             "账单金额与合同不符", "系统出错后迟迟没有人处理")


def complaint_table(book: Book, deals: Deals, org: Org, frame: Frame, seed: int) -> Table:
    """Each contract's complaints over its term up to the snapshot, logged in the service desk's working hours and
    laid at the door of whoever held the account then."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM,)))
    c = book.contracts.columns
    account, owner = np.asarray(c["account_id"]), np.asarray(c["owner_id"])
    start = np.array(c["starts_on"], dtype="datetime64[D]").astype(np.int64)
    end = np.array(c["ends_on"], dtype="datetime64[D]").astype(np.int64)
    rate = BASE_RATE * np.exp(-SENSITIVITY * _satisfaction(book, deals, org, account, owner))
    per = rng.poisson(rate * (end - start + 1) / 365)
    contract = np.repeat(np.arange(len(per)), per)
    day = start[contract] + np.floor(rng.random(len(contract)) * (end - start + 1)[contract]).astype(np.int64)
    at = frame.cal.next_open(day * DAY - OFFSET + rng.integers(8 * HOUR, 20 * HOUR, len(contract)))
    keep = np.flatnonzero(at <= frame.now)
    keep = keep[np.argsort(at[keep], kind="stable")]
    return _table(account[contract[keep]], handover(owner[contract[keep]], at[keep], org.traits), at[keep], rng)


def _satisfaction(book: Book, deals: Deals, org: Org, account: NDArray[np.int64],
                  owner: NDArray[np.int64]) -> NDArray[np.float64]:
    """A contract's expected satisfaction: its rep's service and the discount its account was first won at."""
    won = np.flatnonzero(book.account_of_deal)
    discount = np.zeros(int(book.account_of_deal.max(initial=0)) + 1)
    discount[book.account_of_deal[won]] = deals.discount[won]
    return np.asarray(0.6 + org.traits.quality[owner] - 4.5 * discount[account], dtype=np.float64)


def _table(account: NDArray[np.int64], rep: NDArray[np.int64], at: NDArray[np.int64],
           rng: np.random.Generator) -> Table:
    n = len(at)
    ids = np.arange(1, n + 1)
    return Table("complaints", {
        "id": ids, "source": ["servicedesk"] * n, "external_id": [f"TS-{i:06d}" for i in ids.tolist()],
        "account_id": account, "rep_id": rep, "received_at": at,
        "summary": [SUMMARIES[i] for i in rng.integers(0, len(SUMMARIES), n).tolist()],
    }, ("received_at",))
