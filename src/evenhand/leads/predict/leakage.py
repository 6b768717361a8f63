"""Leakage guard: columns that give the outcome away because they were recorded after it.

Two tests, on the training rows only:

- **Separates**: one column alone ranks converted above not-converted leads almost perfectly (ROC AUC
  at least ``SEPARATES_AUC``, either direction). Numeric columns are ranked by their value (a blank
  ranked both lowest and highest, the stronger counts: a field filled in only for won leads leaks too);
  categorical columns by their target mean, learned out of fold so that a column with many rare values
  does not score itself. Columns are read as the model reads them (``features.fit_schema``): a column it
  drops (an ID, one value only) cannot leak into it.
- **Later than the outcome**: where a datetime column names the outcome's time (``Close Date``,
  ``Converted At``, ``成交日期`` …), another datetime column whose values lie after it on at least
  ``LATER_SHARE`` of the rows that have both was recorded after the outcome. Such outcome-time columns,
  and a few other names that only exist once a lead is decided (``Lost Reason``), are reported by name;
  that is the weaker test, kept short on purpose.

A warning is a prompt to look, not proof: a column can separate the outcome honestly when the data is small.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from evenhand.leads.predict.features import Column, fit_schema

SEPARATES_AUC = 0.95
LATER_SHARE = 0.5
MIN_ROWS = 10  # rows with both times needed before "later than the outcome" is claimed
DATETIME_SHARE = 0.95  # a column is a datetime column when this share of its values are dates or times
FOLDS = 5
# Names as ``_key`` writes them: lower case, letters and digits only.
OUTCOME_TIME_NAMES = frozenset({
    "closedate", "closeddate", "dateclosed", "closedat", "closedon", "closetime", "closedtime", "closingdate",
    "wondate", "dateofwin", "lostdate", "convertedat", "converteddate", "conversiondate", "dateconverted",
    "convertedon", "outcomedate", "decisiondate",
    "成交日期", "成交时间", "关闭日期", "关闭时间", "转化日期", "转化时间", "赢单日期", "输单日期"})
POST_OUTCOME_NAMES = OUTCOME_TIME_NAMES | frozenset({
    "lostreason", "lossreason", "reasonlost", "closereason", "closedreason", "reasonforloss", "winreason",
    "输单原因", "丢单原因", "关闭原因", "成交金额"})
_DATE_FORMATS = ("%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%Y年%m月%d日")

Reason = Literal["separates", "after_outcome", "post_outcome_name"]


@dataclass(frozen=True)
class Leak:
    column: str
    reason: Reason
    auc: float | None = None  # "separates": the column's own ROC AUC (0.5 … 1, direction ignored)
    outcome_column: str | None = None  # "after_outcome": the column holding the outcome's time
    later_share: float | None = None  # "after_outcome": share of rows where this column is later

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_leaks(columns: Mapping[str, Sequence[Any]], y: NDArray[Any], *, missing: frozenset[str] = frozenset(),
               seed: int = 0) -> list[Leak]:
    """Every column that looks recorded after the outcome, one finding per column, in column order.

    A time later than the outcome's is the real test and wins over the others; then separation; then the name.
    """
    y = np.asarray(y)
    later = {leak.column: leak for leak in later_than_outcome(columns)}
    separating = {leak.column: leak for leak in separating_columns(columns, y, missing=missing, seed=seed)}
    named = {name: Leak(name, "post_outcome_name") for name in columns if _key(name) in POST_OUTCOME_NAMES}
    found = [later.get(name) or separating.get(name) or named.get(name) for name in columns]
    return [leak for leak in found if leak is not None]


# --- one column alone ------------------------------------------------------------------------------


def separating_columns(columns: Mapping[str, Sequence[Any]], y: NDArray[Any], *,
                       missing: frozenset[str] = frozenset(), seed: int = 0) -> list[Leak]:
    if len(set(np.asarray(y).tolist())) < 2:
        return []
    schema = fit_schema(columns, missing)
    out = []
    for column in schema.columns:
        auc = column_auc(column, column.encode(columns[column.name]), y, seed=seed)
        if auc >= SEPARATES_AUC:
            out.append(Leak(column.name, "separates", auc=round(auc, 4)))
    return out


def column_auc(column: Column, x: NDArray[np.float64], y: NDArray[Any], *, seed: int = 0) -> float:
    """How well this one encoded column ranks the outcome, 0.5 (not at all) … 1 (perfectly), either direction."""
    if column.kind == "numeric":
        return _numeric_auc(x, y)
    codes = np.where(np.isnan(x), -1.0, x)  # a blank is a category of its own
    return _separation(y, _out_of_fold_means(codes, y, seed))


def _numeric_auc(x: NDArray[np.float64], y: NDArray[Any]) -> float:
    blank = np.isnan(x)
    if not blank.any():
        return _separation(y, x)
    present = x[~blank]
    low, high = (present.min() - 1, present.max() + 1) if len(present) else (0.0, 0.0)
    return max(_separation(y, np.where(blank, low, x)), _separation(y, np.where(blank, high, x)))


def _out_of_fold_means(codes: NDArray[np.float64], y: NDArray[Any], seed: int) -> NDArray[np.float64]:
    """Each row gets the smoothed outcome rate of its category among the other folds' rows."""
    target = y.astype(np.float64)
    out = np.empty(len(codes))
    folds = min(FOLDS, int(min(np.sum(y == 1), np.sum(y == 0))))
    if folds < 2:
        return np.full(len(codes), target.mean())
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(codes, y):
        prior = target[fit].mean()
        values, inverse = np.unique(codes[fit], return_inverse=True)
        sums, counts = np.bincount(inverse, weights=target[fit]), np.bincount(inverse)
        rates = (sums + prior) / (counts + 1)
        index = np.searchsorted(values, codes[held])
        seen = (index < len(values)) & (values[np.minimum(index, len(values) - 1)] == codes[held])
        out[held] = np.where(seen, rates[np.minimum(index, len(values) - 1)], prior)
    return out


