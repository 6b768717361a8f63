"""The pure scorer: each rule type, decay, caps, clamping, rounding, blending and the explanation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from evenhand.i18n import t
from evenhand.leads.scoring import LeadFacts, ScoreResult, compile, explain_text, load_default, score
from evenhand.leads.scoring.compiled import MICRO
from evenhand.leads.scoring.rules import Event, blend
from tests.leads.scoring.factory import NOW, ago, compiled, one_group


def lines_of(result: ScoreResult) -> dict[str, float]:
    return {line.rule_id: line.points for line in result.lines}


def assert_adds_up(result: ScoreResult) -> None:
    micro = sum(round(line.points * MICRO) for line in result.lines)
    assert micro == round(result.rule_total * MICRO)


def rule(type_: str, points: float = 10, label: str = "L", *, values: list[str] | None = None,
         **extra: object) -> dict[str, object]:
    return {"type": type_, "points": points, "label": label, **({"in": values} if values else {}), **extra}


def facts_with(attribute: str, value: str | None) -> LeadFacts:
    fields: dict[str, Any] = {attribute: value}
    return LeadFacts(**fields)


class TestFitRules:
    @pytest.mark.parametrize("attribute", ["industry", "region", "source"])
    def test_value_in_list(self, attribute: str) -> None:
        model = one_group(rule(attribute, 12, "hit", values=["a", "b"]))
        assert score(facts_with(attribute, "b"), model, NOW).total == 12
        assert score(facts_with(attribute, "c"), model, NOW).total == 0
        assert score(LeadFacts(), model, NOW).lines == ()

    def test_matching_ignores_case_width_and_spaces(self) -> None:
        model = one_group(rule("source", 5, values=["Trade_Show"]))
        for raw in ("trade_show", " TRADE_SHOW ", "ｔｒａｄｅ＿ｓｈｏｗ"):
            assert score(LeadFacts(source=raw), model, NOW).total == 5, raw

    def test_aliases_map_to_the_canonical_value(self) -> None:
        model = compiled({"fit": {"rules": [rule("industry", 20, "行业：制造业", values=["制造业"])]}},
                         aliases={"industry": {"制造业": ["Manufacturing", "智能制造"]}})
        assert score(LeadFacts(industry="MANUFACTURING"), model, NOW).total == 20
        assert score(LeadFacts(industry="智能制造"), model, NOW).total == 20
        assert score(LeadFacts(industry="零售"), model, NOW).total == 0

    def test_a_rule_may_list_an_alias_itself(self) -> None:
        model = compiled({"fit": {"rules": [rule("region", 4, values=["华东"])]}},
                         aliases={"region": {"east": ["华东"]}})
        assert score(LeadFacts(region="east"), model, NOW).total == 4

    def test_company_size_bands_are_half_open(self) -> None:
        bands = [{"min": 0, "max": 50, "points": 2, "label": "小"}, {"min": 50, "max": 500, "points": 10},
                 {"min": 500, "points": 20, "label": "大"}]
        model = one_group({"type": "company_size", "label": "规模", "bands": bands})
        assert [score(LeadFacts(company_size=n), model, NOW).total for n in (0, 49, 50, 499, 500, 90_000)] == \
            [2, 2, 10, 10, 20, 20]
        result = score(LeadFacts(company_size=50), model, NOW)
        assert result.lines[0].rule_id == "g.company_size.0.1" and result.lines[0].label == "规模"
        assert score(LeadFacts(company_size=7), model, NOW).lines[0].label == "小"
        assert score(LeadFacts(), model, NOW).total == 0

    def test_size_gaps_between_bands_score_nothing(self) -> None:
        model = one_group({"type": "company_size", "label": "规模", "bands": [{"min": 100, "max": 200, "points": 5}]})
        assert score(LeadFacts(company_size=99), model, NOW).total == 0

    def test_title_keywords(self) -> None:
        model = one_group({"type": "title", "label": "L", "points": 8, "keywords": ["总监", "VP", "采购"]})
        for title in ("IT总监", "采购经理", "VP Sales", "Regional vp"):
            assert score(LeadFacts(title=title), model, NOW).total == 8, title
        for other in ("工程师", "MVP evangelist", None):
            assert score(LeadFacts(title=other), model, NOW).total == 0, other

    def test_title_tiers_take_the_first_match_only(self) -> None:
        tiers = [{"keywords": ["总经理", "CEO"], "points": 10, "label": "决策层"},
                 {"keywords": ["经理"], "points": 4, "label": "经理"}]
        model = one_group({"type": "title", "label": "职务", "tiers": tiers})
        assert lines_of(score(LeadFacts(title="总经理"), model, NOW)) == {"g.title.0.0": 10}
        assert lines_of(score(LeadFacts(title="行政经理"), model, NOW)) == {"g.title.0.1": 4}

    def test_email_domain_and_missing_are_negative_rules(self) -> None:
        model = one_group(rule("industry", 30, values=["金融"]),
                          rule("email_domain", -10, "个人邮箱", domains=["qq.com", "163.com"]),
                          rule("missing", -5, "未留手机号", field="phone"))
        facts = LeadFacts(industry="金融", email="Wang@QQ.com", phone="  ")
        assert lines_of(score(facts, model, NOW)) == {"g.industry.0": 30, "g.email_domain.0": -10, "g.missing.0": -5}
        assert score(LeadFacts(industry="金融", email="wang@corp.cn", phone="138"), model, NOW).total == 30
        assert score(LeadFacts(industry="金融", email="not an address", phone="138"), model, NOW).total == 30

    def test_missing_company_size(self) -> None:
        model = one_group(rule("missing", -2, field="company_size"))
        assert score(LeadFacts(), model, NOW).rule_total == 0  # clamped; the line still shows
        assert lines_of(score(LeadFacts(), model, NOW))["g.missing.0"] == -2
        assert score(LeadFacts(company_size=0), model, NOW).lines == ()


class TestBehaviourRules:
    @pytest.mark.parametrize("kind", ["whitepaper_download", "webinar", "form_submit", "email_open", "email_click"])
    def test_points_per_event(self, kind: str) -> None:
        model = one_group(rule(kind, 4))
        events = (ago(kind=kind), ago(kind=kind), ago(kind="page_view"))
        assert lines_of(score(LeadFacts(events=events), model, NOW)) == {f"g.{kind}.0": 8}

    def test_page_view_dwell_bands(self) -> None:
        bands = [{"min": 0, "max": 10, "points": 0}, {"min": 10, "max": 60, "points": 1}, {"min": 60, "points": 3}]
        model = one_group({"type": "page_view", "label": "浏览", "bands": bands})
        events = tuple(ago(kind="page_view", dwell=d) for d in (5, 10, 59.5, 60, 600, None))
        assert score(LeadFacts(events=events), model, NOW).total == 0 + 1 + 1 + 3 + 3 + 0

    def test_page_view_flat_points(self) -> None:
        model = one_group(rule("page_view", 2))
        assert score(LeadFacts(events=(ago(kind="page_view"),) * 3), model, NOW).total == 6

    def test_visits_count_distinct_days_within_the_window(self) -> None:
        bands = [{"min": 2, "max": 4, "points": 3, "label": "回访"}, {"min": 4, "points": 6}]
        model = one_group({"type": "visits", "label": "访问天数", "window_days": 30, "bands": bands})
        same_day = tuple(ago(0, kind="page_view") for _ in range(5))
        assert score(LeadFacts(events=same_day), model, NOW).total == 0
        days = tuple(ago(d, kind="page_view") for d in (0, 1, 2, 40))
        result = score(LeadFacts(events=days), model, NOW)
        assert (result.total, result.lines[0].label) == (3, "回访")

    def test_unknown_event_kinds_score_nothing(self) -> None:
        model = one_group(rule("webinar", 5))
        assert score(LeadFacts(events=(ago(kind="phone_call"),)), model, NOW).total == 0


class TestDecay:
    @pytest.mark.parametrize("points", [10, 8, 3, 7.5, 1])
    def test_one_half_life_gives_half_the_points(self, points: float) -> None:
        model = one_group(rule("whitepaper_download", points), half_life_days=14)
        assert score(LeadFacts(events=(ago(14),)), model, NOW).lines[0].points == points / 2

    def test_two_half_lives_give_a_quarter(self) -> None:
        model = one_group(rule("webinar", 20), half_life_days=7)
        assert score(LeadFacts(events=(ago(14, kind="webinar"),)), model, NOW).lines[0].points == 5

    def test_decay_follows_the_formula(self) -> None:
        model = one_group(rule("whitepaper_download", 10), half_life_days=14)
        points = score(LeadFacts(events=(ago(3.7),)), model, NOW).lines[0].points
        assert points == pytest.approx(10 * 0.5 ** (3.7 / 14), abs=1e-6)

    def test_without_a_half_life_nothing_decays(self) -> None:
        model = one_group(rule("whitepaper_download", 10))
        assert score(LeadFacts(events=(ago(400),)), model, NOW).total == 10

    def test_future_events_count_as_new(self) -> None:
        model = one_group(rule("whitepaper_download", 10), half_life_days=14)
        assert score(LeadFacts(events=(ago(-3),)), model, NOW).total == 10

    def test_ages_are_whole_seconds(self) -> None:
        model = one_group(rule("whitepaper_download", 10), half_life_days=1)
        a = score(LeadFacts(events=(Event("whitepaper_download", NOW - timedelta(seconds=100.2)),)), model, NOW)
        b = score(LeadFacts(events=(Event("whitepaper_download", NOW - timedelta(seconds=101)),)), model, NOW)
        assert a == b  # 12:00:00 − 100.2 s floors to the same second as − 101 s

    def test_time_zone_of_the_timestamps_does_not_matter(self) -> None:
        model = one_group(rule("whitepaper_download", 10), half_life_days=14)
        shanghai = timezone(timedelta(hours=8))
        event = Event("whitepaper_download", (NOW - timedelta(days=5)).astimezone(shanghai))
        assert score(LeadFacts(events=(event,)), model, NOW) == score(LeadFacts(events=(ago(5),)), model, NOW)

    def test_naive_datetimes_are_refused(self) -> None:
        model = one_group(rule("whitepaper_download", 10))
        with pytest.raises(ValueError, match="aware"):
            score(LeadFacts(events=(Event("whitepaper_download", datetime(2026, 1, 1)),)), model, NOW)


class TestCapsAndClamping:
    def test_cap_adds_a_negative_line_and_marks_the_cut_lines(self) -> None:
        model = one_group(rule("webinar", 30, "研讨会"), rule("missing", -4, "无电话", field="phone"), cap=40)
        result = score(LeadFacts(events=(ago(kind="webinar"),) * 2), model, NOW)
        assert lines_of(result) == {"g.webinar.0": 60, "g.missing.0": -4, "g.cap": -16}
        assert result.total == 40
        by_id = {line.rule_id: line for line in result.lines}
        assert by_id["g.webinar.0"].capped_by == "g.cap" and by_id["g.missing.0"].capped_by is None
        assert by_id["g.cap"].kind == "cap"
        assert_adds_up(result)

    def test_cap_applies_after_decay(self) -> None:
        model = one_group(rule("webinar", 30), half_life_days=10, cap=25)
        result = score(LeadFacts(events=(ago(10, kind="webinar"),)), model, NOW)
        assert result.total == 15 and all(line.kind == "rule" for line in result.lines)

    def test_under_the_cap_there_is_no_cap_line(self) -> None:
        model = one_group(rule("webinar", 10), cap=25)
        assert [line.kind for line in score(LeadFacts(events=(ago(kind="webinar"),)), model, NOW).lines] == ["rule"]

    def test_a_cap_never_lifts_a_negative_group(self) -> None:
        model = compiled({"fit": {"rules": [rule("industry", 30, values=["x"])]},
                          "neg": {"cap": 5, "rules": [rule("missing", -10, field="phone")]}})
        assert score(LeadFacts(industry="x"), model, NOW).total == 20

    def test_total_clamped_at_100(self) -> None:
        model = compiled({"a": {"rules": [rule("industry", 70, values=["x"])]},
                          "b": {"rules": [rule("region", 60, values=["y"])]}})
        result = score(LeadFacts(industry="x", region="y"), model, NOW)
        assert (result.total, result.rule_total, lines_of(result)["total.clamp"]) == (100, 100.0, -30)
        assert_adds_up(result)

    def test_total_clamped_at_0(self) -> None:
        model = one_group(rule("missing", -5, field="phone"), rule("email_domain", -10, domains=["qq.com"]))
        result = score(LeadFacts(email="a@qq.com"), model, NOW)
        assert (result.total, result.rule_total, lines_of(result)["total.clamp"]) == (0, 0.0, 15)
        assert_adds_up(result)

    def test_default_model_explanations_add_up(self) -> None:
        model = compile(load_default())
        facts = LeadFacts(industry="制造业", company_size=3000, region="east", title="CEO", source="referral",
                          email="ceo@corp.cn", phone="138",
                          events=tuple(ago(d, kind=k, dwell=200) for d in (0, 1, 2, 3) for k in
                                       ("page_view", "whitepaper_download", "webinar", "email_click")))
        result = score(facts, model, NOW)
        assert {line.rule_id for line in result.lines} >= {"fit.cap", "behaviour.cap"}
        assert result.total == 100
        assert_adds_up(result)


class TestRoundingAndBlend:
    @pytest.mark.parametrize(("points", "total"), [(49.5, 50), (49.4999, 49), (0.5, 1), (0.49, 0), (99.5, 100)])
    def test_rounds_half_up(self, points: float, total: int) -> None:
        assert score(LeadFacts(industry="x"), one_group(rule("industry", points, values=["x"])), NOW).total == total

    def test_rule_total_keeps_the_fraction(self) -> None:
        result = score(LeadFacts(industry="x"), one_group(rule("industry", 12.25, values=["x"])), NOW)
        assert (result.total, result.rule_total) == (12, 12.25)

    def test_blend_formula(self) -> None:
        assert blend(60.0, 0.9, 0.25) == 68  # 0.75 * 60 + 0.25 * 90 = 67.5 → 68
        assert blend(60.0, 0.9, 0.0) == 60
        assert blend(60.0, 0.2, 1.0) == 20
        assert blend(60.0, None, 0.5) == 60

    def test_blend_uses_the_models_weight(self) -> None:
        model = compiled({"g": {"rules": [rule("industry", 40, values=["x"])]}}, blend={"predictive_weight": 0.5})
        assert score(LeadFacts(industry="x"), model, NOW, probability=0.8).total == 60
        assert score(LeadFacts(industry="x"), model, NOW).total == 40

    def test_probability_must_be_a_probability(self) -> None:
        with pytest.raises(ValueError, match="probability"):
            score(LeadFacts(), one_group(rule("webinar", 1)), NOW, probability=1.2)

    def test_uncompiled_models_are_accepted(self) -> None:
        assert score(LeadFacts(industry="制造业"), load_default(), NOW).rule_total > 0


class TestExplainText:
    def test_lines_render_label_and_signed_points(self) -> None:
        model = one_group(rule("industry", 20, "行业：制造业", values=["制造业"]),
                          rule("whitepaper_download", 8, "下载白皮书"),
                          rule("missing", -5, "未留手机号", field="phone"), half_life_days=14)
        result = score(LeadFacts(industry="制造业", events=(ago(3),)), model, NOW)
        assert explain_text(result, t) == ["行业：制造业 +20", "下载白皮书 +6.9", "未留手机号 -5"]

    def test_cap_and_clamp_lines_are_translated(self) -> None:
        model = compiled({"fit": {"label": "客户画像", "cap": 30, "rules": [rule("industry", 80, values=["x"])]},
                          "b": {"rules": [rule("region", 90, "区域", values=["y"])]}})
        result = score(LeadFacts(industry="x", region="y"), model, NOW)

        def zh(message: str, **params: object) -> str:
            return t(message, locale="zh-CN", **params)

        assert explain_text(result, zh)[1:] == ["客户画像：封顶 -50", "区域 +90", "总分限定在 0–100 -20"]
        assert [line.kind for line in result.lines] == ["rule", "cap", "rule", "clamp"]
        assert explain_text(result, lambda m, **p: t(m, locale="en", **p))[1] == "客户画像: capped -50"


def test_an_address_without_at_sign_has_no_domain() -> None:
    model = one_group(rule("email_domain", -10, domains=["qq.com"]), rule("missing", -1, field="email"))
    assert lines_of(score(LeadFacts(email="qq.com"), model, NOW)) == {}
    assert lines_of(score(LeadFacts(email=" "), model, NOW))["g.missing.0"] == -1
    assert lines_of(score(LeadFacts(email="x@y@QQ.COM "), model, NOW))["g.email_domain.0"] == -10
