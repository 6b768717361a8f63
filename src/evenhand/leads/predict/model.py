"""A trained conversion model: fit it, predict probabilities for lead rows, explain one lead's probability.

Rows are anything with the feature names as keys or attributes: a dict from a file, a dict of lead
fields, or an ORM ``Lead`` (``email_kind`` and ``has_phone`` are derived from its email and phone).
A model trained on evenhand's history learned behaviour counts *at intake*; scoring a lead later,
with more events on it, asks about a lead unlike those it learned from — ``service.intake_rows`` gives the
rows as they were at intake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV

from evenhand.leads.predict.data import Dataset
from evenhand.leads.predict.estimators import calibrated_model, calibration_method, one_thread
from evenhand.leads.predict.features import FeatureSchema, fit_schema

ALGORITHM = "HistGradientBoosting, {method} calibration"
NEGLIGIBLE = 1e-6  # a change this small is rounding, not an effect


class Contribution(NamedTuple):
    """How much one input moved this lead's probability, against a typical value for that input."""

    feature: str
    value: Any
    delta: float  # probability change, −1 … 1; ×100 for points on the 0–100 scale


@dataclass(frozen=True)
class LeadModel:
    schema: FeatureSchema
    estimator: CalibratedClassifierCV
    algorithm: str
    origin: str  # "leads" or "file"
    seed: int

    def predict_proba(self, rows: Sequence[Any]) -> NDArray[np.float64]:
        """P(converted) per row, 0 … 1."""
        if not rows:
            return np.empty(0)
        return self.probabilities(self.schema.encode_rows(rows))

    def probabilities(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        with one_thread():
            return np.asarray(self.estimator.predict_proba(X)[:, 1], dtype=np.float64)


def fit(dataset: Dataset, *, seed: int = 42) -> LeadModel:
    schema = fit_schema(dataset.columns, dataset.missing)
    return fit_encoded(schema, schema.encode(dataset.columns, len(dataset)), dataset.target, dataset.origin, seed)


def fit_encoded(schema: FeatureSchema, X: NDArray[np.float64], y: NDArray[Any], origin: str, seed: int) -> LeadModel:
    with one_thread():
        estimator = calibrated_model(schema.categorical, y, seed).fit(X, y)
    return LeadModel(schema, estimator, ALGORITHM.format(method=calibration_method(y)), origin, seed)


def predict(model: LeadModel, rows: Sequence[Any]) -> NDArray[np.float64]:
    return model.predict_proba(rows)


def scores(model: LeadModel, rows: Sequence[Any]) -> list[int]:
    """The probability as shown to people: a whole number 0–100."""
    return [round(100 * p) for p in model.predict_proba(rows).tolist()]


def explain(model: LeadModel, row: Any, *, top: int = 3) -> list[Contribution]:
    """The inputs that pushed this lead's probability up most (first) and down most (after them).

    Occlusion: each input in turn is replaced by a typical training value (the median, or the most
    common category — blank when blank was most common) and the probability recomputed; the change is
    what this lead's own value is worth. An input equal to the typical value moves nothing.
    """
    x = model.schema.encode_rows([row])
    variants = np.repeat(x, x.shape[1], axis=0)
    np.fill_diagonal(variants, model.schema.reference)
    p = model.probabilities(np.vstack([x, variants]))
    deltas = p[0] - p[1:]
    names = model.schema.names
    lines = [Contribution(names[j], model.schema.value(row, names[j]), float(deltas[j])) for j in range(len(names))]
    ups = sorted((c for c in lines if c.delta > NEGLIGIBLE), key=lambda c: -c.delta)[:top]
    downs = sorted((c for c in lines if c.delta < -NEGLIGIBLE), key=lambda c: c.delta)[:top]
    return ups + downs
