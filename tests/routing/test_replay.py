"""Replay identity: any decision, serialised to JSON and back, recomputes to the same record."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from evenhand.routing import PoolState, decide, replay, select_pool
from tests.routing.factory import NOW, OFFICE, lead, policy, rep

POLICY = policy([
    {"id": "big", "condition": "lead.company_size != null && lead.company_size >= 300", "key_account": True,
     "members": {"departments": ["key_accounts"], "match_lead": ["region"]}},
    {"id": "rest", "members": {"levels": ["junior", "senior"], "match_lead": ["region"]}},
], weighted={"junior_share": 0.25, "max_share": 0.6, "max_per_day": 3}, availability={"weekly_lead_cap": 40})

reps = st.builds(
    lambda i, dept, region, level, presence, hours, zone, leave, wins, deals, quota, open_, today, grant: rep(
        i, department=dept, region=region, level=level, presence=presence, working_hours=OFFICE if hours else {},
        timezone=zone, leaves=((date(2026, 3, 2), date(2026, 3, 3)),) if leave else (), wins=min(wins, deals),
        deals=deals, quota_attainment=quota, open_leads=open_, leads_today=today,
        grants=("key_account",) if grant else ()),
    st.integers(1, 40), st.sampled_from(["smb", "key_accounts"]), st.sampled_from(["east", "south"]),
    st.sampled_from(["junior", "senior"]), st.sampled_from(["online", "online", "away", "offline"]), st.booleans(),
    st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin"]), st.booleans(), st.integers(0, 40),
    st.integers(0, 60), st.none() | st.floats(0, 3), st.integers(0, 60), st.integers(0, 25), st.booleans())
leads = st.builds(lambda k, score, region, size: lead(k, score=score, region=region, company_size=size),
                  st.integers(1, 10**6), st.integers(0, 100), st.sampled_from(["east", "south", None]),
                  st.none() | st.integers(1, 5000))


@settings(max_examples=150, deadline=None)
@given(st.lists(reps, min_size=0, max_size=12, unique_by=lambda r: r.id), st.lists(leads, min_size=1, max_size=8),
       st.integers(0, 7 * 24 * 60))
def test_every_decision_replays_identically(candidates: list, sequence: list, minutes: int) -> None:  # type: ignore[type-arg]
    now = NOW + timedelta(minutes=minutes)
    states: dict[str, PoolState] = {}
    for item in sequence:
        pool_id = select_pool(item, POLICY).pool_id
        d = decide(item, candidates, POLICY, states.get(pool_id, PoolState(pool_id)), now)
        states[pool_id] = d.state_after
        record = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
        assert replay(record, POLICY).to_dict() == record
        assert len(d.verdicts) == len(candidates) and (d.rep_id is None) == (d.outcome == "held")


def test_a_reps_record_belongs_to_its_state_and_to_the_caller() -> None:
    """Each state's record is made once and shared by the decisions that state goes into: a record handed out may be
    changed without changing the next one, and another state (a count moved on) gets its own."""
    pool = POLICY.pool("rest")
    first = rep(7, open_leads=2, leads_today=1)
    one = decide(lead(1), [first], POLICY, PoolState(pool.id), NOW).to_dict()
    one["candidates"][0]["open_leads"] = 99
    two = decide(lead(2), [first], POLICY, PoolState(pool.id), NOW).to_dict()
    moved = replace(first, open_leads=3, leads_today=2)
    three = decide(lead(3), [moved], POLICY, PoolState(pool.id), NOW).to_dict()
    assert two["candidates"][0]["open_leads"] == 2 and three["candidates"][0]["open_leads"] == 3
    assert [c["leads_today"] for c in (two["candidates"][0], three["candidates"][0])] == [1, 2]
    assert three["candidates"] == [moved.to_dict()]
    state = PoolState(pool.id, seq=3, ticket=2, served={7: 2})
    before = state.to_dict()
    before["seq"] = 0
    assert state.to_dict()["seq"] == 3 and replace(state, seq=4).to_dict()["seq"] == 4
