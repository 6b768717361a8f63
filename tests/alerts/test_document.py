"""The alert rules document: the shipped rules, problems named with path and line, and the conditions' bounds."""

from __future__ import annotations

import pytest

from evenhand.alerts import conditions
from evenhand.alerts.conditions import Bound
from evenhand.alerts.document import AlertRulesError, compile, default_text, parse


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(AlertRulesError) as caught:
        parse(text)
    return [(p.path, p.line, p.type) for p in caught.value.problems]


def rule(when: str, entity: str = "opportunity", params: str = "{}") -> str:
    return f"name: x\nrules:\n  - id: r\n    label: R\n    entity: {entity}\n    when: '{when}'\n    params: {params}\n"


def test_the_shipped_rules_compile_with_their_bounds() -> None:
    rules = compile(parse(default_text()))
    assert [r.id for r in rules.rules] == ["stale_opportunity", "customer_silent", "lead_silent",
                                          "late_first_response", "stage_standard_missed", "unbacked_record"]
    stale = rules.rule("stale_opportunity")
    assert stale is not None and stale.tell == ("supervisor", "rep")
    assert stale.bounds == (Bound("days_since_update", ">=", (("needs_analysis", 10.0), ("negotiation", 5.0),
                                                               ("proposal", 7.0), ("qualification", 7.0))),)
    late = rules.rule("late_first_response")
    assert late is not None and set(late.bounds) == {Bound("responded", "is", False),
                                                     Bound("first_response_minutes", ">", 120.0)}


@pytest.mark.parametrize(("when", "kind"), [
    ("days_since_update >=", "cel_syntax"),
    ("days_since_update >= params.weeks", "cel_unknown_param"),
    ("first_response_minutes > 3", "cel_unknown_name"),  # a lead's fact, not a deal's
    ("days_since_update + 1.0", "cel_not_bool"),
    ("stage > 3", "cel_fails"),
])
def test_a_condition_is_checked_naming_the_rules_when_and_its_line(when: str, kind: str) -> None:
    assert problems(rule(when)) == [("rules.0.when", 6, kind)]


def test_ids_are_unique_and_entities_known() -> None:
    twice = rule("stage == \"proposal\"") + "  - id: r\n    label: again\n    entity: opportunity\n    when: 'true'\n"
    assert problems(twice) == [("rules.1.id", 8, "duplicate_rule")]
    assert problems(rule("true", entity="deal"))[0][:2] == ("rules.0.entity", 5)


@pytest.mark.parametrize(("when", "expected"), [
    ("days_in_stage > 3 && amount >= 1000", (Bound("days_in_stage", ">", 3.0), Bound("amount", ">=", 1000.0))),
    ("(consecutive_unanswered_outbound >= 2) && stage == \"proposal\"",
     (Bound("consecutive_unanswered_outbound", ">=", 2.0),)),
    ("4 <= days_since_update", (Bound("days_since_update", ">=", 4.0),)),
    ("days_in_stage > 3 || amount >= 1000", ()),  # a disjunction narrows nothing
    ("!standard_missed", (Bound("standard_missed", "is", False),)),
    ("stage == \"a && b\" && unbacked_flags >= 1", (Bound("unbacked_flags", ">=", 1.0),)),
])
def test_bounds_are_the_top_level_conjuncts_sql_can_check(when: str, expected: tuple[Bound, ...]) -> None:
    assert conditions.bounds(when, "opportunity", {}) == expected
