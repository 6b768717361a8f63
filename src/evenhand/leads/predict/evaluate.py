"""The held-out report: the model and both baselines learn from the same stratified part, and are
judged on the rest, so the comparison in the report is always like for like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from evenhand.errors import Invalid
from evenhand.i18n import N_
from evenhand.leads.predict.data import Dataset
from evenhand.leads.predict.estimators import FrequencyNaiveBayes, logistic_baseline
from evenhand.leads.predict.features import FeatureSchema, fit_schema
from evenhand.leads.predict.leakage import find_leaks
from evenhand.leads.predict.metrics import compare_auc, figures
from evenhand.leads.predict.model import fit_encoded

MIN_PER_CLASS = 10
Step = Callable[[str], None]
STEPS = (N_("Training the model"), N_("Training the logistic-regression baseline"),
         N_("Training the naive-Bayes baseline"))
BASELINES = ("logistic", "naive_bayes")


def check_trainable(y: NDArray[Any]) -> None:
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if min(positives, negatives) < MIN_PER_CLASS:
        raise Invalid("Too few outcomes to learn from: {positives} converted and {negatives} not converted; "
                      "at least {minimum} of each are needed.", field="target", positives=positives,
                      negatives=negatives, minimum=MIN_PER_CLASS)


def check_features(schema: FeatureSchema) -> None:
    if not schema.columns:
        raise Invalid("No column is usable as a feature (dropped: {columns}).", field="columns",
                      columns=", ".join(d.column for d in schema.dropped) or "-")


def split(y: NDArray[Any], *, test_size: float, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    if not 0 < test_size < 1:
        raise Invalid("The test share must be between 0 and 1, not {value}.", field="test_size", value=test_size)
    train, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def evaluate(dataset: Dataset, *, test_size: float = 0.3, seed: int = 42,
             step: Step | None = None) -> dict[str, Any]:
    """Train on a stratified (1 − test_size) share, report on the rest; see ``report`` for the keys.

    ``leakage`` lists the columns that look recorded after the outcome (``leakage.find_leaks`` on the training
    part), each as a dict with its ``column`` and ``reason``."""
    check_trainable(dataset.target)
    train_idx, test_idx = split(dataset.target, test_size=test_size, seed=seed)
    train, test = dataset.take(train_idx), dataset.take(test_idx)
    schema = fit_schema(train.columns, dataset.missing)
    check_features(schema)
    X_train, X_test = schema.encode(train.columns, len(train)), schema.encode(test.columns, len(test))
    predictions, algorithm = _predictions(schema, X_train, train.target, X_test, seed, step or (lambda _: None))
    head = {"source": dataset.description, "origin": dataset.origin, "n_rows": len(dataset), "n_train": len(train),
            "n_test": len(test), "test_size": test_size, "seed": seed, "skipped_rows": dataset.skipped,
            "algorithm": algorithm}
    leakage = [leak.as_dict() for leak in find_leaks(train.columns, train.target, missing=dataset.missing, seed=seed)]
    return {**head, **report(test.target, predictions), **_schema_summary(schema), "leakage": leakage}


def _predictions(schema: FeatureSchema, X_train: NDArray[np.float64], y_train: NDArray[Any],
                 X_test: NDArray[np.float64], seed: int, step: Step) -> tuple[dict[str, NDArray[np.float64]], str]:
    step(STEPS[0])
    model = fit_encoded(schema, X_train, y_train, "", seed)
    out = {"model": model.probabilities(X_test)}
    step(STEPS[1])
    out["logistic"] = logistic_baseline(schema.categorical).fit(X_train, y_train).predict_proba(X_test)[:, 1]
    step(STEPS[2])
    out["naive_bayes"] = FrequencyNaiveBayes(schema.categorical).fit(X_train, y_train).predict_proba(X_test)[:, 1]
    return out, model.algorithm


def report(y: NDArray[Any], predictions: dict[str, NDArray[np.float64]]) -> dict[str, Any]:
    """The model's figures at the top level, each baseline's under ``baselines``, and the paired AUC tests."""
    model = predictions["model"]
    return {"base_rate": round(float(np.mean(y)), 4), **figures(y, model),
            "baselines": {name: figures(y, predictions[name]) for name in BASELINES},
            "versus": {name: compare_auc(y, model, predictions[name]) for name in BASELINES}}


def _schema_summary(schema: FeatureSchema) -> dict[str, Any]:
    return {"features": schema.describe(), "dropped": [asdict(d) for d in schema.dropped]}


def beats_baselines(result: dict[str, Any]) -> dict[str, bool]:
    return {name: result["auc"] > result["baselines"][name]["auc"] for name in BASELINES}
