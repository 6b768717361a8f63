"""Comparing two arms (control, canary) on a difference ``canary − control``: the fixed-horizon two-sided test and
confidence interval, and an always-valid sequential test that may be read after every lead without inflating the
false-alarm rate.

The sequential test is the mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh,
"Peeking at A/B tests" (KDD 2017) and "Always valid inference" (Operations Research 2022): with an estimate
``d`` of the difference whose variance is ``V`` (normal approximation), and a normal mixing distribution
N(0, τ²) over the true difference, the likelihood ratio against "no difference" is

    Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))

and the always-valid p-value after look n is ``p_n = min(1, min over m ≤ n of 1/Λ_m)``: it never rises, and
under no difference the chance that it ever falls below α is at most α, however often it is looked at. τ is
the size of difference the test is tuned to find quickly (in the metric's own unit). The variance is estimated
from both arms pooled, as under no difference, and a look counts only once each arm has ``min_n`` observations:
before that the estimate of V is too rough for the normal approximation.

The fixed-horizon intervals are ``stats``'s (Newcombe's for two rates, Welch's for two means), with the
matching tests' p-values. Pure: numbers and numpy arrays in, numbers and arrays out. Arrays of looks run along
their last axis, so many simulated experiments can be computed at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evenhand.monitor.stats import LEVEL, Difference, Summary, critical_z, newcombe_difference, welch, welch_difference

MIN_N = 30  # observations per arm before a look counts

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Comparison:
    """``canary − control`` with its two-sided interval ``[low, high]`` at ``LEVEL`` and fixed-horizon p-value."""

    control: float
    canary: float
    diff: float
    low: float
    high: float
    p: float


def _compared(found: Difference, p: float) -> Comparison:
    return Comparison(found.before, found.after, found.estimate, found.low, found.high, p)


def proportions(x_control: float, n_control: float, x_canary: float, n_canary: float, *,
                level: float = LEVEL) -> Comparison:
    """Two rates: the pooled two-proportion z-test, and Newcombe's hybrid score interval (1998, method 10) built
    from each arm's Wilson interval, which keeps its coverage for small counts and rates near 0 or 1."""
    found = newcombe_difference(x_control, n_control, x_canary, n_canary, level)
    # the test's variance is the pooled rate's, as under no difference; the interval's is each arm's own
    pooled = (x_control + x_canary) / (n_control + n_canary)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_canary))
    return _compared(found, 1.0 if se == 0 else float(2 * stats.norm.sf(abs(found.estimate) / se)))


def means(mean_control: float, var_control: float, n_control: float, mean_canary: float, var_canary: float,
          n_canary: float, *, level: float = LEVEL) -> Comparison:
    """Two means (unequal variances allowed): Welch's t-test and interval; each arm needs two observations."""
    control, canary = Summary(n_control, mean_control, var_control), Summary(n_canary, mean_canary, var_canary)
    found = welch_difference(control, canary, level)
    diff, se, df = welch(control, canary)
    if se == 0:
        return _compared(found, 1.0 if diff == 0 else 0.0)
    return _compared(found, float(2 * stats.t.sf(abs(diff) / se, df)))


def normal(control: float, canary: float, variance: float, *, level: float = LEVEL) -> Comparison:
    """A difference known by its estimate and variance (a difference of medians, of spreads): z-test and
    interval."""
    diff, se = canary - control, math.sqrt(max(variance, 0.0))
    if se == 0:
        return Comparison(control, canary, diff, diff, diff, 1.0 if diff == 0 else 0.0)
    z = critical_z(level)
    return Comparison(control, canary, diff, diff - z * se, diff + z * se, float(2 * stats.norm.sf(abs(diff) / se)))


def log_mixture_ratio(diff: ArrayLike, variance: ArrayLike, tau: float) -> Floats:
    """log Λ for each look; 0 (no evidence) where the variance is not positive."""
    d, v = np.asarray(diff, dtype=np.float64), np.asarray(variance, dtype=np.float64)
    tau2, ok = tau * tau, v > 0
    safe = np.where(ok, v, 1.0)
    log_lr = 0.5 * np.log(safe / (safe + tau2)) + tau2 * d * d / (2 * safe * (safe + tau2))
    return np.where(ok, log_lr, 0.0)


def always_valid(diff: ArrayLike, variance: ArrayLike, tau: float) -> Floats:
    """The always-valid p-value after each look (last axis): ``min(1, running min of 1/Λ)``."""
    log_p = np.minimum(0.0, -log_mixture_ratio(diff, variance, tau))
    return np.asarray(np.exp(np.minimum.accumulate(log_p, axis=-1)), dtype=np.float64)


def always_valid_proportions(x_control: ArrayLike, n_control: ArrayLike, x_canary: ArrayLike, n_canary: ArrayLike,
                             *, tau: float, min_n: int = MIN_N) -> Floats:
    """Always-valid p-values for two rates, from the cumulative counts at each look; the variance of the
    difference is taken from the pooled rate."""
    xa, na, xb, nb = (np.asarray(a, dtype=np.float64) for a in (x_control, n_control, x_canary, n_canary))
    counted = (na >= min_n) & (nb >= min_n)
    na_, nb_ = np.maximum(na, 1), np.maximum(nb, 1)
    pooled = (xa + xb) / (na_ + nb_)
    variance = np.where(counted, pooled * (1 - pooled) * (1 / na_ + 1 / nb_), 0.0)
    return always_valid(xb / nb_ - xa / na_, variance, tau)


def always_valid_means(sum_control: ArrayLike, squares_control: ArrayLike, n_control: ArrayLike,
                       sum_canary: ArrayLike, squares_canary: ArrayLike, n_canary: ArrayLike, *, tau: float,
                       min_n: int = MIN_N) -> Floats:
    """Always-valid p-values for two means, from the cumulative count, sum and sum of squares at each look.

    The variance is that of both arms pooled, as under no difference. Durations are skewed; with each arm's own
    variance, a small arm's rare long values raise its mean and its variance together, and the test went wrong
    about 8% of the time at α = 0.05 in simulation (a 10% arm of lognormal durations); pooled, about 2%."""
    sa, qa, na, sb, qb, nb = (np.asarray(a, dtype=np.float64) for a in (
        sum_control, squares_control, n_control, sum_canary, squares_canary, n_canary))
    counted = (na >= min_n) & (nb >= min_n)
    na_, nb_ = np.maximum(na, 1), np.maximum(nb, 1)
    n, total = na_ + nb_, sa + sb
    pooled = np.maximum(qa + qb - total * total / n, 0) / np.maximum(n - 1, 1)
    variance = np.where(counted, pooled * (1 / na_ + 1 / nb_), 0.0)
    return always_valid(sb / nb_ - sa / na_, variance, tau)
