"""Figures for held-out predictions: discrimination, calibration, the top decile, and a paired AUC test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm, rankdata
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

DECILES = 10
_EPS = 1e-6  # log loss of a 0 or 1 prediction is infinite; clip as every library does


def figures(y: NDArray[Any], p: NDArray[np.float64]) -> dict[str, Any]:
    base = float(np.mean(y))
    top = top_decile_conversion(y, p)
    return {"auc": _r(roc_auc_score(y, p)), "brier": _r(brier_score_loss(y, p)),
            "log_loss": _r(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
            "top_decile_conversion": _r(top), "top_decile_lift": _r(top / base if base else 0.0),
            "calibration": calibration_table(y, p)}


def calibration_table(y: NDArray[Any], p: NDArray[np.float64]) -> list[dict[str, Any]]:
    """Rows sorted by predicted probability, cut into ten groups of (nearly) equal size, lowest first."""
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(DECILES, len(order)))
    return [{"decile": i + 1, "count": len(g), "mean_predicted": _r(np.mean(p[g])), "observed": _r(np.mean(y[g]))}
            for i, g in enumerate(groups)]


def top_decile_conversion(y: NDArray[Any], p: NDArray[np.float64]) -> float:
    """Observed conversion among the tenth of leads with the highest predictions (ties keep row order)."""
    k = max(1, math.ceil(len(p) / DECILES))
    return float(np.mean(y[np.argsort(-p, kind="stable")[:k]]))


def compare_auc(y: NDArray[Any], p_a: NDArray[np.float64], p_b: NDArray[np.float64]) -> dict[str, float]:
    """DeLong's paired test: is model a's ROC AUC different from model b's on the same rows?"""
    pos, neg = y == 1, y == 0
    (auc_a, v10_a, v01_a), (auc_b, v10_b, v01_b) = _placements(pos, neg, p_a), _placements(pos, neg, p_b)
    s10, s01 = np.cov(np.vstack([v10_a, v10_b])), np.cov(np.vstack([v01_a, v01_b]))
    contrast = np.array([1.0, -1.0])
    variance = contrast @ s10 @ contrast / pos.sum() + contrast @ s01 @ contrast / neg.sum()
    diff = auc_a - auc_b
    z = diff / math.sqrt(variance) if variance > 0 else 0.0
    return {"auc_difference": _r(diff), "z": _r(z), "p_value": _r(2 * norm.sf(abs(z)))}


def _placements(pos: NDArray[np.bool_], neg: NDArray[np.bool_],
                p: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    m, n = int(pos.sum()), int(neg.sum())
    ranks = rankdata(np.concatenate([p[pos], p[neg]]))
    v10 = (ranks[:m] - rankdata(p[pos])) / n
    v01 = 1.0 - (ranks[m:] - rankdata(p[neg])) / m
    return float(v10.mean()), v10, v01


def _r(value: Any) -> float:
    return round(float(value), 4)
