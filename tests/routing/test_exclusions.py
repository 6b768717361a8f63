"""Reps left out of one decision (an appellant, the owner a lead is taken from) and manual assignment
by a supervisor: both are decisions with evidence, and both replay from their record."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from evenhand.routing import Decision, Verdict, decide, explain, replay
from evenhand.routing.engine import NEVER_OVERRIDDEN, Refused, assign_manually
from evenhand.routing.fairness import expected_share
from evenhand.routing.reasons import REASONS
from evenhand.routing.values import EXCLUSIONS, PoolState
from tests.routing.factory import NOW, lead, policy, rep, state

POOLS = [{"id": "east", "members": {"regions": ["east"]}}]


def roundtrip(decision: Decision) -> dict[str, Any]:
    return json.loads(json.dumps(decision.to_dict(), ensure_ascii=False))


class TestExclusions:
    def test_an_excluded_member_is_passed_over_with_that_verdict(self) -> None:
        reps = [rep(1), rep(2), rep(3, region="south")]
        d = decide(lead(), reps, policy(POOLS), state("east"), NOW, excluded={1: "appealed", 3: "previous_owner"})
        assert d.rep_id == 2
        assert [(v.rep_id, v.code) for v in d.verdicts] == [(1, "appealed"), (2, "chosen"), (3, "not_in_pool")]
        assert d.excluded == {1: "appealed", 3: "previous_owner"}

    def test_the_exclusion_comes_first_and_other_reasons_follow(self) -> None:
        d = decide(lead(), [rep(1, presence="offline"), rep(2)], policy(), state(), NOW,
                   excluded={1: "previous_owner"})
        verdict = d.verdict_for(1)
        assert verdict is not None and (verdict.code, verdict.also) == ("previous_owner", ("offline",))

    def test_without_exclusions_the_rotation_would_have_picked_the_excluded_rep(self) -> None:
        before = PoolState("all", seq=2, ticket=2, served={1: 1, 2: 2})
        assert decide(lead(), [rep(1), rep(2)], policy(), before, NOW).rep_id == 1
        d = decide(lead(), [rep(1), rep(2)], policy(), before, NOW, excluded={1: "appealed"})
        assert d.rep_id == 2 and d.state_after.served == {1: 1, 2: 3}

    def test_everyone_excluded_is_held(self) -> None:
        d = decide(lead(), [rep(1)], policy(), state(), NOW, excluded={1: "appealed"})
        assert (d.outcome, d.reason, d.state_after) == ("held", "nobody_available", d.state_before)

    def test_the_weighted_track_honours_exclusions_too(self) -> None:
        d = decide(lead(score=95), [rep(1, wins=9, deals=10), rep(2)], policy(), state(), NOW,
                   excluded={1: "appealed"})
        assert d.track == "weighted" and d.rep_id == 2 and [w.rep_id for w in d.weights] == [2]

    def test_exclusions_are_recorded_and_replay(self) -> None:
        d = decide(lead(), [rep(1), rep(2), rep(3)], policy(), state(), NOW, excluded={2: "appealed"})
        record = roundtrip(d)
        assert record["excluded"] == {"2": "appealed"}
        assert Decision.from_dict(record) == d
        assert replay(record, policy()).to_dict() == record

    def test_a_record_from_before_exclusions_reads_as_none_and_replays(self) -> None:
        d = decide(lead(), [rep(1), rep(2)], policy(), state(), NOW)
        record = roundtrip(d)
        assert "excluded" not in record
        assert Decision.from_dict(record).excluded == {}
        assert replay(record, policy()).to_dict() == record

    def test_unknown_codes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown exclusion"):
            decide(lead(), [rep(1)], policy(), state(), NOW, excluded={1: "disliked"})

    def test_every_exclusion_code_reads_in_words(self) -> None:
        assert set(REASONS) >= EXCLUSIONS
        assert explain(Verdict(1, "appealed")) == REASONS["appealed"]


class TestManual:
    def test_the_named_rep_gets_the_lead_and_the_pool_state_stays(self) -> None:
        before = PoolState("all", seq=5, ticket=5, served={1: 4, 2: 5})
        d = assign_manually(lead(), [rep(1), rep(2)], policy(), before, NOW, rep_id=2)
        assert (d.track, d.outcome, d.rep_id) == ("manual", "assigned", 2)
        assert d.state_after == before
        assert [(v.rep_id, v.code) for v in d.verdicts] == [(1, "not_named"), (2, "chosen")]
        assert d.verdict_for(2).params == {"named": True, "overrides": []}  # type: ignore[union-attr]

    def test_presence_hours_and_caps_are_overridden_and_recorded(self) -> None:
        named = rep(1, presence="offline", leads_today=20, daily_lead_cap=20, working_hours={"sat": ()})
        d = assign_manually(lead(), [named, rep(2)], policy(), state(), NOW, rep_id=1)
        verdict = d.verdict_for(1)
        assert verdict is not None and verdict.code == "chosen"
        assert verdict.also == ("offline", "outside_working_hours", "at_daily_cap")
        assert verdict.params["overrides"][2] == {"code": "at_daily_cap", "params": {"count": 20, "cap": 20}}
        assert explain(verdict).startswith("Named by a supervisor, overriding: Offline.")

    def test_a_rep_outside_the_pool_may_be_named_and_the_membership_is_an_override(self) -> None:
        d = assign_manually(lead(), [rep(1), rep(2, region="south", presence="away")], policy(POOLS),
                            PoolState("east"), NOW, rep_id=2)
        assert d.verdict_for(2).also == ("not_in_pool", "away")  # type: ignore[union-attr]
        assert d.verdict_for(1).code == "not_named"  # type: ignore[union-attr]

    @pytest.mark.parametrize(("overrides", "code"), [
        ({"left_on": NOW.date() - timedelta(days=1)}, "departed"),
        ({"active": False}, "inactive"),
        ({"leaves": ((NOW.date(), NOW.date()),)}, "on_leave"),
    ])
    def test_departed_inactive_and_on_leave_reps_are_refused(self, overrides: dict[str, Any], code: str) -> None:
        with pytest.raises(Refused) as refused:
            assign_manually(lead(), [rep(1, **overrides), rep(2)], policy(), state(), NOW, rep_id=1)
        assert (refused.value.rep_id, refused.value.code) == (1, code) and code in NEVER_OVERRIDDEN

    def test_the_key_account_grant_is_never_overridden(self) -> None:
        pools = [{"id": "ka", "key_account": True, "members": {"regions": ["south"]}}]
        with pytest.raises(Refused) as refused:
            assign_manually(lead(), [rep(1)], policy(pools), PoolState("ka"), NOW, rep_id=1)
        assert refused.value.code == "no_key_account_grant"
        granted = assign_manually(lead(), [rep(1, grants=("key_account",))], policy(pools), PoolState("ka"), NOW,
                                  rep_id=1)
        assert granted.verdict_for(1).also == ("not_in_pool",)  # type: ignore[union-attr]

    def test_an_excluded_or_unknown_rep_cannot_be_named(self) -> None:
        with pytest.raises(Refused) as excluded:
            assign_manually(lead(), [rep(1), rep(2)], policy(), state(), NOW, rep_id=1, excluded={1: "appealed"})
        assert excluded.value.code == "appealed"
        with pytest.raises(Refused) as unknown:
            assign_manually(lead(), [rep(1)], policy(), state(), NOW, rep_id=9)
        assert unknown.value.code == "not_a_rep"

    def test_a_manual_decision_replays_exactly(self) -> None:
        reps = [rep(1, presence="offline"), rep(2), rep(3, active=False), rep(4, region="south")]
        d = assign_manually(lead(score=90), reps, policy(POOLS), PoolState("east", seq=3, ticket=1), NOW, rep_id=1,
                            excluded={2: "previous_owner"})
        record = roundtrip(d)
        assert record["track"] == "manual" and record["excluded"] == {"2": "previous_owner"}
        assert [v["code"] for v in record["verdicts"]] == ["chosen", "previous_owner", "inactive", "not_in_pool"]
        assert replay(record, policy(POOLS)).to_dict() == record

    def test_the_policy_meant_a_manual_lead_for_the_named_rep_alone(self) -> None:
        d = assign_manually(lead(), [rep(1), rep(2), rep(3)], policy(), state(), NOW, rep_id=3)
        assert expected_share(d) == {3: 1.0}
