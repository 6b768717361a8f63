"""The model and its two baselines, all reading the same encoded matrix (see ``features``).

- the model: gradient-boosted trees with native categorical splits, calibrated by cross-validation;
- a plain logistic regression (impute, scale, one-hot);
- the naive-Bayes frequency model that Odoo's predictive lead scoring uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import ThreadpoolController

FOLDS = 5
# Isotonic calibration is only trustworthy with enough rows in each calibration fold; below that
# the two-parameter sigmoid is the safer fit.
ISOTONIC_ROWS, ISOTONIC_MINORITY = 5000, 250
_THREADS = ThreadpoolController()  # after the sklearn imports, so it sees their OpenMP runtime


def calibration_method(y: NDArray[Any]) -> str:
    minority = int(min(np.sum(y == 1), np.sum(y == 0)))
    return "isotonic" if len(y) >= ISOTONIC_ROWS and minority >= ISOTONIC_MINORITY else "sigmoid"


def one_thread() -> Any:
    """Run scikit-learn's OpenMP code on one thread.

    OpenMP threads busy-wait for each other; on the shared 2-core machines this project runs on, two
    threads fitted the trees 4–50× slower than one whenever anything else was running. One thread also
    makes the result independent of the machine.
    """
    return _THREADS.limit(limits=1, user_api="openmp")


def gradient_boosting(categorical: NDArray[np.bool_], seed: int) -> HistGradientBoostingClassifier:
    """Depth-2 trees and early stopping on held-back rows instead of tuning per data set.

    Lead data is mostly additive (each attribute nudges the odds) with a few thresholds and pairwise
    interactions; on the synthetic export and the demo history, depth 2 beat depth 3, 15-leaf trees and
    a tree + logistic blend.
    """
    return HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=1000, max_depth=2, max_leaf_nodes=None, min_samples_leaf=20,
        l2_regularization=1.0, categorical_features=categorical if categorical.any() else None,
        early_stopping=True, validation_fraction=0.15, n_iter_no_change=50, random_state=seed)


def calibrated_model(categorical: NDArray[np.bool_], y: NDArray[Any], seed: int) -> CalibratedClassifierCV:
    minority = int(min(np.sum(y == 1), np.sum(y == 0)))
    folds = StratifiedKFold(n_splits=max(2, min(FOLDS, minority)), shuffle=True, random_state=seed)
    return CalibratedClassifierCV(gradient_boosting(categorical, seed), method=calibration_method(y), cv=folds)


def logistic_baseline(categorical: NDArray[np.bool_]) -> Pipeline:
    """What an analyst fits first: median-impute and scale numbers, one-hot the categories (blank as its own)."""
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    categories = make_pipeline(SimpleImputer(strategy="constant", fill_value=-1.0),
                               OneHotEncoder(handle_unknown="ignore"))
    prepare = ColumnTransformer([("numbers", numbers, np.flatnonzero(~categorical).tolist()),
                                 ("categories", categories, np.flatnonzero(categorical).tolist())])
    return make_pipeline(prepare, LogisticRegression(max_iter=2000))


class FrequencyNaiveBayes(ClassifierMixin, BaseEstimator):
    """Odoo's predictive lead scoring (PLS), as an estimator.

    For each field value Odoo counts won and lost leads, turns the counts into P(value | won) and
    P(value | lost) with a 0.1 pseudo-count per value (``alpha``), and multiplies them with the prior
    as a naive-Bayes product. As in Odoo, a missing value or one never seen in training is skipped.
    Odoo scores categorical fields only; numeric columns are cut into ``bins`` quantile bins here so
    they can take part.
    """

    def __init__(self, categorical: NDArray[np.bool_] | None = None, bins: int = 10, alpha: float = 0.1) -> None:
        self.categorical = categorical
        self.bins = bins
        self.alpha = alpha

    def fit(self, X: NDArray[np.float64], y: NDArray[Any]) -> FrequencyNaiveBayes:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.edges_ = [self._edges(X[:, j], j) for j in range(X.shape[1])]
        codes = self._codes(X)
        self.log_prior_ = np.log(np.array([np.mean(y == 0), np.mean(y == 1)]))
        self.tables_ = [self._table(codes[:, j], y) for j in range(X.shape[1])]
        return self

    def predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        codes = self._codes(np.asarray(X, dtype=np.float64))
        log_odds = np.full(len(codes), self.log_prior_[1] - self.log_prior_[0])
        for j, table in enumerate(self.tables_):
            c = codes[:, j]
            seen = (c >= 0) & (c < len(table))
            log_odds[seen] += table[c[seen]]
        p = 1.0 / (1.0 + np.exp(-log_odds))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: NDArray[np.float64]) -> NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def _edges(self, column: NDArray[np.float64], j: int) -> NDArray[np.float64] | None:
        if self.categorical is not None and self.categorical[j]:
            return None
        present = column[~np.isnan(column)]
        if len(present) == 0:
            return np.array([])
        return np.unique(np.quantile(present, np.linspace(0, 1, self.bins + 1)[1:-1]))

    def _codes(self, X: NDArray[np.float64]) -> NDArray[np.int64]:
        codes = np.full(X.shape, -1, dtype=np.int64)
        for j, edges in enumerate(self.edges_):
            present = ~np.isnan(X[:, j])
            raw = X[present, j] if edges is None else np.searchsorted(edges, X[present, j], side="right")
            codes[present, j] = raw.astype(np.int64)
        return codes

    def _table(self, codes: NDArray[np.int64], y: NDArray[Any]) -> NDArray[np.float64]:
        """log P(v | won) − log P(v | lost) per value code; 0 (no evidence) for a value absent from training."""
        present = codes >= 0
        size = int(codes.max()) + 1 if present.any() else 0
        won = np.bincount(codes[present & (y == 1)], minlength=size).astype(np.float64)
        lost = np.bincount(codes[present & (y == 0)], minlength=size).astype(np.float64)
        seen = (won + lost) > 0
        won_p = (won + self.alpha) / np.sum((won + self.alpha)[seen])
        lost_p = (lost + self.alpha) / np.sum((lost + self.alpha)[seen])
        return np.where(seen, np.log(won_p) - np.log(lost_p), 0.0)
