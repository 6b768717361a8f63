"""High volume with low quality on hand-built cards: only a top seller who discounts far beyond the department and
whose service shows it is flagged, each reason naming its figures; and the R3.6 block's text."""

from __future__ import annotations

from evenhand.i18n import t
from evenhand.performance import blocks, patterns
from evenhand.performance.views import CardView
from tests.performance.cards import DOC, QUOTA, card, department


def test_only_top_sellers_who_discount_deeply_and_lose_service_are_flagged() -> None:
    flags = patterns.find(department())
    assert [f.user_id for f in flags] == [1, 2]
    first = flags[0]
    assert [r.rule for r in first.reasons] == ["top_revenue", "top_cash_collected", "deep_discount",
                                               "renewal_below_floor"]
    assert first.figures["discount"] == 22.5 and first.figures["renewal_rate"] == 50
    assert [r.rule for r in flags[1].reasons][-1] == "low_csat"


def test_reasons_name_the_figures_in_the_readers_language() -> None:
    flag = patterns.find(department())[0]
    en = patterns.explain(flag, lambda m, **p: t(m, locale="en", **p))
    assert en[0] == "Revenue signed 7,400,000 ranks 1 of 10 in the department"
    assert en[2] == "Average discount 22.5% is far above the department's (median 3.6%)"
    assert en[3] == "Renewal rate 50% is below the floor of 60%"
    zh = patterns.explain(flag, lambda m, **p: t(m, locale="zh-CN", **p))
    assert "22.5%" in zh[2] and "60%" in zh[3]


def test_a_floor_comes_from_the_template_and_a_template_without_one_has_none() -> None:
    cards = department()
    assert patterns.renewal_floors(DOC) == {"key_accounts": 60, "standard": 60}
    for floors in ({"key_accounts": 45}, {}):  # 50% is above 45%, and there is no floor: still the lowest quarter
        first = patterns.find(cards, floors=floors)[0]
        assert first.user_id == 1 and first.reasons[-1].rule == "low_renewal_rate"
        assert first.reasons[-1].params == {"value": "50", "quartile": "52"}


def test_peers_are_the_department_unless_it_is_too_small() -> None:
    cards = [*department()[:2], *(card(20 + i, f"S{i}", revenue=9_000_000, discount=22.0 + i, renewal=70,
                                       department="smb") for i in range(3))]
    # a department of two is judged against everyone: the smb reps outsell them and discount as deeply
    assert patterns.find(cards) == []


def test_a_card_without_enough_data_is_never_flagged() -> None:
    thin = card(1, "杨杰", revenue=7_400_000, discount=22.5, renewal=50)
    hidden = CardView(**{**{n: getattr(thin, n) for n in thin.__dataclass_fields__}, "metrics": []})
    assert patterns.find([hidden, *department()[1:]])[0].user_id == 2


def test_the_block_in_the_form_of_r36() -> None:
    shown = card(3, "张伟", revenue=5_500_000, discount=1.5, renewal=75)
    first, second = blocks.block(shown, {"key_accounts": "大客户部"}, lambda m, **p: t(m, locale="zh-CN", **p))
    assert first == f"张伟 | 大客户部 | Q3考核得分:{shown.total:.1f}"
    attainment = round(100 * 5_500_000 * 0.8 / (QUOTA * 3))
    assert second == f"回款达成率:{attainment}% | 方案提交率:70% | 续约率:75%"
    en = blocks.block(shown, {}, lambda m, **p: t(m, locale="en", **p))
    assert en[0].startswith("张伟 | key_accounts | Q3 score: ")
    assert en[1].startswith("Cash collection attainment: ")


def test_group_scores_and_a_metric_explained() -> None:
    shown = card(3, "张伟", revenue=5_500_000, discount=1.5, renewal=40)
    assert shown.gate == "renewal_rate" and shown.total == 70
    groups = blocks.group_scores(shown)
    assert all(v is not None and 0 <= v <= 120 for v in groups.values())
    renewal = next(m for m in shown.metrics if m.metric == "renewal_rate")
    row = blocks.metric_row(renewal, lambda m, **p: t(m, locale="en", **p))
    assert (row["value"], row["target"], row["zero"], row["points"]) == ("40%", "80%", "30%", "20.0")
    assert blocks.gate_text(shown, lambda m, **p: t(m, locale="en", **p)) == "Capped at 70.0 by Renewal rate"
    assert blocks.period_label("2026-09") == "2026-09"
