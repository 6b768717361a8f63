"""Training data: raw feature columns and a 0/1 outcome, read from a lead export or built from lead rows.

Values stay raw here (text, numbers, ``None`` for missing); ``features.fit_schema`` decides later which
columns are numeric, which categorical and which to drop. Placeholders that real exports use for
"nothing chosen" (``Select``, ``-``, empty, ``请选择`` …) become ``None`` on the way in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evenhand.errors import Invalid
from evenhand.leads import mapping as mapping_mod

# The import mapping's own defaults, plus spellings that spreadsheet and pandas exports add.
DEFAULT_MISSING = (*mapping_mod.Mapping(fields={}).missing, "nan", "NaN", "#N/A", "--", "(blank)", "请选择")

POSITIVE = frozenset({"1", "1.0", "yes", "y", "true", "t", "converted", "won", "win", "success", "closed won",
                      "是", "成交", "已成交", "转化", "已转化", "赢单"})
NEGATIVE = frozenset({"0", "0.0", "no", "n", "false", "f", "not converted", "unconverted", "lost", "lose",
                      "disqualified", "closed lost", "否", "未成交", "未转化", "输单", "丢单"})

BEHAVIOUR = ("page_views", "dwell_seconds", "downloads", "webinars", "forms", "email_opens", "email_clicks")
# What a lead is known by at intake. Never owner, status, score, first response or close: those come
# later, and a model that reads them learns the outcome instead of predicting it (leakage).
LEAD_FEATURES = ("source", "industry", "region", "title", "company_size", "email_kind", "has_phone", *BEHAVIOUR)
# Lead fields that identify a lead rather than describe it; a mapped file drops them.
IDENTIFYING = frozenset({"external_id", "company", "contact_name", "email", "phone"})
FREE_MAIL = frozenset({"qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "139.com",
                       "foxmail.com", "aliyun.com", "gmail.com", "outlook.com", "hotmail.com", "live.com",
                       "yahoo.com", "icloud.com"})


@dataclass(frozen=True)
class Dataset:
    """Feature columns by name, the outcome (1 = converted) and where they came from."""

    columns: dict[str, list[Any]]
    target: NDArray[np.int8]
    description: str
    origin: str  # "leads" (evenhand's own history) or "file"
    skipped: int = 0  # rows left out because their outcome was missing
    ids: list[str] = field(default_factory=list)
    missing: frozenset[str] = frozenset()  # placeholders that mean "no value", lower-cased

    def __len__(self) -> int:
        return len(self.target)

    def take(self, idx: NDArray[np.intp]) -> Dataset:
        pick = idx.tolist()
        columns = {name: [values[i] for i in pick] for name, values in self.columns.items()}
        return Dataset(columns, self.target[idx], self.description, self.origin,
                       ids=[self.ids[i] for i in pick] if self.ids else [], missing=self.missing)


def email_kind(email: Any) -> str | None:
    """``free`` for a personal mailbox (qq.com, 163.com, gmail.com …), ``company`` for any other domain."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return "free" if email.rsplit("@", 1)[1].strip().lower() in FREE_MAIL else "company"


def has_phone(phone: Any) -> str:
    return "yes" if isinstance(phone, str) and phone.strip() else "no"


DERIVED: dict[str, tuple[str, Callable[[Any], Any]]] = {"email_kind": ("email", email_kind),
                                                        "has_phone": ("phone", has_phone)}


def value_of(row: Any, name: str) -> Any:
    """One input of a row: a mapping key, an attribute (an ORM ``Lead``), or derived from one."""
    if isinstance(row, Mapping):
        if name in row:
            return row[name]
    elif hasattr(row, name):
        return getattr(row, name)
    if name in DERIVED:
        source, derive = DERIVED[name]
        return derive(value_of(row, source))
    return None