def _separation(y: NDArray[Any], score: NDArray[np.float64]) -> float:
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


# --- times after the outcome -------------------------------------------------------------------------


def later_than_outcome(columns: Mapping[str, Sequence[Any]]) -> list[Leak]:
    """Datetime columns later than the outcome's time on most rows, when a column holds that time."""
    times = {name: parsed for name, values in columns.items() if (parsed := datetimes(values)) is not None}
    outcome = next((name for name in times if _key(name) in OUTCOME_TIME_NAMES), None)
    if outcome is None:
        return []
    out = []
    for name, values in times.items():
        if name == outcome:
            continue
        both = [(v, o) for v, o in zip(values, times[outcome], strict=True) if v is not None and o is not None]
        later = sum(v > o for v, o in both)
        if len(both) >= MIN_ROWS and later >= LATER_SHARE * len(both):
            out.append(Leak(name, "after_outcome", outcome_column=outcome, later_share=round(later / len(both), 4)))
    return out


def datetimes(values: Sequence[Any]) -> list[datetime | None] | None:
    """The column as naive UTC datetimes (None where blank), or None when it is not a datetime column."""
    parsed = [None if v is None else _datetime(v) for v in values]
    present = sum(v is not None for v in values)
    found = sum(p is not None for p in parsed)
    return parsed if present and found >= DATETIME_SHARE * present else None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not re.match(r"^\s*\d{4}\D|^\s*\d{1,2}\.\d{1,2}\.\d{4}", value):
        return None  # plain numbers are not times
    text = value.strip()
    try:
        return _datetime(datetime.fromisoformat(text))
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _key(name: str) -> str:
    """``Close Date``, ``close_date`` and ``CloseDate`` alike: NFKC, lower case, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold() if ch.isalnum())
