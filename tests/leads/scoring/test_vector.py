"""The vectorised scorer gives exactly the pure scorer's totals and explanation, for any model and leads."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evenhand.leads.scoring import LeadFacts, compile, load_default, score
from evenhand.leads.scoring.compiled import CompiledModel
from evenhand.leads.scoring.rules import Event, epoch_seconds
from evenhand.leads.scoring.schema import EVENT_KINDS, ScoringModel
from evenhand.leads.scoring.vector import (
    Coded,
    EventTable,
    LeadTable,
    TableScores,
    blend_many,
    factorise,
    row_lines,
    score_table,
)
from tests.leads.scoring.factory import NOW, ago

INDUSTRIES = ["制造业", "金融", "Manufacturing", " manufacturing ", "零售", "", None]
REGIONS = ["east", "EAST", "华东", "north", None]
TITLES = ["IT总监", "总经理", "采购经理", "VP Sales", "MVP", "学生", "", None]
SOURCES = ["website", "Referral", "partner", None]
EMAILS = ["a@qq.com", "b@CORP.cn", "no-at-sign", "", None, "c@163.com"]
PHONES = ["13800000000", "", "  ", None]
HALF_LIFE = 14.0


def tables(leads: list[LeadFacts]) -> tuple[LeadTable, EventTable]:
    def col(name: str) -> list[Any]:
        return [getattr(f, name) for f in leads]

    sizes = np.array([np.nan if f.company_size is None else f.company_size for f in leads], dtype=np.float64)
    events = [(i, e) for i, f in enumerate(leads) for e in f.events]
    return (LeadTable(col("industry"), sizes, col("region"), col("title"), col("source"), col("email"), col("phone")),
            EventTable(np.array([i for i, _ in events], dtype=np.int64), np.array([e.kind for _, e in events]),
                       np.array([epoch_seconds(e.occurred_at) for _, e in events], dtype=np.int64),
                       np.array([np.nan if e.dwell_seconds is None else e.dwell_seconds for _, e in events])))


def assert_same(leads: list[LeadFacts], model: CompiledModel, probabilities: list[float | None] | None = None) -> None:
    probs = probabilities or [None] * len(leads)
    p = np.array([np.nan if x is None else x for x in probs])
    got = score_table(*tables(leads), model, NOW, probability=p if probabilities else None)
    index = model.column_index()
    for i, (facts, prob) in enumerate(zip(leads, probs, strict=True)):
        want = score(facts, model, NOW, probability=prob)
        row = np.zeros(len(model.columns), dtype=np.float32)
        for line in want.lines:
            row[index[line.rule_id]] = line.points
        assert got.totals[i] == want.total, (i, facts, want, model.model.model_dump(exclude_defaults=True))
        assert got.rule_totals[i] == want.rule_total
        assert got.points is not None and np.array_equal(got.points[i], row), (facts, want.lines)


# --- strategies --------------------------------------------------------------------------------------

points = st.one_of(st.integers(-20, 40), st.floats(-20, 40, allow_nan=False).map(lambda x: round(x, 3)))


@st.composite
def bands(draw: st.DrawFn, upper: int) -> list[dict[str, Any]]:
    cuts = sorted(draw(st.sets(st.integers(0, upper), min_size=1, max_size=5)))
    out = [{"min": a, "max": b, "points": draw(points)} for a, b in pairwise(cuts)]
    return [*out, {"min": cuts[-1], "points": draw(points)}] if draw(st.booleans()) or not out else out


def fit_rule(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["industry", "region", "source", "company_size", "title", "email_domain",
                                 "missing"]))
    rule: dict[str, Any] = {"type": kind, "label": kind}
    values = {"industry": ["制造业", "金融", "零售"], "region": ["east", "north"], "source": ["website", "referral"]}
    if kind in values:
        rule |= {"in": draw(st.lists(st.sampled_from(values[kind]), min_size=1, max_size=2)), "points": draw(points)}
    elif kind == "company_size":
        rule["bands"] = draw(bands(3000))
    elif kind == "title":
        rule["tiers"] = [{"keywords": k, "points": draw(points)} for k in
                         draw(st.lists(st.lists(st.sampled_from(["总监", "经理", "vp", "ceo", "学生"]), min_size=1,
                                                max_size=2), min_size=1, max_size=3))]
    elif kind == "email_domain":
        rule |= {"domains": ["qq.com", "163.com"], "points": draw(points)}
    else:
        rule |= {"field": draw(st.sampled_from(["phone", "email", "company_size", "industry"])),
                 "points": draw(points)}
    return rule


def behaviour_rule(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*EVENT_KINDS, "visits"]))
    if kind == "visits":
        return {"type": kind, "label": kind, "window_days": draw(st.sampled_from([1, 7, 30])),
                "bands": draw(bands(6))}
    if kind == "page_view" and draw(st.booleans()):
        return {"type": kind, "label": kind, "bands": draw(bands(300))}
    return {"type": kind, "label": kind, "points": draw(points)}


@st.composite
def models(draw: st.DrawFn) -> CompiledModel:
    groups = {}
    for g in range(draw(st.integers(1, 3))):
        make = fit_rule if g == 0 else behaviour_rule
        groups[f"g{g}"] = {"cap": draw(st.one_of(st.none(), st.integers(0, 60), st.floats(0, 60).map(round_3))),
                           "half_life_days": draw(st.sampled_from([None, HALF_LIFE, 0.5, 3.3])),
                           "rules": [make(draw) for _ in range(draw(st.integers(1, 6)))]}
    weight = draw(st.sampled_from([0.0, 0.3, 1.0]))
    return compile(ScoringModel.model_validate({"name": "h", "groups": groups,
                                                "blend": {"predictive_weight": weight}}))


def round_3(x: float) -> float:
    return round(x, 3)


ages = st.one_of(st.integers(-3 * 86_400, 400 * 86_400),
                 st.integers(-2, 30).map(lambda k: int(k * HALF_LIFE * 86_400)))  # exact multiples of the half-life
events = st.builds(lambda kind, age, dwell: Event(kind, NOW - timedelta(seconds=age), dwell),
                   st.sampled_from([*EVENT_KINDS, "phone_call"]), ages,
                   st.one_of(st.none(), st.integers(0, 400), st.floats(0, 400, allow_nan=False)))
leads = st.builds(LeadFacts, industry=st.sampled_from(INDUSTRIES),
                  company_size=st.one_of(st.none(), st.integers(0, 5000)), region=st.sampled_from(REGIONS),
                  title=st.sampled_from(TITLES), source=st.sampled_from(SOURCES), email=st.sampled_from(EMAILS),
                  phone=st.sampled_from(PHONES), events=st.lists(events, max_size=8).map(tuple))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=models(), batch=st.lists(leads, min_size=1, max_size=12),
       probs=st.one_of(st.none(), st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=12, max_size=12)))
def test_vector_equals_pure(model: CompiledModel, batch: list[LeadFacts], probs: list[float | None] | None) -> None:
    assert_same(batch, model, None if probs is None else probs[:len(batch)])


@settings(max_examples=50, deadline=None)
@given(batch=st.lists(leads, min_size=1, max_size=30))
def test_vector_equals_pure_on_the_default_model(batch: list[LeadFacts]) -> None:
    assert_same(batch, compile(load_default()))


# --- inputs in other shapes ---------------------------------------------------------------------------


def test_coded_columns_and_integer_kinds_give_the_same_result() -> None:
    model = compile(load_default())
    batch = [LeadFacts(industry="制造业", company_size=300, region="east", title="IT总监", source="website",
                       email="a@qq.com", events=(ago(2), ago(1, kind="page_view", dwell=90))),
             LeadFacts(industry=None, region="north", events=(ago(20, kind="webinar"),))]
    lead_table, event_table = tables(batch)
    plain = score_table(lead_table, event_table, model, NOW)
    coded_leads = LeadTable(Coded(np.array([0, -1]), ["制造业"]), lead_table.company_size,
                            Coded(np.array([1, 0]), ["north", "east"]), lead_table.title, lead_table.source,
                            np.array(lead_table.email, dtype=object), lead_table.phone)
    kinds = np.array([EVENT_KINDS.index(k) for k in event_table.kind], dtype=np.int64)
    coded = score_table(coded_leads, EventTable(event_table.lead, kinds, event_table.occurred_at,
                                                event_table.dwell_seconds), model, NOW)
    assert_tables_equal(plain, coded)


def assert_tables_equal(a: TableScores, b: TableScores) -> None:
    assert np.array_equal(a.totals, b.totals) and np.array_equal(a.rule_totals, b.rule_totals)
    assert a.points is not None and b.points is not None and np.array_equal(a.points, b.points)


def test_leads_without_events() -> None:
    model = compile(load_default())
    lead_table, _ = tables([LeadFacts(industry="金融"), LeadFacts()])
    empty = EventTable(np.zeros(0, np.int64), np.zeros(0, dtype=object), np.zeros(0, np.int64), np.zeros(0))
    result = score_table(lead_table, empty, model, NOW, explain=False)
    assert result.points is None
    assert list(result.totals) == [score(LeadFacts(industry="金融"), model, NOW).total, 0]


def test_row_lines_rebuild_the_explanation() -> None:
    model = compile(load_default())
    facts = LeadFacts(industry="制造业", company_size=5000, title="CEO", source="referral", region="east",
                      phone="1", events=tuple(ago(0, kind="webinar") for _ in range(6)))
    result = score_table(*tables([facts]), model, NOW)
    assert result.points is not None
    assert row_lines(model, result.points[0]) == score(facts, model, NOW).lines


def test_factorise_marks_missing_numbers() -> None:
    codes, values = factorise(np.array([5.0, np.nan, 5.0, 7.0]))
    assert [values[c] if c >= 0 else None for c in codes] == [5.0, None, 5.0, 7.0]


def test_blend_many_matches_the_scalar_rule() -> None:
    totals = blend_many(np.array([60.0, 60.0, 33.5]), np.array([0.9, np.nan, 0.0]), 0.25)
    assert list(totals) == [68, 60, 25]  # 67.5 → 68; no probability → rule total; 25.125 → 25


def test_an_empty_table() -> None:
    lead_table, event_table = tables([])
    result = score_table(lead_table, event_table, compile(load_default()), NOW)
    assert result.totals.shape == (0,) and result.points is not None and result.points.shape == (0, 41)


def test_events_must_point_at_leads() -> None:
    lead_table, event_table = tables([LeadFacts(events=(ago(1),))])
    stray = EventTable(event_table.lead + 1, event_table.kind, event_table.occurred_at, event_table.dwell_seconds)
    with pytest.raises(ValueError, match="index rows"):
        score_table(lead_table, stray, compile(load_default()), NOW)


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(leads, min_size=1, max_size=10), shifts=st.lists(st.integers(-40 * 86_400, 86_400),
                                                                       min_size=10, max_size=10))
def test_each_lead_may_have_its_own_now(batch: list[LeadFacts], shifts: list[int]) -> None:
    model = compile(load_default())
    moments = [NOW + timedelta(seconds=s) for s in shifts[:len(batch)]]
    got = score_table(*tables(batch), model, np.array([epoch_seconds(m) for m in moments], dtype=np.int64))
    assert list(got.totals) == [score(f, model, m).total for f, m in zip(batch, moments, strict=True)]
