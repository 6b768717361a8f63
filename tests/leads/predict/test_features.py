"""How raw columns become model inputs: kinds, dropped columns, rare and unseen categories, missing values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evenhand.leads.predict.features import fit_schema


def _by_name(columns: dict[str, list[Any]]) -> dict[str, Any]:
    schema = fit_schema(columns)
    return {**{c.name: c for c in schema.columns}, **{d.column: d for d in schema.dropped}}


def test_numbers_with_blanks_and_thousands_separators_are_numeric() -> None:
    col = _by_name({"size": ["1,200", "35", None, "7.5"] * 30})["size"]
    assert col.kind == "numeric"
    assert col.encode(["1,200", None, "abc"]).tolist()[0] == 1200.0


def test_id_like_text_record_numbers_and_constants_are_dropped_with_a_reason() -> None:
    n = 200
    found = _by_name({"uuid": [f"id-{i}" for i in range(n)], "number": [str(5000 + i) for i in range(n)],
                      "flag": ["No"] * n, "ok": ["a", "b"] * (n // 2)})
    reasons = {name: getattr(found[name], "reason", None) for name in ("uuid", "number", "flag", "ok")}
    assert reasons == {"uuid": "id_like", "number": "id_number", "flag": "constant", "ok": None}


def test_rare_categories_fold_into_other_and_unseen_ones_join_them() -> None:
    values = ["Google"] * 500 + ["Direct"] * 300 + ["WeLearn"] * 3 + ["bing"] * 2 + [None] * 20
    col = _by_name({"source": values})["source"]
    assert col.categories == ("Google", "Direct") and col.folded == 2
    codes = col.encode(["Google", "Direct", "WeLearn", "never seen", None])
    assert codes[:4].tolist() == [0.0, 1.0, 2.0, 2.0] and math.isnan(codes[4])


def test_a_missing_input_column_is_missing_throughout() -> None:
    schema = fit_schema({"a": ["x", "y"] * 20, "b": [1, 2] * 20})
    X = schema.encode({"a": ["y", "x"]}, 2)
    assert X[:, 0].tolist() == [1.0, 0.0] and np.isnan(X[:, 1]).all()


def test_the_reference_is_the_median_or_the_most_common_value() -> None:
    schema = fit_schema({"n": [1, 2, 3, 10, None] * 10, "c": ["b", "a", "a", "a", None] * 10,
                         "blank": ["z", "y", None, None, None] * 10})
    assert schema.reference[:2].tolist() == [2.5, 0.0] and math.isnan(schema.reference[2])
