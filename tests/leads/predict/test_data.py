"""Reading training data from an export: placeholders, the outcome column, ids, exclusions, mapping files."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evenhand.errors import Invalid
from evenhand.leads.predict.data import from_table, parse_target, value_of

HEADER = ["id", "Outcome", "Source", "Visits", "Email", "行业"]


def _rows(outcomes: list[str]) -> list[dict[str, str]]:
    sources = ["Web", "Select", "-", "", "select", "Fair"]
    return [{"id": f"P{i}", "Outcome": o, "Source": sources[i % len(sources)], "Visits": str(i % 4),
             "Email": f"a{i}@{'qq.com' if i % 2 else 'acme.cn'}", "行业": "请选择" if i % 3 else "金融"}
            for i, o in enumerate(outcomes)]


class TestPlaceholders:
    def test_select_dash_empty_and_chinese_placeholders_are_missing_without_a_mapping_file(self) -> None:
        data = from_table(HEADER, _rows(["1", "0"] * 6), target="Outcome")
        assert data.columns["Source"][:6] == ["Web", None, None, None, None, "Fair"]
        assert data.columns["行业"][:3] == ["金融", None, None]

    def test_a_mapping_file_replaces_the_placeholder_list(self) -> None:
        mapping = 'fields: {source: Source}\nmissing: ["-"]\n'
        data = from_table(HEADER, _rows(["1", "0"] * 6), target="Outcome", mapping_text=mapping)
        assert data.columns["source"][:6] == ["Web", "Select", None, "", "select", "Fair"]


class TestTarget:
    @pytest.mark.parametrize("yes, no", [("1", "0"), ("Yes", "No"), ("true", "false"), ("Converted", "Lost"),
                                         ("已成交", "未成交"), ("Converted", "Open"), ("Hot", "No")])
    def test_common_spellings_map_to_one_and_zero(self, yes: str, no: str) -> None:
        target, known = parse_target([yes, no, None, yes], "Outcome")
        assert target[known].tolist() == [1, 0, 1]

    def test_rows_without_an_outcome_are_left_out_and_counted(self) -> None:
        data = from_table(HEADER, _rows(["1", "0", "", "Select", "1", "0"]), target="Outcome", id_column="id")
        assert (len(data), data.skipped, data.ids) == (4, 2, ["P0", "P1", "P4", "P5"])

    @pytest.mark.parametrize("values", [["a", "b", "c", "a"], ["1", "2", "0", "1"]])
    def test_a_column_that_is_not_yes_no_is_refused_by_name(self, values: list[str]) -> None:
        with pytest.raises(Invalid) as caught:
            from_table(HEADER, _rows(values), target="Outcome")
        assert caught.value.params["column"] == "Outcome" and caught.value.field == "target"

    def test_one_outcome_only_is_refused(self) -> None:
        with pytest.raises(Invalid, match="only one outcome") as caught:
            from_table(HEADER, _rows(["yes"] * 5), target="Outcome")
        assert caught.value.params["column"] == "Outcome"

    @pytest.mark.parametrize("option, kwargs", [("target", {"target": "Won"}),
                                                ("id_column", {"target": "Outcome", "id_column": "Lead ID"}),
                                                ("exclude", {"target": "Outcome", "exclude": ["Nope"]})])
    def test_an_unknown_column_is_named_with_the_columns_the_file_has(self, option: str,
                                                                      kwargs: dict[str, object]) -> None:
        with pytest.raises(Invalid) as caught:
            from_table(HEADER, _rows(["1", "0"]), **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == option
        assert "Source" in caught.value.params["columns"]


class TestColumns:
    def test_target_id_and_excluded_columns_are_not_features(self) -> None:
        data = from_table(HEADER, _rows(["1", "0"] * 3), target="Outcome", id_column="id", exclude=["Visits"])
        assert list(data.columns) == ["Source", "Email", "行业"]

    def test_a_mapping_file_renames_to_lead_fields_and_derives_from_contact_fields(self) -> None:
        mapping = "fields: {source: {column: Source, case: lower}, email: Email, external_id: id}\n"
        data = from_table(HEADER, _rows(["1", "0"] * 3), target="Outcome", mapping_text=mapping)
        assert set(data.columns) == {"Visits", "行业", "source", "email_kind"}
        assert data.columns["email_kind"][:2] == ["company", "free"]
        assert data.columns["source"][0] == "web"


def test_inputs_come_from_keys_attributes_or_are_derived() -> None:
    lead = SimpleNamespace(industry="金融", email="li@163.com", phone=None)
    assert [value_of(lead, n) for n in ("industry", "email_kind", "has_phone", "region")] == ["金融", "free", "no",
                                                                                           None]
    assert value_of({"email_kind": "company", "email": "x@qq.com"}, "email_kind") == "company"