def clean(value: Any, missing: frozenset[str]) -> Any:
    """Trimmed text, or None for a placeholder; numbers pass through (NaN is missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        return None if text.lower() in missing else text
    return value


def missing_set(placeholders: Sequence[str]) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in placeholders)


# --- the outcome ------------------------------------------------------------------------------------


def parse_target(values: Sequence[Any], column: str) -> tuple[NDArray[np.int8], NDArray[np.bool_]]:
    """0/1 per row and which rows have an outcome; 1/0, yes/no, true/false, converted/lost … all work.

    A column with two values of which one is recognised (``Converted`` / ``Open``) takes the other as
    its opposite; anything else is not a yes/no outcome and is refused, naming the column.
    """
    raw = [None if v is None else str(v).strip() for v in values]
    text = [None if v is None else v.lower() for v in raw]
    known = np.array([v is not None for v in text])
    distinct = sorted({v for v in text if v is not None})
    positive = _positive_values(distinct, column, sorted({v for v in raw if v is not None}))
    target = np.array([1 if v in positive else 0 for v in text], dtype=np.int8)
    if len(set(target[known].tolist())) < 2:
        raise Invalid("Column {column} has only one outcome ({value}); training needs converted and "
                      "not converted leads.", field="target", column=column, value=", ".join(distinct) or "-")
    return target, known


def _positive_values(distinct: list[str], column: str, shown: list[str]) -> frozenset[str]:
    unknown = [v for v in distinct if v not in POSITIVE | NEGATIVE]
    if not unknown:
        return POSITIVE
    if len(distinct) == 2 and len(unknown) == 1:
        other = next(v for v in distinct if v != unknown[0])
        return frozenset({other}) if other in POSITIVE else frozenset(unknown)
    raise Invalid("Column {column} is not a yes/no outcome: it has values such as {values}.", field="target",
                  column=column, values=", ".join(repr(v) for v in shown[:6]))


# --- a file ---------------------------------------------------------------------------------------


def from_table(header: Sequence[str], rows: Sequence[Mapping[str, Any]], *, target: str,
               id_column: str | None = None, exclude: Sequence[str] = (), mapping_text: str | None = None,
               description: str = "") -> Dataset:
    """A dataset from an export's rows; with a mapping file, mapped columns take lead field names."""
    _check_columns(header, target=target, id_column=id_column, exclude=exclude)
    spec = mapping_mod.parse_mapping(mapping_text) if mapping_text is not None else None
    if spec is not None:
        mapping_mod.check_columns(spec, list(header))
    missing = missing_set(spec.missing if spec is not None else DEFAULT_MISSING)
    y, known = parse_target([clean(r.get(target), missing) for r in rows], target)
    keep = np.flatnonzero(known)
    columns = _feature_columns(header, [rows[i] for i in keep.tolist()], spec, missing,
                               skip={target, id_column, *exclude})
    ids = [str(rows[i].get(id_column) or "") for i in keep.tolist()] if id_column else []
    return Dataset(columns, y[keep], description, "file", skipped=len(rows) - len(keep), ids=ids, missing=missing)


def _check_columns(header: Sequence[str], *, target: str, id_column: str | None, exclude: Sequence[str]) -> None:
    wanted = [("target", target), ("id_column", id_column), *(("exclude", c) for c in exclude)]
    for option, column in wanted:
        if column is not None and column not in header:
            raise Invalid("The file has no column {column} (it has: {columns}).", field=option, column=column,
                          columns=", ".join(header))


def _feature_columns(header: Sequence[str], rows: Sequence[Mapping[str, Any]], spec: mapping_mod.Mapping | None,
                     missing: frozenset[str], *, skip: set[str | None]) -> dict[str, list[Any]]:
    consumed = {s.column for s in spec.fields.values() if s.column} if spec is not None else set()
    columns = {name: [clean(r.get(name), missing) for r in rows] for name in header
               if name not in skip and name not in consumed and name}
    if spec is not None:
        columns.update(_mapped_columns(spec, rows, missing, skip))
    return columns


def _mapped_columns(spec: mapping_mod.Mapping, rows: Sequence[Mapping[str, Any]], missing: frozenset[str],
                    skip: set[str | None]) -> dict[str, list[Any]]:
    """Mapped fields under lead field names, so a model trained on an export can score evenhand's leads."""
    fields = [mapping_mod.apply(spec, dict(r)) for r in rows]
    wanted = [f for f, s in spec.fields.items() if s.column not in skip]
    names = [f for f in wanted if f not in IDENTIFYING]
    names += [d for d, (src, _) in DERIVED.items() if src in wanted]
    return {name: [clean(value_of(f, name), missing) for f in fields] for name in names}


# --- lead rows ------------------------------------------------------------------------------------


def from_leads(rows: Sequence[Mapping[str, Any]], target: Sequence[int], description: str) -> Dataset:
    """A dataset from lead rows that already hold only intake-time facts (see ``repository.history``)."""
    missing = missing_set(DEFAULT_MISSING)
    columns = {name: [clean(value_of(r, name), missing) for r in rows] for name in LEAD_FEATURES}
    ids = [str(r.get("id", "")) for r in rows]
    return Dataset(columns, np.asarray(target, dtype=np.int8), description, "leads", ids=ids,
                   missing=missing)
