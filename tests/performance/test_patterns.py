"""High volume with low quality on hand-built cards: only a top seller who discounts far beyond the department and
whose service shows it is flagged, each reason naming its figures; and the R3.6 block's text."""

from __future__ import annotations

from evenhand.i18n import t
from evenhand.models import Level
from evenhand.performance import blocks, patterns, scoring, template
from evenhand.performance.metrics import Measure
from evenhand.performance.template import RepFacts
from evenhand.performance.views import CardView

DOC = template.parse(template.default_text())
QUOTA = 500_000.0


def card(user_id: int, name: str, *, revenue: float, discount: float, renewal: float, csat: float = 4.4,
         department: str = "key_accounts", level: Level = Level.SENIOR, period: str = "2026-Q3") -> CardView:
    """A senior of key accounts over a quarter, with enough data for every figure."""
    measures = {"cash_collected": Measure(revenue * 0.8, 10), "revenue": Measure(revenue, 10),
                "discount": Measure(discount, 10), "renewal_rate": Measure(renewal, 8), "csat": Measure(csat, 10),
                "nps": Measure(30, 10), "complaints": Measure(0, 0), "proposal_rate": Measure(70, 10),
                "compliance": Measure(92, 20)}
    rep = RepFacts(user_id, level, department, "south", frozenset(), QUOTA)
    scored = scoring.score(DOC, rep, measures, months=3)
    return CardView(user_id, name, 1, "华南组", department, level, period, 0, False, scored.template,
                    {"zh-CN": "大客户部", "en": "Key accounts"}, scored.total, scored.coverage, scored.gate,
                    scored.tier, list(scored.metrics))


def department() -> list[CardView]:
    return [card(1, "杨杰", revenue=7_400_000, discount=22.5, renewal=50),  # the pattern: flagged
            card(2, "王军", revenue=7_200_000, discount=29.5, renewal=75, csat=3.1),  # the pattern, by satisfaction
            card(3, "张伟", revenue=5_500_000, discount=1.5, renewal=40),  # poor renewals, fair prices
            card(4, "郑磊", revenue=4_400_000, discount=25.0, renewal=80),  # deep discounts, kept customers
            card(5, "黄洋", revenue=900_000, discount=24.0, renewal=30),  # the habits without the volume
            card(6, "高悦", revenue=2_100_000, discount=2.0, renewal=70),
            card(7, "周秀", revenue=1_700_000, discount=3.2, renewal=66),
            card(8, "赵艳", revenue=1_000_000, discount=3.0, renewal=90),
            card(9, "张杰", revenue=2_700_000, discount=2.2, renewal=60),
            card(10, "陈明", revenue=800_000, discount=4.0, renewal=75)]


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
