"""Which columns the model reads and how their raw values become numbers, learned from training rows.

No hand-tuning: a column is numeric when nearly all its values parse as numbers, categorical otherwise;
rare categories fold into one "other" group, and columns that cannot generalise (one value only, or a
different value on almost every row, like an ID or free text) are dropped with the reason recorded.
Missing stays missing (NaN): the gradient-boosting model learns what a blank means.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from evenhand.leads.predict.data import clean, value_of

NUMERIC_SHARE = 0.95  # a column is numeric when this share of its values are numbers
RARE_ROWS, RARE_SHARE = 10, 0.002  # a category needs max(10 rows, 0.2 % of rows) to keep its own code
MAX_CATEGORIES = 60
ID_LIKE_SHARE, ID_LIKE_MIN = 0.5, 50  # more distinct values than half the rows (and > 50): an ID or free text
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()  # code i is categories[i]; code len(categories) is "other"
    folded: int = 0  # rare categories folded into "other"
    reference: float = math.nan  # a typical encoded value (median or most common code) for explanations

    def encode(self, values: Sequence[Any]) -> NDArray[np.float64]:
        if self.kind == "numeric":
            return np.array([_number(v) for v in values], dtype=np.float64)
        codes = {c: float(i) for i, c in enumerate(self.categories)}
        other = float(len(self.categories))
        return np.array([math.nan if v is None else codes.get(_text(v), other) for v in values], dtype=np.float64)


@dataclass(frozen=True)
class Dropped:
    column: str
    reason: Literal["constant", "id_like", "id_number"]
    distinct: int


@dataclass(frozen=True)
class FeatureSchema:
    columns: tuple[Column, ...]
    dropped: tuple[Dropped, ...]
    missing: frozenset[str] = frozenset()  # placeholders cleaned from rows at prediction, as in training

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def categorical(self) -> NDArray[np.bool_]:
        return np.array([c.kind == "categorical" for c in self.columns], dtype=bool)

    @property
    def reference(self) -> NDArray[np.float64]:
        return np.array([c.reference for c in self.columns], dtype=np.float64)

    def encode(self, columns: Mapping[str, Sequence[Any]], n: int) -> Matrix:
        """Columns by name → one float row per lead; a column the input lacks is missing throughout."""
        out = np.full((n, len(self.columns)), np.nan)
        for j, col in enumerate(self.columns):
            if col.name in columns:
                out[:, j] = col.encode(columns[col.name])
        return out

    def encode_rows(self, rows: Sequence[Any]) -> Matrix:
        return self.encode({c.name: [self.value(r, c.name) for r in rows] for c in self.columns}, len(rows))

    def value(self, row: Any, name: str) -> Any:
        """One input of a row as training saw it: placeholders such as ``Select`` are missing."""
        return clean(value_of(row, name), self.missing)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "kind": c.kind, "categories": len(c.categories), "folded": c.folded}
                for c in self.columns]


def fit_schema(columns: Mapping[str, Sequence[Any]], missing: frozenset[str] = frozenset()) -> FeatureSchema:
    kept: list[Column] = []
    dropped: list[Dropped] = []
    for name, values in columns.items():
        column = _fit_column(name, values)
        if isinstance(column, Dropped):
            dropped.append(column)
        else:
            kept.append(column)
    return FeatureSchema(tuple(kept), tuple(dropped), missing)


def _fit_column(name: str, values: Sequence[Any]) -> Column | Dropped:
    present = [v for v in values if v is not None]
    distinct = len({_text(v) for v in present})
    if distinct <= 1:
        return Dropped(name, "constant", distinct)
    numbers = [_number(v) for v in present if not isinstance(v, bool)]
    parsed = [x for x in numbers if not math.isnan(x)]
    if len(parsed) >= NUMERIC_SHARE * len(present):
        return _numeric(name, parsed, len(present), distinct)
    if distinct > max(ID_LIKE_MIN, ID_LIKE_SHARE * len(present)):
        return Dropped(name, "id_like", distinct)
    return _categorical(name, [_text(v) for v in values if v is not None], len(values))


def _numeric(name: str, parsed: list[float], present: int, distinct: int) -> Column | Dropped:
    """A run of distinct whole numbers on every row is a record number, not a measurement."""
    if distinct == present >= ID_LIKE_MIN and all(x.is_integer() for x in parsed):
        return Dropped(name, "id_number", distinct)
    return Column(name, "numeric", reference=float(np.median(parsed)))


def _categorical(name: str, present: list[str], n_rows: int) -> Column:
    counts = Counter(present)
    floor = max(RARE_ROWS, math.ceil(RARE_SHARE * n_rows))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = tuple(c for c, k in ranked[:MAX_CATEGORIES] if k >= floor)
    column = Column(name, "categorical", kept, folded=len(counts) - len(kept))
    codes = column.encode(present)
    missing = n_rows - len(present)
    values, freq = np.unique(codes, return_counts=True)
    reference = math.nan if missing >= freq.max() else float(values[np.argmax(freq)])
    return Column(name, "categorical", kept, folded=column.folded, reference=reference)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan
