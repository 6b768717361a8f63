"""The scorecard templates document: which template fits a rep, and every problem named with its path and line."""

from __future__ import annotations

import pytest

from evenhand.models import Level
from evenhand.performance.template import RepFacts, TemplateError, default_text, parse, template_for

BASE = """name: test
metrics:
  cash_collected: {target: quota}
  csat: {target: 4.5, zero: 2.5}
templates:
  - key: east_cloud
    label: {zh-CN: 华东云, en: East cloud}
    scope: {regions: [east], product_lines: [cloud]}
    weights: {junior: {csat: 1}}
  - key: key_accounts
    label: {zh-CN: 大客户, en: Key accounts}
    scope: {departments: [key_accounts]}
    weights: {junior: {csat: 1}}
  - key: east
    label: {zh-CN: 华东, en: East}
    scope: {regions: [east]}
    weights: {junior: {csat: 1}}
  - key: standard
    label: {zh-CN: 通用, en: Standard}
    scope: {}
    weights: {junior: {cash_collected: 1}}
"""


def facts(department: str | None = None, region: str | None = None, lines: tuple[str, ...] = ()) -> RepFacts:
    return RepFacts(1, Level.JUNIOR, department, region, frozenset(lines), 100.0)


@pytest.mark.parametrize(("rep", "key"), [
    (facts(), "standard"),
    (facts("key_accounts"), "key_accounts"),
    (facts("key_accounts", "east"), "key_accounts"),  # equally specific: the first in the document
    (facts("smb", "east"), "east"),
    (facts("smb", "east", ("cloud", "erp")), "east_cloud"),  # two dimensions beat one
    (facts("smb", "west", ("cloud",)), "standard"),
])
def test_the_most_specific_fitting_template_wins(rep: RepFacts, key: str) -> None:
    assert template_for(parse(BASE), rep).key == key


def test_the_shipped_default_is_valid() -> None:
    doc = parse(default_text())
    assert {t.key for t in doc.templates} == {"key_accounts", "standard"}
    assert [t.key for t in doc.tiers] == ["gold", "silver"]


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    return [(p.path, p.line, p.type) for p in caught.value.problems]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  csat: {target: 4.5, zero: 2.5}", "  csat: {target: 4.5, zero: 2.5}\n  speed: {target: 1}",
     ("metrics.speed", 5, "unknown_metric")),
    ("csat: {target: 4.5, zero: 2.5}", "csat: {target: 4.5, zero: 4.5}", ("metrics.csat", 4, "flat_metric")),
    ("cash_collected: {target: quota}", "cash_collected: {target: quota, cap: 200}",
     ("metrics.cash_collected.cap", 3, "less_than_equal")),
    ("cash_collected: {target: quota}", "cash_collected: {target: plenty}",
     ("metrics.cash_collected.target", 3, "not_a_target")),
    ("weights: {junior: {cash_collected: 1}}", "weights: {junior: {cash_collected: 0}}",
     ("templates.3.weights.junior", 21, "no_weights")),
    ("weights: {junior: {cash_collected: 1}}", "weights: {junior: {nps: 1}}",
     ("templates.3.weights.junior.nps", 21, "unscored_metric")),
    ("weights: {junior: {cash_collected: 1}}", "weights: {expert: {cash_collected: 1}}",
     ("templates.3.weights.expert", 21, "enum")),
    ("key: east\n", "key: East\n", ("templates.2.key", 14, "string_pattern_mismatch")),
    ("label: {zh-CN: 华东, en: East}", "label: {en: East}", ("templates.2.label.zh-CN", 15, "missing")),
    ("scope: {regions: [east]}", "scope: {regions: [east], teams: [a]}",
     ("templates.2.scope.teams", 16, "extra_forbidden")),
    ("    scope: {}\n", "    scope: {regions: [west]}\n", ("", 1, "no_catch_all")),
])
def test_each_problem_names_its_path_and_line(old: str, new: str, expected: tuple[str, int | None, str]) -> None:
    assert old in BASE
    assert expected in problems(BASE.replace(old, new, 1))


GATED = BASE + """    gates:
      - {metric: csat, below: 3, cap: 70}
"""


@pytest.mark.parametrize(("gate", "expected"), [
    ("{metric: speed, below: 3, cap: 70}", ("templates.3.gates.0.metric", 23, "unknown_metric")),
    ("{metric: csat, cap: 70}", ("templates.3.gates.0", 23, "gate_bound")),
    ("{metric: csat, below: 3, above: 4, cap: 70}", ("templates.3.gates.0", 23, "gate_bound")),
    ("{metric: csat, below: 3, cap: 170}", ("templates.3.gates.0.cap", 23, "less_than_equal")),
])
def test_gate_problems(gate: str, expected: tuple[str, int | None, str]) -> None:
    assert expected in problems(GATED.replace("{metric: csat, below: 3, cap: 70}", gate))


TIERED = BASE + """tiers:
  - {key: gold, label: {zh-CN: 金, en: Gold}, min: 85, grants: [key_account]}
  - {key: silver, label: {zh-CN: 银, en: Silver}, min: 70}
"""


def test_tier_problems() -> None:
    assert ("tiers.0.grants.0", 23, "unknown_grant") in problems(TIERED.replace("[key_account]", "[bonus]"))
    assert ("", 1, "tiers_order") in problems(TIERED.replace("min: 70", "min: 90"))
    assert ("tiers.1.min", 24, "less_than_equal") in problems(TIERED.replace("min: 70", "min: 170"))


def test_every_problem_is_listed_at_once() -> None:
    text = BASE.replace("csat: {target: 4.5, zero: 2.5}", "csat: {target: 4.5, zero: 4.5}").replace(
        "key: east\n", "key: East\n")
    assert {p[2] for p in problems(text)} >= {"flat_metric", "string_pattern_mismatch"}


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "not_a_mapping"), ("name: [", None),
                                            ("name: a\nname: b\n", None)])
def test_not_a_document(text: str, kind: str | None) -> None:
    found = problems(text)
    assert found and (kind is None or found[0][2] == kind)
