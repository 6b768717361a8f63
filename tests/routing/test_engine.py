"""Pool selection, tracks, holding and escalation, evidence, and replay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from evenhand.routing import Decision, PolicyMismatch, PoolState, decide, escalate_due, explain, replay, select_pool
from evenhand.routing.engine import escalation
from evenhand.routing.reasons import REASONS
from tests.routing.factory import NOW, OFFICE, lead, policy, rep, state

POOLS = [
    {"id": "mfg_east", "condition": 'lead.region == "east" && lead.industry in ["制造业","零售"]',
     "members": {"teams": ["中小企业部华东组"]}, "supervisor": "wangqiang", "escalate_after_minutes": 10},
    {"id": "big", "condition": "lead.company_size >= 300", "members": {"departments": ["key_accounts"]}},
    {"id": "rest", "members": {"users": ["rep1"]}},
]


class TestPoolSelection:
    def test_first_matching_pool_wins(self) -> None:
        match = select_pool(lead(industry="零售", company_size=5000), policy(POOLS))
        assert match.pool_id == "mfg_east" and [c.pool_id for c in match.checks] == ["mfg_east"]

    def test_conditions_are_tried_in_order_and_recorded(self) -> None:
        match = select_pool(lead(industry="金融", company_size=500), policy(POOLS))
        assert match.pool_id == "big"
        assert [(c.pool_id, c.matched) for c in match.checks] == [("mfg_east", False), ("big", True)]

    def test_runtime_error_is_no_match_with_the_error_recorded(self) -> None:
        match = select_pool(lead(industry="金融", company_size=None), policy(POOLS))
        assert match.pool_id == "rest"
        assert match.checks[1].matched is False and "overload" in (match.checks[1].error or "")

    def test_non_boolean_result_is_no_match(self) -> None:
        pools = [{"id": "odd", "condition": "lead.region"}, {"id": "rest"}]
        check = select_pool(lead(), policy(pools)).checks[0]
        assert check.matched is False and check.error == "not a bool: 'east'"

    def test_state_of_another_pool_is_refused(self) -> None:
        with pytest.raises(ValueError, match="state of pool"):
            decide(lead(industry="金融"), [rep(1)], policy(POOLS), PoolState("mfg_east"), NOW)


class TestTracks:
    def test_threshold_splits_the_tracks(self) -> None:
        p = policy(threshold_high_value=70)
        assert decide(lead(score=69), [rep(1)], p, state(), NOW).track == "round_robin"
        high = decide(lead(score=70), [rep(1)], p, state(), NOW)
        assert high.track == "weighted" and [w.rep_id for w in high.weights] == [1]

    def test_state_advances_only_when_assigned(self) -> None:
        d = decide(lead(), [rep(1), rep(2)], policy(), state(), NOW)
        assert d.outcome == "assigned" and d.state_after.seq == 1 and d.state_after.served == {1: 1}
        held = decide(lead(), [rep(1, presence="offline")], policy(), d.state_after, NOW)
        assert held.outcome == "held" and held.state_after == d.state_after

    def test_candidates_are_considered_in_id_order_whatever_the_input_order(self) -> None:
        a = decide(lead(), [rep(3), rep(1), rep(2)], policy(), state(), NOW)
        b = decide(lead(), [rep(1), rep(2), rep(3)], policy(), state(), NOW)
        assert a == b and [v.rep_id for v in a.verdicts] == [1, 2, 3]

    def test_duplicate_candidates_are_refused(self) -> None:
        with pytest.raises(ValueError, match="twice"):
            decide(lead(), [rep(1), rep(1)], policy(), state(), NOW)

    def test_departed_reps_leave_the_pool_state(self) -> None:
        before = PoolState("all", seq=4, ticket=4, served={1: 3, 2: 4}, credits={1: 5, 2: -5})
        d = decide(lead(), [rep(1), rep(2, left_on=NOW.date(), active=False)], policy(), before, NOW)
        assert d.state_after.served == {1: 5} and d.state_after.credits == {1: 5}


class TestHolding:
    def test_nobody_available_is_held_with_every_reason(self) -> None:
        d = decide(lead(), [rep(1, presence="offline"), rep(2, active=False)], policy(), state(), NOW)
        assert (d.outcome, d.rep_id, d.reason) == ("held", None, "nobody_available")
        assert [v.code for v in d.verdicts] == ["offline", "inactive"]

    def test_empty_pool_is_held(self) -> None:
        d = decide(lead(industry="金融"), [rep(2)], policy(POOLS), PoolState("rest"), NOW)
        assert (d.outcome, d.reason) == ("held", "pool_has_no_members")
        assert decide(lead(), [], policy(), state(), NOW).reason == "pool_has_no_members"

    def test_escalation_uses_the_pools_wait_and_supervisor(self) -> None:
        p = policy(POOLS, holding={"escalate_after_minutes": 45, "supervisor": "lina"})
        assert escalate_due(NOW, NOW + timedelta(minutes=9, seconds=59), p, pool_id="mfg_east") is None
        due = escalate_due(NOW, NOW + timedelta(minutes=10), p, pool_id="mfg_east")
        assert due is not None and due.supervisor == "wangqiang" and due.due_at == NOW + timedelta(minutes=10)

    def test_escalation_falls_back_to_the_policy_defaults(self) -> None:
        p = policy(POOLS, holding={"escalate_after_minutes": 45, "supervisor": "lina"})
        assert escalate_due(NOW, NOW + timedelta(minutes=44), p, pool_id="big") is None
        assert escalation(NOW, p, "big").supervisor == "lina"
        assert escalate_due(NOW.replace(tzinfo=None), NOW + timedelta(minutes=45), p, pool_id="big") is not None
        assert escalation(NOW, policy(), "all").supervisor is None


class TestEvidence:
    def test_round_trip_through_json(self) -> None:
        p = policy(weighted={"junior_share": 0.3})
        reps = [rep(1, wins=3, deals=9, quota_attainment=0.4, open_leads=7, level="junior"),
                rep(2, working_hours={"mon": (("22:00", "02:00"),)}, leaves=((NOW.date(), NOW.date()),)),
                rep(3, skills=("制造业",), product_lines=("bi",), grants=("key_account",), wins=1, deals=1)]
        for score in (50, 95):
            d = decide(lead(score=score), reps, p, PoolState("all", credits={3: 123}), NOW)
            record = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
            assert Decision.from_dict(record) == d
            assert replay(record, p).to_dict() == record

    def test_naive_times_are_utc_in_the_record(self) -> None:
        d = decide(lead(), [rep(4, presence="away", presence_since=NOW.replace(tzinfo=None))], policy(), state(),
                   NOW.replace(tzinfo=None))
        record = json.loads(json.dumps(d.to_dict()))
        assert record["now"] == record["candidates"][0]["presence_since"] == "2026-03-02T02:00:00+00:00"
        assert replay(record, policy()).to_dict() == record

    def test_outsiders_are_recorded_by_membership_alone_and_still_replay(self) -> None:
        p = policy(POOLS)
        outsider = rep(7, team="渠道部华东组", open_leads=9, wins=3, deals=4, working_hours=OFFICE)
        d = decide(lead(), [rep(1, team="中小企业部华东组"), outsider], p, PoolState("mfg_east"), NOW)
        record = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
        assert set(record["candidates"][1]) == {"id", "username", "level", "team", "department", "region", "skills",
                                                 "product_lines", "grants"}
        assert Decision.from_dict(record).to_dict() == record
        assert replay(record, p).to_dict() == record

    def test_replay_gives_the_identical_decision(self) -> None:
        p = policy()
        d = decide(lead(score=90), [rep(1), rep(2, wins=5, deals=6)], p, state(), NOW)
        assert replay(json.loads(json.dumps(d.to_dict())), p).to_dict() == d.to_dict()

    def test_replay_under_another_policy_is_refused(self) -> None:
        d = decide(lead(), [rep(1)], policy(), state(), NOW)
        with pytest.raises(PolicyMismatch):
            replay(d.to_dict(), policy(threshold_high_value=60))

    def test_every_verdict_can_be_explained(self) -> None:
        d = decide(lead(), [rep(1), rep(2), rep(3, presence="offline"), rep(4, leads_today=20)], policy(), state(),
                   NOW)
        assert [explain(v) for v in d.verdicts] == [REASONS["chosen"], REASONS["not_this_turn"], "Offline.",
                                                  "Already received 20 leads today (limit 20)."]
