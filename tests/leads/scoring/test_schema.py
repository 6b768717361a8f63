"""The model document: what it accepts, and errors that name the path and the line."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from evenhand.leads.scoring import ScoringModelError, load_default, parse
from evenhand.leads.scoring.schema import EVENT_KINDS, default_text
from evenhand.models.lead import EventKind
from tests.leads.scoring.factory import model_text

INDUSTRY = {"type": "industry", "in": ["制造业"], "points": 20, "label": "行业：制造业"}


def error_of(text: str) -> ScoringModelError:
    with pytest.raises(ScoringModelError) as caught:
        parse(text)
    return caught.value


def error_for(groups: dict[str, Any], **top: Any) -> ScoringModelError:
    return error_of(model_text(groups, **top))


class TestValidModels:
    def test_default_model_parses_with_its_groups(self) -> None:
        model = load_default()
        assert set(model.groups) == {"fit", "behaviour", "penalties"}
        assert model.groups["behaviour"].half_life_days == 14
        assert model.threshold_high_value == 80 and model.blend.predictive_weight == 0

    def test_defaults_apply(self) -> None:
        model = parse(model_text({"fit": {"rules": [INDUSTRY]}}))
        assert model.threshold_high_value == 80
        assert model.blend.predictive_weight == 0.0
        assert model.groups["fit"].cap is None and model.groups["fit"].half_life_days is None

    def test_numeric_version_label_is_kept_as_text(self) -> None:
        assert parse(model_text({"fit": {"rules": [INDUSTRY]}}, version=3)).version == "3"

    def test_event_kinds_match_the_stored_enum(self) -> None:
        assert set(EVENT_KINDS) == {k.value for k in EventKind}


class TestErrorsNameThePath:
    def test_unknown_rule_type(self) -> None:
        err = error_for({"fit": {"rules": [INDUSTRY, {"type": "horoscope", "points": 5, "label": "x"}]}})
        assert err.path == "groups.fit.rules.1.type"
        assert "horoscope" in err.message

    def test_missing_points(self) -> None:
        rule = {k: v for k, v in INDUSTRY.items() if k != "points"}
        err = error_for({"fit": {"rules": [INDUSTRY, INDUSTRY, rule]}})
        assert err.path == "groups.fit.rules.2.points"
        assert err.problems[0].type == "missing" and err.message == "Field required"

    def test_band_with_min_not_below_max(self) -> None:
        rule = {"type": "company_size", "label": "规模", "bands": [{"min": 500, "max": 200, "points": 5}]}
        err = error_for({"fit": {"rules": [rule]}})
        assert err.path == "groups.fit.rules.0.bands.0"
        assert err.message == "min (500.0) must be below max (200.0)."
        assert err.problems[0].type == "band_order"

    def test_overlapping_bands(self) -> None:
        bands = [{"min": 0, "max": 100, "points": 1}, {"min": 50, "points": 2}]
        err = error_for({"fit": {"rules": [{"type": "company_size", "label": "规模", "bands": bands}]}})
        assert err.path == "groups.fit.rules.0.bands"
        assert err.problems[0].params == {"index": 1}

    def test_negative_cap(self) -> None:
        err = error_for({"fit": {"cap": -5, "rules": [INDUSTRY]}})
        assert err.path == "groups.fit.cap"
        assert err.problems[0].type == "greater_than_equal"

    def test_predictive_weight_above_one(self) -> None:
        err = error_for({"fit": {"rules": [INDUSTRY]}}, blend={"predictive_weight": 1.5})
        assert err.path == "blend.predictive_weight"

    def test_unknown_field_is_refused(self) -> None:
        err = error_for({"fit": {"rules": [{**INDUSTRY, "weight": 3}]}})
        assert err.path == "groups.fit.rules.0.weight"
        assert err.problems[0].type == "extra_forbidden"

    def test_every_problem_is_listed(self) -> None:
        err = error_for({"fit": {"cap": -1, "rules": [{**INDUSTRY, "points": "many"}]}})
        assert {p.path for p in err.problems} == {"groups.fit.cap", "groups.fit.rules.0.points"}

    def test_duplicate_rule_ids(self) -> None:
        err = error_for({"fit": {"rules": [{**INDUSTRY, "id": "mfg"}, {**INDUSTRY, "id": "mfg"}]}})
        assert err.path == "groups.fit.rules" and err.problems[0].params == {"id": "mfg"}

    def test_alias_standing_for_two_values(self) -> None:
        err = error_for({"fit": {"rules": [INDUSTRY]}}, aliases={"industry": {"制造业": ["mfg"], "金融": ["MFG"]}})
        assert err.path == "aliases.industry" and err.problems[0].type == "alias_conflict"

    def test_points_beyond_a_hundred(self) -> None:
        assert error_for({"fit": {"rules": [{**INDUSTRY, "points": 250}]}}).path == "groups.fit.rules.0.points"

    def test_page_view_needs_points_or_bands(self) -> None:
        err = error_for({"b": {"rules": [{"type": "page_view", "label": "浏览"}]}})
        assert err.path == "groups.b.rules.0" and err.problems[0].type == "points_or_bands"

    def test_reserved_group_name(self) -> None:
        assert error_for({"total": {"rules": [INDUSTRY]}}).problems[0].type == "reserved_group"


class TestLineNumbers:
    def test_yaml_syntax_error_names_the_line(self) -> None:
        err = error_of("name: x\ngroups:\n  fit:\n    rules: [\n      {type: industry\n  bad: ]\n")
        assert err.line is not None and err.line >= 5
        assert err.problems[0].type == "yaml_syntax"
        assert str(err).startswith(f"line {err.line}: ")

    def test_schema_error_names_the_line_of_the_rule(self) -> None:
        text = "name: x\ngroups:\n  fit:\n    rules:\n      - {type: industry, in: [a], label: A, points: 1}\n" \
               "      - {type: industry, in: [b], label: B}\n"
        err = error_of(text)
        assert (err.path, err.line) == ("groups.fit.rules.1.points", 6)
        assert str(err) == "line 6: groups.fit.rules.1.points: Field required"

    def test_wrong_value_names_its_own_line(self) -> None:
        err = error_of("name: x\ngroups:\n  fit:\n    cap: -3\n    rules:\n      - {type: missing, field: phone,"
                       " points: -5, label: 无电话}\n")
        assert (err.path, err.line) == ("groups.fit.cap", 4)

    def test_duplicate_key_is_an_error_not_a_silent_overwrite(self) -> None:
        err = error_of("name: x\ngroups:\n  fit:\n    rules: []\n  fit:\n    rules: []\n")
        assert err.line == 5 and "fit" in err.message

    def test_a_list_is_not_a_model(self) -> None:
        assert error_of("- a\n- b\n").problems[0].type == "not_a_mapping"

    def test_empty_document(self) -> None:
        assert error_of("").problems[0].type == "not_a_mapping"


def test_default_model_is_shipped_as_package_data() -> None:
    assert "predictive_weight" in default_text()


def test_scorer_imports_neither_sqlalchemy_nor_fastapi() -> None:
    code = ("import sys, evenhand.leads.scoring; "
            "bad = [m for m in ('sqlalchemy', 'fastapi', 'starlette') if m in sys.modules]; "
            "print(*bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
