"""What-if replay without a database: the replay with its holding queue, the comparison, and the diagram (R4.7)."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from evenhand.routing import PoolState, decide, select_pool
from evenhand.routing.compare import compare, conversion_rates, per_rep
from evenhand.routing.diagram import flowchart, label
from evenhand.routing.policy import default_text
from evenhand.routing.rerun import FOREVER, Arrival, Presence, Roster, rerun
from evenhand.routing.values import RepState
from tests.routing.factory import NOW, OFFICE, lead, policy, rep

ZONE = ZoneInfo("Asia/Shanghai")
DAY = NOW.astimezone(ZONE).date()  # Monday 2 March 2026; NOW is 10:00 there


def roster(*reps: RepState, days: int = 3, **kwargs: object) -> Roster:
    return Roster(ZONE, {DAY + timedelta(days=n): tuple(reps) for n in range(days)}, **kwargs)  # type: ignore[arg-type]


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


class TestHoldingQueue:
    def test_a_lead_arriving_after_hours_is_routed_when_the_working_day_begins(self) -> None:
        office = rep(1, working_hours=OFFICE)
        arrivals = [Arrival(at(10), lead(1)), Arrival(at(25), lead(2))]  # Mon 20:00, Tue 11:00
        result = rerun(arrivals, roster(office), policy())
        first, second = result.assignments
        assert (first.lead_id, first.rep_id, first.waited) == (1, 1, timedelta(hours=13))  # Tue 09:00
        assert (second.lead_id, second.waited) == (2, timedelta(0)) and result.held == ()

    def test_leads_still_waiting_when_the_range_ends_are_held(self) -> None:
        result = rerun([Arrival(at(10), lead(1))], roster(rep(1, working_hours=OFFICE)), policy(), until=at(14))
        assert result.held == (1,) and result.assignments == ()
        assert result.tally.held == 0  # the tally counts assignments; the held ones are listed

    def test_a_recorded_presence_change_releases_the_queue_at_its_moment(self) -> None:
        presence = {1: Presence.of("offline", [(at(1), "online")])}
        result = rerun([Arrival(at(0), lead(1))], roster(rep(1), presence=presence), policy(), until=at(5))
        assert [(a.rep_id, a.waited) for a in result.assignments] == [(1, timedelta(hours=1))]

    def test_held_leads_go_oldest_first(self) -> None:
        presence = {1: Presence.of("offline", [(at(1), "online")])}
        arrivals = [Arrival(at(0.1 * n), lead(k)) for n, k in enumerate((3, 1, 2))]
        result = rerun(arrivals, roster(rep(1), presence=presence), policy(), until=at(5))
        assert [a.lead_id for a in result.assignments] == [3, 1, 2]


class TestCounts:
    def test_open_leads_carried_into_the_range_count_until_they_close(self) -> None:
        carried = {1: (at(2), FOREVER)}  # two open leads at the start, one closes at +2 h
        arrivals = [Arrival(at(1), lead(1)), Arrival(at(3), lead(2))]
        result = rerun(arrivals, roster(rep(1, max_open_leads=2), carried=carried), policy(), until=at(4))
        assert result.held == (1,) and [a.lead_id for a in result.assignments] == [2]
        assert result.assignments[0].waited == timedelta(0)  # lead 2 arrived after the carried lead closed

    def test_a_replayed_lead_counts_as_open_until_the_real_lead_closed(self) -> None:
        arrivals = [Arrival(at(0), lead(1), closes_at=at(1)), Arrival(at(0.5), lead(2)), Arrival(at(2), lead(3))]
        result = rerun(arrivals, roster(rep(1, max_open_leads=1)), policy(), until=at(3))
        assert [a.lead_id for a in result.assignments] == [1, 3] and result.held == (2,)

    def test_daily_caps_count_this_replay_and_reset_at_local_midnight(self) -> None:
        arrivals = [Arrival(at(k * 0.1), lead(k)) for k in range(3)] + [Arrival(at(15), lead(9))]  # +15 h: Tue 01:00
        result = rerun(arrivals, roster(rep(1, daily_lead_cap=2)), policy(), until=at(16))
        assert [a.lead_id for a in result.assignments] == [0, 1, 2, 9]
        assert result.assignments[2].waited == timedelta(hours=13, minutes=48)  # from 10:12 to midnight


def test_the_replay_decides_exactly_as_the_engine_with_every_rep_worked_out() -> None:
    """Shortcuts (only pool members, idle reps not counted) change nothing: a seeded day of presence changes
    and working hours gives the same owners as deciding each lead with every rep's full state."""
    rnd = random.Random(20260302)
    p = policy([{"id": "vip", "condition": "lead.score >= 90", "members": {"match_lead": ["region"]}},
                {"id": "rest", "members": {"match_lead": ["region"]}}])
    reps = [rep(i, region="east" if i <= 6 else "south", working_hours=OFFICE if i % 3 else {},
                level="junior" if i % 2 else "senior", wins=i, deals=10, daily_lead_cap=100) for i in range(1, 11)]
    always = {3, 9}  # no schedule and never offline: nobody waits, so both sides see the same moments
    presence = {r.id: Presence.of("online", [(at(rnd.uniform(0, 7)), rnd.choice(["online", "offline", "away"]))
                                             for _ in range(4)]) for r in reps if r.id not in always}
    arrivals = [Arrival(at(k * 0.1), lead(k, score=rnd.choice([40, 60, 85, 95]),
                                         region=rnd.choice(["east", "south"]))) for k in range(60)]
    result = rerun(arrivals, roster(*reps, presence=presence), p)
    states: dict[str, PoolState] = {}
    counts: dict[int, int] = {}
    expected = {}
    for arrival in arrivals:
        full = [replace(r, presence=presence[r.id].at(arrival.at) if r.id in presence else r.presence,
                        open_leads=counts.get(r.id, 0), leads_today=counts.get(r.id, 0),
                        leads_this_week=counts.get(r.id, 0)) for r in reps]
        match = select_pool(arrival.lead, p)
        decision = decide(arrival.lead, full, p, states.get(match.pool_id) or PoolState(match.pool_id), arrival.at,
                          match=match)
        assert decision.outcome == "assigned" and decision.rep_id is not None
        states[match.pool_id] = decision.state_after
        counts[decision.rep_id] = counts.get(decision.rep_id, 0) + 1
        expected[arrival.lead.id] = decision.rep_id
    assert result.owners() == expected and result.held == ()


