"""The fairness report's arithmetic on plain rows, against hand-computed figures (see factory.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from scipy import stats

from evenhand.reports.monthly import Month, Person, TeamInfo, Unrouted, compute
from evenhand.routing import decide
from evenhand.routing.fairness import Tally, gini
from tests.reports.factory import MARCH, inputs
from tests.routing.factory import NOW, lead, policy, rep, state


class TestMonth:
    def test_parse_and_bounds_in_the_organisation_zone(self) -> None:
        month = Month.parse("2026-03")
        assert (month.first, month.last, len(month.days())) == (date(2026, 3, 1), date(2026, 3, 31), 31)
        start, end = month.bounds(ZoneInfo("Asia/Shanghai"))
        assert start.astimezone(UTC) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
        assert end.astimezone(UTC) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
        assert Month.parse("2026-01").previous() == Month(2025, 12)
        assert Month.parse("2024-02").last == date(2024, 2, 29)

    @pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "26-03", "March", "", "1999-12", "2026-03-01"])
    def test_anything_else_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            Month.parse(text)


def test_equal_share_of_the_reps_at_work_each_day() -> None:
    team = compute(inputs()).teams[0]
    rows = {r.rep_id: r for r in team.reps}
    # by username (liming, wangfang, zhaolei); the supervisor and the rep hired later are not listed
    assert list(rows) == [2, 1, 3]
    assert rows[1].expected == pytest.approx(1 / 3 + 1 / 2 + 1 / 2 + 1 / 2)
    assert rows[2].expected == pytest.approx(1 / 3 + 1 / 2 + 1 / 2)
    assert rows[3].expected == pytest.approx(1 / 3 + 1 / 2)
    assert (rows[1].leads, rows[2].leads, rows[3].leads) == (3, 1, 0)
    assert rows[1].expected_share == pytest.approx(11 / 24)
    assert rows[1].actual_share == pytest.approx(3 / 4)
    assert rows[3].actual_share == 0.0
    assert {r.evidence for r in team.reps} == {"equal_share"} and team.evidence == "equal_share"
    assert (team.leads, team.routed, team.unrouted) == (4, 0, 4)


def test_high_value_share_conversion_and_value() -> None:
    team = compute(inputs()).teams[0]
    rows = {r.rep_id: r for r in team.reps}
    assert team.high_value == 2  # scores 90 and 85 reach the policy's 80
    assert (rows[1].high_value, rows[1].high_value_share) == (1, 0.5)
    assert (rows[3].high_value, rows[3].high_value_share) == (0, 0.0)
    # Lead 103 was won, but by rep 1, who did not receive it: it counts for nobody.
    assert (rows[1].won, rows[1].conversion_rate) == (1, pytest.approx(1 / 3))
    assert (rows[2].won, rows[2].conversion_rate, rows[3].conversion_rate) == (0, 0.0, None)
    assert (rows[1].value, rows[2].value, rows[3].value) == (180, 85, 0)
    # Gini over 0, 85, 180: (0·(−2) + 85·0 + 180·2) / (3 · 265)
    assert team.gini == pytest.approx(360 / 795)


def test_too_few_leads_for_a_test_is_said_so() -> None:
    team = compute(inputs()).teams[0]
    assert team.chi_square is None and team.verdict == "too_few"


def test_chi_square_matches_scipy_on_hand_counts() -> None:
    reps = [Person(i, f"销售{i}", f"rep{i}", 1) for i in (1, 2, 3)]
    counts = {1: 16, 2: 8, 3: 6}
    leads = [Unrouted(100 * r + k, r, date(2026, 3, 2 + k % 20), 50) for r, n in counts.items() for k in range(n)]
    team = compute(inputs(people=reps, unrouted=leads, won=frozenset(), appeals=[])).teams[0]
    test = team.chi_square
    assert test is not None and test.dof == 2 and test.merged == 0
    assert test.statistic == pytest.approx((6**2 + 2**2 + 4**2) / 10)
    assert test.p_value == pytest.approx(stats.chisquare([16, 8, 6], [10, 10, 10]).pvalue)
    assert test.p_value == pytest.approx(2.718281828 ** -2.8)  # with 2 degrees of freedom p = e^(−χ²/2)
    assert team.verdict == "consistent"


def test_appeals_of_the_team_with_outcomes_and_median_time() -> None:
    team = compute(inputs()).teams[0]
    assert team.appeals.filed == 3  # appeal 4 belongs to another team
    assert team.appeals.by_status == {"open": 1, "upheld": 1, "rescored": 0, "reassigned": 1, "withdrawn": 0}
    assert team.appeals.median_hours_to_decision == pytest.approx(4.0)
    assert [a.id for a in team.appeal_rows] == [1, 2, 3]


def _routed() -> list:  # type: ignore[type-arg]
    """Four ordinary leads round robin between reps 4 and 5, then one high-value lead weighted."""
    reps = [rep(4, deals=10, wins=8), rep(5, deals=10, wins=2)]
    current, out = state(), []
    for k, score in enumerate([40, 50, 60, 70, 95]):
        decision = decide(lead(200 + k, score=score), reps, policy(), current, NOW)
        current = decision.state_after
        out.append(decision)
    return out


def test_routed_decisions_are_the_yardstick_and_mixed_months_say_so() -> None:
    decisions = _routed()
    reps = [Person(4, "钱多", "qian", 2), Person(5, "孙少", "sun", 2)]
    extra = [Unrouted(300, 4, date(2026, 3, 3), 30)]
    report = compute(inputs(teams=[TeamInfo(2, "华东组")], people=reps, decisions=decisions, unrouted=extra,
                            won=frozenset(), appeals=[]))
    team = report.teams[0]
    rows = {r.rep_id: r for r in team.reps}
    routed = Tally()
    for decision in decisions:
        routed.add(decision)
    weighted = {w.rep_id: w.share / 1_000_000 for w in decisions[-1].weights}
    assert rows[4].expected == pytest.approx(4 * 0.5 + weighted[4] + 0.5)
    assert rows[5].expected == pytest.approx(4 * 0.5 + weighted[5] + 0.5)
    assert rows[4].leads + rows[5].leads == 6
    assert (team.routed, team.unrouted, team.evidence) == (5, 1, "mixed")
    assert rows[4].evidence == "mixed" and rows[4].unrouted == 1
    assert team.high_value == 1  # the 95


def test_a_rep_who_received_a_lead_counts_even_if_not_listed_at_work() -> None:
    """Data says the rep left before the lead: they still received it, so they are among the eligible."""
    reps = [Person(1, "甲", "a", 1, left_on=date(2026, 3, 1)), Person(2, "乙", "b", 1)]
    team = compute(inputs(people=reps, unrouted=[Unrouted(1, 1, date(2026, 3, 9), 60)], won=frozenset(),
                          appeals=[])).teams[0]
    rows = {r.rep_id: r for r in team.reps}
    assert (rows[1].expected, rows[2].expected) == (0.5, 0.5)


def test_tally_add_equal() -> None:
    tally = Tally()
    tally.add_equal(1, [2, 3], value=90, high=True)
    tally.add_equal(2, [2], value=10)
    rows = tally.rows
    assert (rows[1].expected, rows[1].actual, rows[1].high_value_actual, rows[1].value) == (pytest.approx(1 / 3), 1,
                                                                                           1, 90)
    assert rows[2].expected == pytest.approx(1 / 3 + 1) and rows[2].available == 2
    assert rows[3].high_value_expected == pytest.approx(1 / 3)


def test_gini_reference_values() -> None:
    assert gini([5, 5, 5]) == 0.0
    assert gini([0, 0, 10]) == pytest.approx(2 / 3)  # (n − 1) / n when one of n has everything
    assert MARCH.label == "2026-03"
