"""Explaining a KPI shift: Adtributor's explanatory power and surprise on hand-computed examples, the ranking on
simulated windows with one cause injected, the funnel trace through upstream KPIs, and the changes linked to the
start — on the demo's own change log."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pytest

from evenhand.demo.changes import plan_changes
from evenhand.demo.frame import Frame
from evenhand.demo.worktime import day_number, local_date
from evenhand.monitor import sources
from evenhand.monitor.detect import Finding
from evenhand.monitor.explain import (
    ChangeRef,
    DimensionExplanation,
    Element,
    FunnelNode,
    Totals,
    adtributor,
    chain,
    explanation_words,
    js_term,
    link_changes,
    trace,
)
from evenhand.monitor.kpis import Kpi


def kpi(id: str, source: str = "notifications", kind: str = "rate", **fields: Any) -> Kpi:
    return Kpi(id, id.replace("_", " "), id, source, kind, **fields)


def finding(kpi: str, started: int, detected: int, effect: float = -0.3) -> Finding:
    return Finding(kpi, "statistical", "two_proportions", "down" if effect < 0 else "up", started, detected,
                   detected, None, 0.5, 0.5 * (1 + effect), effect, 0.001)


RATE = kpi("notification_delivery")
Cells = dict[str, dict[str, Totals]]


def one(explained: list[DimensionExplanation], dimension: str) -> DimensionExplanation:
    return next(e for e in explained if e.dimension == dimension)


def values(explanation: DimensionExplanation) -> set[str]:
    return {e.value for e in explanation.elements}


# --- hand-computed -------------------------------------------------------------------------------------------------


def test_surprise_is_the_jensen_shannon_term_in_bits() -> None:
    assert js_term(0.3, 0.3) == 0
    assert js_term(1.0, 0.0) == pytest.approx(0.5)  # a dimension value that vanished: half a bit
    assert js_term(0.0, 0.4) == pytest.approx(0.2)
    # 0.5 (0.2 log2(0.2/0.4) + 0.6 log2(0.6/0.4)) = 0.5 (-0.2 + 0.6 * 0.5849625)
    assert js_term(0.2, 0.6) == pytest.approx(0.0754888, abs=1e-7)


def test_a_rate_falling_on_one_value_is_all_explained_by_it() -> None:
    base = {"platform": {"android": Totals(100, 90), "ios": Totals(100, 90)}}
    anom = {"platform": {"android": Totals(100, 45), "ios": Totals(100, 90)}}
    [platform] = adtributor(RATE, base, anom)
    [android] = platform.elements
    assert (android.value, android.baseline, android.observed, android.share) == ("android", 0.9, 0.45, 0.5)
    assert android.explanatory_power == pytest.approx(1.0)  # -0.225 / -0.225
    assert android.surprise == pytest.approx(0.0121040, abs=1e-7)
    # volume shares unchanged; delivered shares 1/2 -> 1/3: 0.5 (0.5 log2(0.5/(5/12)) + 1/3 log2((1/3)/(5/12)))
    assert platform.surprise == android.surprise and platform.explanatory_power == pytest.approx(1.0)


def test_a_mix_shift_is_explained_by_the_partial_derivatives_normalised() -> None:
    """Rates unchanged (a 0.5, b 0.1); the volume moved to b: the KPI fell 0.3 -> 0.2. Forecast X = 60, N = 200.
    a: ((25-50)*200 - (50-100)*60) / (200*(200-50)) = -1/15; b: ((15-10)*200 - (150-100)*60) / (200*250) = -0.04;
    normalised by their sum -8/75: a 0.625, b 0.375 — neither reaches 0.67 alone, so both are kept."""
    base = {"channel": {"a": Totals(100, 50), "b": Totals(100, 10)}}
    anom = {"channel": {"a": Totals(50, 25), "b": Totals(150, 15)}}
    [channel] = adtributor(RATE, base, anom)
    powers = {e.value: e.explanatory_power for e in channel.elements}
    assert powers == {"a": pytest.approx(0.625), "b": pytest.approx(0.375)}
    # a: js(1/2, 1/4) + js(5/6, 5/8) = 0.030639 + 0.010771; b: js(1/2, 3/4) + js(1/6, 3/8) = 0.018156 + 0.029658
    surprises = {e.value: e.surprise for e in channel.elements}
    assert surprises == {"a": pytest.approx(0.041410, abs=1e-6), "b": pytest.approx(0.047814, abs=1e-6)}
    assert [e.value for e in channel.elements] == ["b", "a"]  # most surprising first
    assert channel.surprise == pytest.approx(0.089224, abs=1e-6)
    assert {e.value: (e.baseline, e.observed, e.share) for e in channel.elements} == {
        "a": (0.5, 0.5, 0.25), "b": (0.1, 0.1, 0.75)}


def test_a_count_is_a_fundamental_measure_forecast_by_the_windows_lengths() -> None:
    count = kpi("alert_count", source="alerts", kind="count")
    base = {"rule": {"stale": Totals(40, 40), "slow": Totals(16, 16)}}  # four weeks
    anom = {"rule": {"stale": Totals(25, 25), "slow": Totals(4, 4)}}  # one week: forecast 10 and 4
    [rule] = adtributor(count, base, anom, volume_ratio=0.25)
    [stale] = rule.elements
    assert (stale.value, stale.explanatory_power, stale.baseline, stale.observed) == ("stale", 1.0, 10.0, 25.0)
    assert stale.surprise == pytest.approx(js_term(10 / 14, 25 / 29))
    with pytest.raises(ValueError, match="volume_ratio"):
        adtributor(count, base, anom)


def test_a_cohort_rate_compares_numerators_at_equal_age() -> None:
    """The window's cohorts are young: at their ages a converted half as often as its baseline would have,
    b as often. Value c had no cohorts in the window; at the window's age factor (20 expected / 40 matured) it
    is forecast at 0.1 like the others, so its missing volume explains nothing."""
    base = {"channel": {"a": Totals(100, 20), "b": Totals(100, 20), "c": Totals(100, 20)}}
    anom = {"channel": {"a": Totals(100, 5, expected_x=10), "b": Totals(100, 10, expected_x=10)}}
    [channel] = adtributor(kpi("lead_conversion", source="leads"), base, anom)
    [a] = channel.elements
    assert (a.value, a.explanatory_power, a.baseline, a.observed) == ("a", pytest.approx(1.0), 0.1, 0.05)
    matured = {"channel": {"a": Totals(100, 5), "b": Totals(100, 10)}}
    [naive] = adtributor(kpi("lead_conversion", source="leads"), base, matured)
    assert values(naive) == {"a", "b"}  # compared with matured cohorts, b's young cohorts take a share of blame


def test_nothing_changed_explains_nothing() -> None:
    same = {"platform": {"android": Totals(100, 90), "ios": Totals(50, 40)}}
    assert adtributor(RATE, same, same) == []
    assert adtributor(RATE, {}, same) == []  # no baseline, no forecast


# --- simulated windows ---------------------------------------------------------------------------------------------

REGIONS = {"east": 0.4, "north": 0.3, "south": 0.2, "west": 0.1}
CHANNELS = {"website": 0.5, "baidu_ads": 0.3, "trade_show": 0.2}
BEFORE = {("android", "3.1.4"): 0.5, ("ios", "3.1.4"): 0.5}
AFTER = {("android", "3.1.4"): 0.1, ("android", "3.2.0"): 0.25, ("android", "3.2.1"): 0.15,
         ("ios", "3.1.4"): 0.2, ("ios", "3.2.0"): 0.2, ("ios", "3.2.1"): 0.1}
Row = dict[str, str]


def simulate(clients: Mapping[tuple[str, str], float], volume: int, value: Callable[[Row], float],
             seed: int, *, mean: bool = False) -> Cells:
    """Per dimension and value, the totals of ``volume`` rows spread over clients, regions and channels; a
    delivery (binomial) or the sum of exponential durations with mean ``value(row)``."""
    rng = np.random.default_rng(seed)
    cells: Cells = {}
    for (platform, version), w in clients.items():
        for region, wr in REGIONS.items():
            for channel, wc in CHANNELS.items():
                row = {"platform": platform, "app_version": version, "client": sources.client(platform, version),
                       "region": region, "channel": channel}
                n = int(volume * w * wr * wc)
                x = rng.exponential(value(row), n).sum() if mean else rng.binomial(n, value(row))
                _add(cells, row, n, float(x))
    return cells


def _add(cells: Cells, row: Row, n: int, x: float) -> None:
    for dim, val in row.items():
        old = cells.setdefault(dim, {}).get(val, Totals(0, 0))
        cells[dim][val] = Totals(old.n + n, old.x + x)


def android_32(row: Row) -> bool:
    return row["platform"] == "android" and row["app_version"].startswith("3.2")


def test_delivery_lost_on_android_32x_is_explained_by_the_client() -> None:
    base = simulate(BEFORE, 40_000, lambda r: 0.99, seed=1)
    anom = simulate(AFTER, 10_000, lambda r: 0.4 if android_32(r) else 0.99, seed=2)
    explained = adtributor(RATE, base, anom)
    assert explained[0].dimension in {"client", "app_version"}
    assert values(explained[0]) == ({"android 3.2.0", "android 3.2.1"} if explained[0].dimension == "client"
                                    else {"3.2.0", "3.2.1"})
    assert values(one(explained, "client")) == {"android 3.2.0", "android 3.2.1"}
    assert values(one(explained, "platform")) == {"android"}
    client = {e.value: e for e in one(explained, "client").elements}
    assert client["android 3.2.0"].baseline is None  # a new version has no baseline
    assert client["android 3.2.0"].observed == pytest.approx(0.4, abs=0.02)
    assert sum(e.share for e in client.values()) == pytest.approx(0.4, abs=0.01)


@pytest.mark.parametrize(("dimension", "value"), [("region", "north"), ("channel", "baidu_ads"),
                                                  ("region", "west"), ("client", "android 3.1.4")])
def test_one_cause_injected_is_ranked_first(dimension: str, value: str) -> None:
    mix = {("android", "3.1.4"): 0.3, ("android", "3.2.0"): 0.2, ("ios", "3.1.4"): 0.3, ("ios", "3.2.0"): 0.2}
    base = simulate(mix, 40_000, lambda r: 0.95, seed=3)
    anom = simulate(mix, 10_000, lambda r: 0.6 if r[dimension] == value else 0.95, seed=4)
    first = adtributor(RATE, base, anom)[0]
    assert (first.dimension, values(first)) == (dimension, {value})
    assert first.explanatory_power > 0.9


def test_first_response_rising_only_on_android_32x_is_explained_by_the_client() -> None:
    """A mean (hours to first response): 2.1 h everywhere before; 8 h on android 3.2.x after."""
    mean = kpi("first_response_mean", source="leads", kind="mean", unit="hours", good="down")
    base = simulate(BEFORE, 8_000, lambda r: 2.1, seed=5, mean=True)
    anom = simulate(AFTER, 2_000, lambda r: 8.0 if android_32(r) else 2.1, seed=6, mean=True)
    explained = adtributor(mean, base, anom)
    assert explained[0].dimension in {"client", "app_version"}
    client = one(explained, "client")
    assert values(client) == {"android 3.2.0", "android 3.2.1"}
    assert client.explanatory_power == pytest.approx(1.0, abs=0.1)
    assert all(e.observed is not None and 7 < e.observed < 9 for e in client.elements)
    assert values(one(explained, "platform")) == {"android"}
    assert one(explained, "platform").elements[0].baseline == pytest.approx(2.1, abs=0.1)


# --- the funnel ----------------------------------------------------------------------------------------------------

FUNNEL = {k.id: k for k in [
    kpi("lead_conversion", source="leads", upstream=("first_response_mean", "lead_score_mean", "gone")),
    kpi("first_response_mean", source="leads", kind="mean", upstream=("notification_delivery",)),
    kpi("notification_delivery", upstream=("lead_conversion",)),  # a cycle back to the root
    kpi("lead_score_mean", source="leads", kind="mean"),
    kpi("gone"),
]}
CONVERSION = finding("lead_conversion", started=100, detected=110)
RESPONSE = finding("first_response_mean", started=99, detected=103, effect=2.2)
DELIVERY = finding("notification_delivery", started=98, detected=99)


def test_the_trace_follows_shifted_upstream_kpis_and_says_which_held_steady() -> None:
    findings = {"lead_conversion": [finding("lead_conversion", 10, 20), CONVERSION],
                "first_response_mean": [RESPONSE], "notification_delivery": [DELIVERY],
                "lead_score_mean": [finding("lead_score_mean", started=40, detected=45)]}  # long before
    root = trace("lead_conversion", FUNNEL, findings)
    assert (root.status, root.finding) == ("shifted", CONVERSION)  # the latest detected
    assert [(c.kpi, c.status) for c in root.children] == [
        ("first_response_mean", "shifted"), ("lead_score_mean", "steady"), ("gone", "no_data")]
    response = root.children[0]
    assert response.finding == RESPONSE
    assert response.children == (FunnelNode("notification_delivery", "shifted", DELIVERY, ()),)  # no cycle back
    assert chain(root) == ["lead_conversion", "first_response_mean", "notification_delivery"]


@pytest.mark.parametrize(("started", "status"), [(79, "steady"), (80, "shifted"), (110, "shifted"),
                                                 (111, "steady")])
def test_an_upstream_shift_counts_from_lead_days_before_the_start_to_the_detection(started: int,
                                                                                    status: str) -> None:
    findings = {"lead_conversion": [CONVERSION], "lead_score_mean": [finding("lead_score_mean", started, 115)]}
    root = trace("lead_conversion", FUNNEL, findings, lead_days=20)
    assert {c.kpi: c.status for c in root.children}["lead_score_mean"] == status


def test_of_several_upstream_findings_the_one_starting_closest_is_taken() -> None:
    near, far = finding("first_response_mean", 97, 99), finding("first_response_mean", 85, 88)
    findings = {"lead_conversion": [CONVERSION], "first_response_mean": [far, near]}
    root = trace("lead_conversion", FUNNEL, findings, finding=CONVERSION)
    assert root.children[0].finding == near
    assert chain(root) == ["lead_conversion", "first_response_mean"]


def test_a_root_without_a_finding_has_nothing_to_trace() -> None:
    assert trace("lead_conversion", FUNNEL, {"lead_conversion": []}) == FunnelNode("lead_conversion", "steady", None)
    assert chain(trace("lead_conversion", FUNNEL, {})) == []


# --- changes near the start ----------------------------------------------------------------------------------------

DELIVERY_SHIFT = day_number(date(2026, 8, 17))


@pytest.fixture(scope="module")
def demo_changes() -> list[ChangeRef]:
    entries = plan_changes(Frame.build(date(2026, 11, 27))).entries
    return [ChangeRef(i, day_number(local_date(e["effective_at_ts"])), e["title"], e["description"],
                      tuple(e["affected_metrics"]), e["system"]) for i, e in enumerate(entries, 1)]


def delivery_words() -> set[str]:
    client = DimensionExplanation("client", 0.3, (Element("android 3.2.0", 0.6, 0.2, None, 0.4, 0.25),
                                                  Element("android 3.2.1", 0.4, 0.1, None, 0.4, 0.15)), 1.0)
    return explanation_words(RATE, [client])


def titled(demo: list[ChangeRef], title: str) -> int:
    return next(c.id for c in demo if c.title == title)


def test_the_delivery_shift_links_the_crm_upgrade_and_the_app_release(demo_changes: list[ChangeRef]) -> None:
    assert len(demo_changes) == 11
    upgrade = titled(demo_changes, "CRM 升级 v3.2 / 移动端推送组件更新")
    app = titled(demo_changes, "移动端 App 3.2.0 发布")
    linked = link_changes(DELIVERY_SHIFT, demo_changes, words=delivery_words(), kpi_ids={"notification_delivery"})
    assert [c.id for c in linked] == [app, upgrade]  # nothing else within two weeks before
    reasons = {c.id: c.reasons for c in linked}
    assert {"before_start", "mentions:推送"} <= set(reasons[upgrade])  # declares no delivery metric, still linked
    assert {"before_start", "mentions:3.2.0"} <= set(reasons[app])
    assert "declares_metric" not in reasons[upgrade] + reasons[app]


def test_over_a_wider_window_the_routine_changes_rank_below(demo_changes: list[ChangeRef]) -> None:
    linked = link_changes(DELIVERY_SHIFT, demo_changes, words=delivery_words(), kpi_ids={"notification_delivery"},
                          before_days=120)
    titles = {c.id: c.title for c in demo_changes}
    ranked = [titles[c.id] for c in linked]
    assert set(ranked[:2]) == {"CRM 升级 v3.2 / 移动端推送组件更新", "移动端 App 3.2.0 发布"}
    assert {"移动端 App 3.1.4 发布", "线索导入模板更新", "CRM 报表模块性能优化"} <= set(ranked[2:])
    assert "官网表单改版：新增公司规模与预算字段" not in ranked  # January: months away
    assert min(c.score for c in linked[:2]) > max(c.score for c in linked[2:])


def test_a_declared_metric_and_closeness_raise_the_score() -> None:
    start = 1000
    changes = [ChangeRef(1, start - 14, "报表", "", (), "crm"), ChangeRef(2, start - 15, "报表", "", (), "crm"),
               ChangeRef(3, start, "Routing policy v7", "", ("first_response_mean",), "evenhand"),
               ChangeRef(4, start + 1, "Form", "", (), "website"), ChangeRef(5, start + 2, "Form", "", (), "web")]
    linked = {c.id: c for c in link_changes(start, changes, words=set(), kpi_ids={"first_response_mean"})}
    assert set(linked) == {1, 3, 4}
    assert (linked[3].score, linked[3].reasons) == (2.0, ("before_start", "declares_metric"))
    assert (linked[4].score, linked[4].reasons) == (0.25, ("after_start",))
    assert math.isclose(linked[1].score, 1 / 15, rel_tol=1e-5)


def test_explanation_words_name_the_values_their_parts_and_the_source() -> None:
    found = delivery_words()
    assert {"android 3.2.0", "android", "3.2.0", "3.2.1", "推送", "push", "notification", "移动端"} <= found