class TestComparison:
    def test_conversion_rates_shrink_towards_the_team_and_the_team_towards_everyone(self) -> None:
        records = [(1, False, 10, 5), (2, False, 30, 3), (3, False, 60, 12)]
        rates = conversion_rates(records, {1: "A", 2: "A", 3: "B", 4: "A"}, prior=20)
        org = 20 / 100
        team_a = (8 + 20 * org) / (40 + 20)
        assert rates.of(1, False) == pytest.approx((5 + 20 * team_a) / (10 + 20))
        assert rates.of(4, False) == pytest.approx(team_a)  # no history: the team's rate, not zero
        assert rates.of(1, True) == pytest.approx(0.0)  # nobody closed a high-value lead yet

    def test_a_candidate_that_drops_a_team_moves_its_leads_and_the_figures_say_so(self) -> None:
        reps = (rep(1, team="A"), rep(2, team="A"), rep(3, team="B"))
        arrivals = [Arrival(at(k * 0.1), lead(k, score=90 if k % 3 == 0 else 50)) for k in range(9)]
        current = rerun(arrivals, roster(*reps), policy())
        candidate = rerun(arrivals, roster(*reps), policy([{"id": "all", "members": {"teams": ["A"]}}]))
        rates = conversion_rates([(1, False, 10, 5), (3, False, 10, 1)], {1: "A", 2: "A", 3: "B"})
        result = compare(current, candidate, rates=rates, threshold=80, names={1: "甲", 2: "乙", 3: "丙"},
                         team_of={1: "A", 2: "A", 3: "B"}, actual={3: 4})
        rows = {r["name"]: r for r in result["reps"]}
        assert [r["current"]["leads"] for r in result["reps"]] == [3, 3, 3]
        assert (rows["丙"]["candidate"]["leads"], rows["丙"]["difference"]["leads"], rows["丙"]["actual"]) == (0, -3, 4)
        assert sum(r["difference"]["leads"] for r in result["reps"]) == 0
        assert result["difference"]["moved"] == sum(1 for lead_id, owner in candidate.owners().items()
                                                    if current.owners()[lead_id] != owner) >= 3
        conversions = per_rep(candidate, rates, 80)
        assert result["candidate"]["expected_conversions"] == pytest.approx(
            sum(f.expected_conversions for f in conversions.values()), abs=0.01)
        assert {t["team"] for t in result["teams"]} == {"A", "B"}
        assert result["teams"][1]["candidate"] is None  # team B received nothing and was never available


class TestDiagram:
    def test_pools_are_drawn_in_order_with_their_conditions_then_the_tracks(self) -> None:
        from evenhand.routing.policy_versions import compiled_body

        text = flowchart(compiled_body(default_text()))
        lines = text.splitlines()
        assert lines[0] == "flowchart TD"
        assert "  lead --> c0" in lines and "  c0 -->|no| c1" in lines and "  c1 -->|no| p2" in lines
        assert [line.split("[")[0].strip() for line in lines if re.match(r"\s+p\d\[", line)] == ["p0", "p1", "p2"]
        assert "Score at least 80?" in text and "avail -->|nobody| hold" in text
        assert "key#95;accounts" not in text and "(key_accounts)" not in text  # ids shown, brackets coded
        assert "#40;key_accounts#41;" in text

    def test_policy_text_cannot_break_out_of_a_label(self) -> None:
        hostile = 'x"]; click p0 call alert(1)\n<img src=x onerror=alert(1)> #amp; |no|'
        text = flowchart(policy([{"id": "all", "label": hostile}], name='名称 "引号"'))
        node = next(line for line in text.splitlines() if line.startswith("  p0["))
        assert node.count('"') == 2 and node.endswith('"]')
        assert "<img" not in text and "click p0" in node and "\n<" not in text
        assert "#34;" in node and "#60;img" in node and "#35;amp#59;" in node and "#124;no#124;" in node
        assert len(text.splitlines()) == len(flowchart(policy([{"id": "all"}])).splitlines())

    def test_long_text_is_cut(self) -> None:
        assert label("长" * 500).endswith("…") and len(label("长" * 500)) == 160


def test_a_moment_outside_the_roster_days_uses_the_nearest_day() -> None:
    r = roster(rep(1), days=2)
    assert r.day_of(at(-48)) == DAY and r.day_of(at(24 * 10)) == DAY + timedelta(days=1)
    assert r.day_of(datetime(2026, 3, 2, 16, 0, tzinfo=UTC)) == date(2026, 3, 3)  # 00:00 in Shanghai
