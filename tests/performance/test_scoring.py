"""The pure scoring rules: normalisation, weighting, caps, coverage, not enough data, gates and tiers."""

from __future__ import annotations

import pytest

from evenhand.models import Level
from evenhand.performance import scoring
from evenhand.performance.metrics import CATALOG, Measure
from evenhand.performance.template import RepFacts, Scale, Templates, parse

DOC = """
name: test
metrics:
  cash_collected: {target: quota, zero: 0, cap: 120}
  new_contracts: {target: 4, zero: 0, cap: 150}
  first_response: {target: 2, zero: 12}
  renewal_rate: {target: 80, zero: 30}
  complaints: {target: 0, zero: 4}
  discount: {target: 5, zero: 25}
templates:
  - key: standard
    label: {zh-CN: 通用, en: Standard}
    weights:
      junior: {cash_collected: 50, new_contracts: 25, first_response: 25}
      senior: {cash_collected: 40, renewal_rate: 60}
    gates:
      - {metric: renewal_rate, below: 60, cap: 70}
      - {metric: complaints, above: 3, cap: 50}
      - {metric: discount, above: 20, cap: 60}
min_coverage: 60
tiers:
  - {key: gold, label: {zh-CN: 金, en: Gold}, min: 85, grants: [key_account]}
  - {key: silver, label: {zh-CN: 银, en: Silver}, min: 70}
"""


def rep(level: Level = Level.JUNIOR, quota: float = 1000.0) -> RepFacts:
    return RepFacts(user_id=7, level=level, department="sales", region="east", product_lines=frozenset({"cloud"}),
                    monthly_quota=quota)


def card(measures: dict[str, Measure], *, level: Level = Level.JUNIOR, months: int = 1,
         targets: dict[str, float] | None = None, doc: Templates | None = None) -> scoring.Card:
    return scoring.score(doc or parse(DOC), rep(level), measures, months=months, targets=targets)


def metric(found: scoring.Card, key: str) -> scoring.MetricScore:
    return next(m for m in found.metrics if m.metric == key)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (2, 50), (4, 100), (5, 125), (6, 150), (9, 150), (-3, 0)])
def test_points_are_linear_from_zero_to_target_floored_and_capped(value: float, expected: float) -> None:
    assert scoring.points(value, Scale(target=4, zero=0, cap=150), 4) == expected


@pytest.mark.parametrize(("hours", "expected"), [(12, 0), (7, 50), (2, 100), (1, 100), (20, 0)])
def test_lower_is_better_when_the_target_is_below_the_zero(hours: float, expected: float) -> None:
    assert scoring.points(hours, Scale(target=2, zero=12), 2) == expected


def test_a_quota_target_is_the_monthly_quota_times_the_months() -> None:
    found = card({"cash_collected": Measure(1500, 3)}, months=3)
    assert metric(found, "cash_collected").target == 3000
    assert metric(found, "cash_collected").points == 50


def test_a_target_set_for_the_period_wins_over_the_template() -> None:
    found = card({"cash_collected": Measure(1500, 3), "new_contracts": Measure(2, 2)},
                 targets={"cash_collected": 1500, "new_contracts": 8})
    assert metric(found, "cash_collected").points == 100
    assert metric(found, "new_contracts").points == 25


def test_the_total_is_the_weighted_mean_of_the_points() -> None:
    found = card({"cash_collected": Measure(1000, 4), "new_contracts": Measure(2, 2),
                  "first_response": Measure(7, 9)})
    assert found.total == pytest.approx((50 * 100 + 25 * 50 + 25 * 50) / 100)
    assert found.coverage == 100 and found.gate is None and found.template == "standard"


def test_caps_above_100_lift_a_metric_but_the_total_stays_at_most_100() -> None:
    found = card({"cash_collected": Measure(5000, 4), "new_contracts": Measure(10, 10),
                  "first_response": Measure(1, 9)})
    assert metric(found, "cash_collected").points == 120
    assert metric(found, "new_contracts").points == 150
    assert found.total == 100


def test_too_small_a_sample_is_not_enough_data_and_its_weight_is_left_out() -> None:
    assert CATALOG["first_response"].min_sample == 5
    found = card({"cash_collected": Measure(1000, 4), "new_contracts": Measure(2, 2),
                  "first_response": Measure(2, 4)})
    response = metric(found, "first_response")
    assert response.enough is False and response.points is None and response.value == 2
    assert found.coverage == 75
    assert found.total == pytest.approx((50 * 100 + 25 * 50) / 75)


