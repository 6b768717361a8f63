"""The naive-Bayes frequency baseline computes what Odoo's predictive lead scoring computes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from evenhand.leads.predict.estimators import FrequencyNaiveBayes, calibration_method

CATEGORICAL = np.array([True])


def _fitted() -> FrequencyNaiveBayes:
    X = np.array([[0], [0], [1], [1], [1], [1], [0]], dtype=float)
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    return FrequencyNaiveBayes(CATEGORICAL).fit(X, y)


def test_value_frequencies_with_the_point_one_pseudo_count_times_the_prior() -> None:
    won, lost = (2 + 0.1) / (3 + 0.2), (1 + 0.1) / (4 + 0.2)  # P(value 0 | won), P(value 0 | lost)
    expected = 3 / 7 * won / (3 / 7 * won + 4 / 7 * lost)
    assert _fitted().predict_proba(np.array([[0.0]]))[0, 1] == pytest.approx(expected)


def test_missing_and_unseen_values_are_skipped_leaving_the_prior() -> None:
    p = _fitted().predict_proba(np.array([[np.nan], [7.0]]))[:, 1]
    assert p.tolist() == pytest.approx([3 / 7, 3 / 7])


def test_numbers_are_binned_and_the_estimator_clones() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = (x + rng.normal(scale=0.5, size=400) > 0).astype(int)
    model = clone(FrequencyNaiveBayes(np.array([False]), bins=5)).fit(x[:, None], y)
    low, high = model.predict_proba(np.array([[-2.0], [2.0]]))[:, 1]
    assert low < 0.2 < 0.8 < high


@pytest.mark.parametrize("rows, positives, method", [(3000, 1200, "sigmoid"), (20000, 2000, "isotonic"),
                                                     (20000, 100, "sigmoid")])
def test_isotonic_calibration_only_with_enough_rows_of_each_outcome(rows: int, positives: int, method: str) -> None:
    y = np.zeros(rows)
    y[:positives] = 1
    assert calibration_method(y) == method
