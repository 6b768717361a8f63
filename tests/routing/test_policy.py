"""The policy document: defaults, CEL checked at load time, errors that name the path and the line."""

from __future__ import annotations

import pytest

from evenhand.routing import PolicyError, compile, load_default, parse
from evenhand.routing.policy import Pool, RoutingPolicy, default_text, lead_fields_read, policy_hash
from tests.routing.factory import policy_text

EAST = {"id": "east", "condition": 'lead.region == "east"'}


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    return caught.value


class TestValid:
    def test_default_policy_parses_and_compiles(self) -> None:
        policy = load_default()
        assert [p.id for p in policy.pools] == ["channel", "key_accounts", "smb"]
        assert policy.threshold_high_value == 80 and policy.weighted.prior_deals == 20
        assert compile(policy).pools[-1].program is None

    def test_defaults_apply(self) -> None:
        policy = parse(policy_text())
        assert policy.threshold_high_value == 80
        assert policy.availability.away_counts is False and policy.availability.working_hours is True
        assert policy.weighted.pick == "deadline" and policy.weighted.quota.favour == "behind"
        assert policy.holding.escalate_after_minutes == 30

    def test_hash_ignores_comments_and_layout_but_not_meaning(self) -> None:
        text = default_text()
        stripped = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert policy_hash(parse(text)) == policy_hash(parse(stripped))
        assert policy_hash(parse(text)) != policy_hash(parse(text.replace("threshold_high_value: 80",
                                                                          "threshold_high_value: 75")))

    def test_chinese_values_in_conditions(self) -> None:
        pool = {"id": "mfg", "condition": 'lead.region == "east" && lead.industry in ["制造业","零售"]'}
        assert parse(policy_text([pool, {"id": "rest"}])).pools[0].condition is not None


class TestErrorsNameThePath:
    def test_cel_syntax_error(self) -> None:
        err = error_of(policy_text([{"id": "a", "condition": "lead.region =="}, {"id": "rest"}]))
        assert err.path == "pools.0.condition" and err.problems[0].type == "cel_syntax"
        assert err.line == 4

    def test_unknown_lead_field(self) -> None:
        err = error_of(policy_text([EAST, {"id": "b", "condition": "lead.revenue > 10"}, {"id": "rest"}]))
        assert err.path == "pools.1.condition" and err.problems[0].type == "cel_unknown_field"
        assert "revenue" in err.message

    def test_unknown_field_by_index_and_in_every_branch(self) -> None:
        err = error_of(policy_text([{"id": "a", "condition": 'true || lead["budget"] > 1'}, {"id": "rest"}]))
        assert err.problems[0].type == "cel_unknown_field" and "budget" in err.message

    def test_unknown_variable(self) -> None:
        err = error_of(policy_text([{"id": "a", "condition": 'rep.region == "east"'}, {"id": "rest"}]))
        assert err.path == "pools.0.condition" and err.problems[0].type == "cel_unknown_name"

    def test_duplicate_pool_id_points_at_the_second(self) -> None:
        err = error_of(policy_text([EAST, {"id": "east", "condition": "true"}, {"id": "rest"}]))
        assert err.path == "pools.1.id" and err.problems[0].type == "duplicate_pool"

    def test_last_pool_must_be_catch_all(self) -> None:
        err = error_of(policy_text([{"id": "rest"}, EAST]))
        assert err.path == "pools.1.condition" and err.problems[0].type == "catch_all_last"
        assert err.line == 5

    def test_extra_keys_are_forbidden(self) -> None:
        err = error_of(policy_text([{"id": "rest", "memebers": {}}]))
        assert err.path == "pools.0.memebers" and err.problems[0].type == "extra_forbidden"

    def test_bad_values_name_nested_paths(self) -> None:
        err = error_of(policy_text(weighted={"quota": {"favour": "sideways"}}))
        assert err.path == "weighted.quota.favour"
        err = error_of(policy_text([{"id": "rest", "members": {"levels": ["intern"]}}]))
        assert err.path == "pools.0.members.levels.0"

    def test_every_problem_is_listed(self) -> None:
        err = error_of(policy_text([{"id": "Bad Id", "condition": "lead.nope"}, {"id": "rest"}],
                                   threshold_high_value=120))
        assert {p.path for p in err.problems} == {"threshold_high_value", "pools.0.id", "pools.0.condition"}

    def test_yaml_errors(self) -> None:
        assert error_of("name: x\npools: [\n").problems[0].type == "yaml_syntax"
        assert error_of("- a list").problems[0].type == "not_a_mapping"
        err = error_of("name: x\nname: y\npools: [{id: a}]\n")
        assert err.problems[0].type == "yaml_syntax" and err.line == 2

    def test_compile_checks_a_policy_built_without_parse(self) -> None:
        bad = Pool.model_construct(id="a", condition="lead.nope == 1", key_account=False)
        policy = RoutingPolicy.model_construct(name="x", pools=[bad, Pool(id="rest")])
        with pytest.raises(PolicyError) as caught:
            compile(policy)
        assert caught.value.path == "pools.0.condition"


def test_fields_read_ignore_string_literals() -> None:
    assert lead_fields_read('lead.title.contains("lead.nothing") && lead["region"] == \'lead.x\'') == \
        ["title", "region"]
