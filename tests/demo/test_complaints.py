"""The demo's complaints: more where the customer was sold a deep discount, each while its contract ran, at the door
of whoever held the account; drawn from a stream of their own, so the rest of the demo is what it was without them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evenhand.demo import simulate as simulate_mod
from evenhand.demo.records import Table
from evenhand.demo.simulate import World, simulate
from tests.demo.conftest import END


@pytest.fixture(scope="module")
def world() -> World:
    return simulate(7, END, scale=1.0)


def tables(world: World) -> dict[str, Table]:
    return {t.name: t for t in world.tables}


def column(table: Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(table.columns[name])


def test_deep_discounts_bring_more_complaints(world: World) -> None:
    found = tables(world)
    deals, contracts, complaints = found["opportunities"], found["contracts"], found["complaints"]
    won_at = {a: d for a, d in zip(deals.columns["account_id"], column(deals, "discount_pct").tolist(), strict=True)
              if a}
    accounts = sorted(set(column(contracts, "account_id").tolist()))
    per_account = np.bincount(column(complaints, "account_id"), minlength=max(accounts) + 1)
    deep = [per_account[a] for a in accounts if won_at.get(a, 0) >= 15]
    others = [per_account[a] for a in accounts if won_at.get(a, 0) < 15]
    assert len(deep) > 100 and len(complaints) > 150
    assert np.mean(deep) > 2 * np.mean(others)


def test_a_complaint_falls_while_a_contract_of_its_account_runs(world: World) -> None:
    found = tables(world)
    contracts, complaints = found["contracts"], found["complaints"]
    at = column(complaints, "received_at")
    assert (np.diff(at) >= 0).all() and at.max() <= world.frame.now
    day = (at + 8 * 3600) // 86_400
    start = np.array(contracts.columns["starts_on"], dtype="datetime64[D]").astype(np.int64)
    end = np.array(contracts.columns["ends_on"], dtype="datetime64[D]").astype(np.int64)
    account = column(contracts, "account_id")
    for a, d in zip(column(complaints, "account_id").tolist(), day.tolist(), strict=True):
        assert ((account == a) & (start <= d) & (d <= end + 10)).any()  # logged on the next open day (after a holiday)
    assert len(set(complaints.columns["external_id"])) == len(complaints)
    assert set(column(complaints, "rep_id").tolist()) <= {u for u in found["users"].columns["id"]}


def test_the_rest_of_the_demo_is_what_it_was_without_complaints(monkeypatch: pytest.MonkeyPatch) -> None:
    def digest(world: World) -> dict[str, str]:
        return {t.name: repr({k: list(v) for k, v in t.columns.items()}) for t in world.tables
                if t.name != "complaints"}

    with_them = digest(simulate(11, END, scale=0.05))
    monkeypatch.setattr(simulate_mod, "complaint_table", lambda *args: Table("complaints", {}))
    assert digest(simulate(11, END, scale=0.05)) == with_them
