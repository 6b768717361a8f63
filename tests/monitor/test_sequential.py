"""The canary's statistics: the always-valid sequential test keeps its false-alarm rate however often it is read,
where a fixed-horizon test read at every look does not; it finds a real difference; the fixed-horizon test and
interval give the published figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evenhand.monitor import sequential

RUNS, LOOKS, ALPHA = 2_000, 50, 0.05
SEED = 20260815


def _looks(step: int) -> np.ndarray:
    return np.broadcast_to(np.arange(1, LOOKS + 1) * step, (RUNS, LOOKS))


def _rates(rng: np.random.Generator, steps: tuple[int, int], rates: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Cumulative successes and counts of each arm at each of the ``LOOKS`` looks, for ``RUNS`` experiments."""
    (sa, sb), (pa, pb) = steps, rates
    return (rng.binomial(sa, pa, size=(RUNS, LOOKS)).cumsum(1), _looks(sa),
            rng.binomial(sb, pb, size=(RUNS, LOOKS)).cumsum(1), _looks(sb))


def _fixed_rejects_at_some_look(xa: np.ndarray, na: np.ndarray, xb: np.ndarray, nb: np.ndarray) -> np.ndarray:
    pooled = (xa + xb) / (na + nb)
    se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    z = (xb / nb - xa / na) / np.where(se > 0, se, 1)
    return np.asarray((2 * stats.norm.sf(np.abs(z)) < ALPHA).any(axis=1))


@pytest.mark.parametrize("steps", [(40, 40), (90, 10)], ids=["half", "a tenth"])
def test_rates_under_no_difference_peeked_fifty_times(steps: tuple[int, int]) -> None:
    """12% in both arms, read after every look: the sequential test rejects in at most 5% of the experiments; the
    fixed test read the same way rejects in several times as many."""
    xa, na, xb, nb = _rates(np.random.default_rng(SEED), steps, (0.12, 0.12))
    p = sequential.always_valid_proportions(xa, na, xb, nb, tau=0.03)
    assert (p[:, -1] < ALPHA).mean() <= ALPHA
    assert _fixed_rejects_at_some_look(xa, na, xb, nb).mean() > 0.2


def test_durations_under_no_difference_peeked_fifty_times() -> None:
    """Skewed durations (lognormal, like first response), a tenth in the canary: at most 5% false rejections."""
    rng = np.random.default_rng(SEED)
    a, b = rng.lognormal(0.3, 1.2, size=(RUNS, LOOKS, 90)), rng.lognormal(0.3, 1.2, size=(RUNS, LOOKS, 10))
    p = sequential.always_valid_means(a.sum(2).cumsum(1), (a * a).sum(2).cumsum(1), _looks(90),
                                      b.sum(2).cumsum(1), (b * b).sum(2).cumsum(1), _looks(10), tau=0.5)
    assert (p[:, -1] < ALPHA).mean() <= ALPHA
    fixed = stats.ttest_ind(a.reshape(RUNS, -1)[:, :90 * 10], b.reshape(RUNS, -1)[:, :10 * 10], axis=1,
                            equal_var=False).pvalue
    assert 0.01 < (fixed < ALPHA).mean() < 0.1  # a single fixed-horizon read is about right, for comparison


def test_a_real_difference_is_found() -> None:
    rng = np.random.default_rng(SEED)
    xa, na, xb, nb = _rates(rng, (90, 10), (0.125, 0.065))  # the demo's conversion drop
    assert (sequential.always_valid_proportions(xa, na, xb, nb, tau=0.03)[:, -1] < ALPHA).mean() > 0.8
    a, b = rng.lognormal(0.3, 1.0, size=(RUNS, LOOKS, 90)), 2 * rng.lognormal(0.3, 1.0, size=(RUNS, LOOKS, 10))
    p = sequential.always_valid_means(a.sum(2).cumsum(1), (a * a).sum(2).cumsum(1), _looks(90),
                                      b.sum(2).cumsum(1), (b * b).sum(2).cumsum(1), _looks(10), tau=0.5)
    assert (p[:, -1] < ALPHA).mean() > 0.8


def test_the_always_valid_p_value_never_rises() -> None:
    xa, na, xb, nb = _rates(np.random.default_rng(SEED), (40, 40), (0.12, 0.15))
    p = sequential.always_valid_proportions(xa, na, xb, nb, tau=0.03)
    assert np.all(np.diff(p, axis=1) <= 0)
    assert np.all((p > 0) & (p <= 1))


def test_looks_before_the_minimum_count_do_not_count() -> None:
    """With fewer than ``min_n`` observations in an arm there is no evidence, however lopsided the counts."""
    p = sequential.always_valid_proportions([0, 0], [29, 200], [29, 30], [29, 30], tau=0.03)
    assert p[0] == 1 and p[1] < 1e-6


def test_the_mixture_ratio_is_the_published_formula() -> None:
    """Λ = sqrt(V/(V+τ²))·exp(τ²d²/(2V(V+τ²))), at d = 0.05, V = 0.0004, τ = 0.03."""
    d, v, tau2 = 0.05, 0.0004, 0.0009
    expected = np.sqrt(v / (v + tau2)) * np.exp(tau2 * d * d / (2 * v * (v + tau2)))
    assert sequential.log_mixture_ratio(d, v, 0.03) == pytest.approx(np.log(expected))
    assert sequential.always_valid([d], [v], 0.03)[0] == pytest.approx(1 / expected)


def test_two_rates_fixed_horizon() -> None:
    """Newcombe (1998), Table II example (a): 56/70 against 48/80, hybrid score interval 0.0524 to 0.3339."""
    found = sequential.proportions(48, 80, 56, 70)
    assert found.diff == pytest.approx(0.2)
    assert (found.low, found.high) == (pytest.approx(0.0524, abs=5e-5), pytest.approx(0.3339, abs=5e-5))
    pooled = 104 / 150
    z = 0.2 / np.sqrt(pooled * (1 - pooled) * (1 / 80 + 1 / 70))
    assert found.p == pytest.approx(2 * stats.norm.sf(z))


def test_two_means_fixed_horizon_is_welch() -> None:
    found = sequential.means(2.1, 4.0, 400, 2.6, 9.0, 50)
    expected = stats.ttest_ind_from_stats(2.1, 2.0, 400, 2.6, 3.0, 50, equal_var=False)
    va, vb = 4.0 / 400, 9.0 / 50
    df = (va + vb) ** 2 / (va * va / 399 + vb * vb / 49)
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert found.diff == pytest.approx(0.5)
    assert found.p == pytest.approx(expected.pvalue)
    assert (found.low, found.high) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))


def test_fixed_intervals_cover_the_true_difference() -> None:
    """Over 2,000 seeded experiments (12% against 15%, 900 and 100 leads) the 95% interval holds the truth in
    about 95% of them."""
    rng = np.random.default_rng(SEED)
    xa, xb = rng.binomial(900, 0.12, RUNS), rng.binomial(100, 0.15, RUNS)
    found = [sequential.proportions(a, 900, b, 100) for a, b in zip(xa, xb, strict=True)]
    covered = [c.low <= 0.03 <= c.high for c in found]
    assert 0.93 <= np.mean(covered) <= 0.97
