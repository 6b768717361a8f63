"""Confidence intervals for the difference a change made (after − before), one per kind of KPI.

- a rate: Newcombe's hybrid score interval (1998, method 10), built from each side's Wilson interval — it stays
  inside [−1, 1] and keeps its coverage for small counts and for rates near 0 or 1, where the Wald interval fails;
- a mean: Welch's t interval from each side's count, sum and sum of squares (``Moments``) or count, mean and
  variance (``Summary``), unequal variances allowed;
- anything only known as daily values (a daily quantile): a percentile bootstrap over days, seeded, so the same
  figures give the same interval every time.

Rows of one day share that day (a campaign, a holiday, an outage): when a window's days scatter more than rows drawn
independently would, its rows count for fewer (``rate_dispersion``, ``mean_dispersion``: a design effect, divided
into each side's counts), so the interval carries the day-to-day swing.

Pure: plain numbers and numpy arrays in, ``Difference`` out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sp

LEVEL = 0.95
RESAMPLES = 4000
SEED = 20260924  # any fixed number: a board read twice shows the same interval


@dataclass(frozen=True)
class Difference:
    """``after − before`` with its interval ``[low, high]`` at the level asked for."""

    before: float
    after: float
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly above or wholly below zero: a change the data supports."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Moments:
    """A sample known by its size, sum and sum of squares (what a KPI's daily points keep)."""

    n: float
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """The sample variance (n − 1); never below 0, which rounding of large sums could otherwise give."""
        return max(self.squares - self.total * self.total / self.n, 0.0) / (self.n - 1)


@dataclass(frozen=True)
class Summary:
    """A sample known by its size, mean and sample variance (n − 1)."""

    n: float
    mean: float
    variance: float


Sample = Moments | Summary


def critical_z(level: float) -> float:
    """The standard normal quantile that leaves ``(1 − level) / 2`` above it (1.96 at 95%)."""
    return float(sp.norm.ppf((1 + level) / 2))


def wilson(x: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval for the proportion ``x / n`` (no continuity correction); ``n`` must be positive."""
    if n <= 0:
        raise ValueError("wilson: n must be positive")
    z2 = critical_z(level) ** 2
    centre = (x + z2 / 2) / (n + z2)
    half = math.sqrt(z2) * math.sqrt(x * (n - x) / n + z2 / 4) / (n + z2)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe_difference(x_before: float, n_before: float, x_after: float, n_after: float,
                        level: float = LEVEL) -> Difference:
    """The difference of two independent proportions, after − before, by Newcombe's hybrid score method: each
    bound moves from the estimate by the root of the squared distances to the two sides' Wilson bounds."""
    p0, p1 = x_before / n_before, x_after / n_after
    lo0, hi0 = wilson(x_before, n_before, level)
    lo1, hi1 = wilson(x_after, n_after, level)
    estimate = p1 - p0
    low = estimate - math.sqrt((p1 - lo1) ** 2 + (hi0 - p0) ** 2)
    high = estimate + math.sqrt((hi1 - p1) ** 2 + (p0 - lo0) ** 2)
    return Difference(p0, p1, estimate, low, high)


def welch(before: Sample, after: Sample) -> tuple[float, float, float]:
    """The difference of two means, after − before, its standard error (unequal variances allowed) and the
    Welch–Satterthwaite degrees of freedom (infinite when neither side has spread)."""
    a, b = before.variance / before.n, after.variance / after.n
    estimate = after.mean - before.mean
    if a + b == 0:
        return estimate, 0.0, math.inf
    return estimate, math.sqrt(a + b), (a + b) ** 2 / (a * a / (before.n - 1) + b * b / (after.n - 1))


def welch_difference(before: Sample, after: Sample, level: float = LEVEL) -> Difference:
    """The difference of two means, after − before, with Welch's t interval (``welch``). Each side needs at least
    two observations; two sides without spread give a zero-width interval."""
    if before.n < 2 or after.n < 2:
        raise ValueError("welch_difference: each side needs at least two observations")
    estimate, se, df = welch(before, after)
    half = float(sp.t.ppf((1 + level) / 2, df)) * se if se > 0 else 0.0
    return Difference(before.mean, after.mean, estimate, estimate - half, estimate + half)


def weighted_mean(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The mean of daily values, each day counting by its weight (its number of rows), or equally."""
    return float(np.average(values, weights=weights))


def bootstrap_difference(before: np.ndarray, after: np.ndarray, *, before_weights: np.ndarray | None = None,
                         after_weights: np.ndarray | None = None, level: float = LEVEL,
                         resamples: int = RESAMPLES, seed: int = SEED) -> Difference:
    """The difference of the (weighted) means of daily values, after − before, with a percentile bootstrap
    interval: days are drawn with replacement within each side, independently, ``resamples`` times from a
    generator seeded with ``seed``. Each side needs at least two days, and weights must be positive."""
    if len(before) < 2 or len(after) < 2:
        raise ValueError("bootstrap_difference: each side needs at least two days")
    if any(w is not None and bool((w <= 0).any()) for w in (before_weights, after_weights)):
        raise ValueError("bootstrap_difference: weights must be positive")
    rng = np.random.default_rng(seed)
    drawn = _resampled(after, after_weights, rng, resamples) - _resampled(before, before_weights, rng, resamples)
    low, high = np.quantile(drawn, [(1 - level) / 2, (1 + level) / 2])
    first, second = weighted_mean(before, before_weights), weighted_mean(after, after_weights)
    return Difference(first, second, second - first, float(low), float(high))


def _resampled(values: np.ndarray, weights: np.ndarray | None, rng: np.random.Generator, resamples: int
               ) -> np.ndarray:
    """The weighted mean of each of ``resamples`` draws of the days (all draws at once)."""
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    chosen = w[picks]
    return np.asarray((values[picks] * chosen).sum(axis=1) / chosen.sum(axis=1), dtype=float)


def rate_dispersion(x: np.ndarray, n: np.ndarray) -> float:
    """How much more a window's daily shares scatter around its pooled share than its rows drawn independently
    would: Pearson's χ² over the days with rows, by its degrees of freedom (those days − 1). Never below 1, and 1
    with fewer than two such days or a pooled share of 0 or 1 (nothing to scatter)."""
    seen = n > 0
    days, total = int(seen.sum()), float(n[seen].sum())
    p = float(x[seen].sum()) / total if total else 0.0
    if days < 2 or not 0 < p < 1:
        return 1.0
    chi2 = float((((x[seen] - n[seen] * p) ** 2) / (n[seen] * p * (1 - p))).sum())
    return max(1.0, chi2 / (days - 1))


def mean_dispersion(n: np.ndarray, total: np.ndarray, squares: np.ndarray) -> float:
    """How much more a window's daily means scatter around its mean than its rows drawn independently would: the
    between-day mean square over the rows' variance, which is the mean's variance over what independent rows would
    give it (at most the rows of a day, when each day's rows are all alike). Never below 1, and 1 with fewer than
    two days with rows or no spread."""
    seen = n > 0
    days, rows = int(seen.sum()), float(n[seen].sum())
    if days < 2 or rows < 2:
        return 1.0
    n, total, squares = n[seen], total[seen], squares[seen]
    mean = float(total.sum()) / rows
    spread = max(float(squares.sum()) - rows * mean * mean, 0.0) / (rows - 1)
    if spread <= 0:
        return 1.0
    between = float((n * (total / n - mean) ** 2).sum()) / (days - 1)
    return max(1.0, between / spread)


def discounted(sample: Moments, dispersion: float) -> Moments:
    """The sample with its rows counting for ``1 / dispersion`` each: the same mean and (nearly) the same variance,
    from fewer observations."""
    return Moments(sample.n / dispersion, sample.total / dispersion, sample.squares / dispersion)