def test_a_metric_nobody_observed_is_not_enough_data() -> None:
    found = card({"cash_collected": Measure(1000, 4), "new_contracts": Measure(2, 2)})
    assert metric(found, "first_response").points is None and metric(found, "first_response").value is None
    assert found.coverage == 75


def test_below_the_minimum_coverage_there_is_no_total_and_no_tier() -> None:
    found = card({"cash_collected": Measure(2000, 4)})  # 50 % of the weight scored, 60 % needed
    assert found.coverage == 50 and found.total is None and found.tier is None


def test_no_quota_means_the_quota_metric_cannot_be_scored() -> None:
    found = scoring.score(parse(DOC), rep(quota=0), {"cash_collected": Measure(500, 2)}, months=1)
    assert metric(found, "cash_collected").enough is False


def test_weights_follow_the_level() -> None:
    found = card({"cash_collected": Measure(1000, 4), "renewal_rate": Measure(80, 10)}, level=Level.SENIOR)
    assert [m.metric for m in found.metrics] == ["cash_collected", "renewal_rate"]
    assert found.total == 100 and found.tier == "gold"


def test_a_level_without_weights_takes_the_first_weights_of_its_template() -> None:
    doc = parse(DOC.replace("      senior: {cash_collected: 40, renewal_rate: 60}\n", ""))
    found = card({"cash_collected": Measure(1000, 4)}, level=Level.SENIOR, doc=doc)
    assert [m.metric for m in found.metrics] == ["cash_collected", "new_contracts", "first_response"]


def test_a_zero_weight_is_left_off_the_card() -> None:
    doc = parse(DOC.replace("new_contracts: 25, first_response: 25", "new_contracts: 0, first_response: 25"))
    assert "new_contracts" not in [m.metric for m in card({}, doc=doc).metrics]


def senior(renewal: float, **more: Measure) -> scoring.Card:
    return card({"cash_collected": Measure(1200, 4), "renewal_rate": Measure(renewal, 10), **more},
                level=Level.SENIOR)


def test_a_gate_caps_the_total_and_is_named() -> None:
    found = senior(55)  # 40 × 120 + 60 × 50 → 78; renewals below 60 cap it at 70
    assert found.total == 70 and found.gate == "renewal_rate" and found.tier == "silver"


def test_a_gate_that_does_not_bind_is_not_named() -> None:
    doc = parse(DOC.replace("cap: 70}", "cap: 90}"))
    found = card({"cash_collected": Measure(1200, 4), "renewal_rate": Measure(55, 10)}, level=Level.SENIOR, doc=doc)
    assert found.total == pytest.approx(78) and found.gate is None


def test_the_lowest_cap_of_the_gates_that_hold_wins() -> None:
    found = senior(55, complaints=Measure(5, 5), discount=Measure(22, 6))
    assert found.total == 50 and found.gate == "complaints"


def test_a_gate_reads_a_metric_the_level_does_not_weigh() -> None:
    found = senior(100, discount=Measure(22, 6))  # discount carries no weight for seniors here
    assert "discount" not in [m.metric for m in found.metrics]
    assert found.total == 60 and found.gate == "discount"


def test_a_gate_on_too_small_a_sample_does_not_hold() -> None:
    assert senior(100, discount=Measure(22, 2)).gate is None  # discount needs 3 deals
    found = senior(55)
    small = card({"cash_collected": Measure(1200, 4), "renewal_rate": Measure(55, 2)}, level=Level.SENIOR)
    assert found.gate == "renewal_rate" and small.gate is None and small.total is None  # 40 % covered


def test_a_gate_exactly_at_its_bound_does_not_hold() -> None:
    assert senior(60).gate is None
    assert senior(100, complaints=Measure(3, 3)).gate is None


@pytest.mark.parametrize(("total", "tier"), [(100, "gold"), (85, "gold"), (84.99, "silver"), (70, "silver"),
                                              (69.9, None), (None, None)])
def test_the_tier_is_the_first_whose_minimum_the_total_reaches(total: float | None, tier: str | None) -> None:
    assert scoring.tier_of(parse(DOC).tiers, total) == tier
