"""The before/after intervals against published and reference values: Wilson and Newcombe's hybrid score interval
against Newcombe's own worked examples (Stat Med 1998, 17:857–872 and 873–890), Welch against scipy's t-test,
the bootstrap against scipy's bootstrap and against what it must give by construction; the days' dispersion by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from evenhand.monitor.stats import (
    Difference,
    Moments,
    bootstrap_difference,
    discounted,
    mean_dispersion,
    newcombe_difference,
    rate_dispersion,
    welch_difference,
    wilson,
)


@pytest.mark.parametrize(("x", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_gives_newcombes_single_proportion_examples(x: int, n: int, low: float, high: float) -> None:
    assert wilson(x, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("x", "n"), [(0, 1), (3, 17), (250, 1000), (999, 1000), (40, 40)])
def test_wilson_is_scipys_wilson_interval(x: int, n: int) -> None:
    ci = sp.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(x, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    ci90 = sp.binomtest(x, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert wilson(x, n, 0.9) == pytest.approx((ci90.low, ci90.high), abs=1e-12)


def test_wilson_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="n must be positive"):
        wilson(0, 0)


# Newcombe (1998) Table II, method 10, for p1 − p2 = x1/n1 − x2/n2: here "after" is the first proportion.
@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "estimate", "low", "high"), [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339), (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.5714, 0.0582, 0.8062), (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
    (0, 10, 0, 20, 0.0, -0.1611, 0.2775), (0, 10, 0, 10, 0.0, -0.2775, 0.2775),
    (10, 10, 0, 20, 1.0, 0.6791, 1.0), (10, 10, 0, 10, 1.0, 0.6075, 1.0)])
def test_newcombe_difference_gives_the_papers_examples(x1: int, n1: int, x2: int, n2: int, estimate: float,
                                                      low: float, high: float) -> None:
    found = newcombe_difference(x2, n2, x1, n1)
    assert (found.estimate, found.low, found.high) == pytest.approx((estimate, low, high), abs=5e-5)
    assert (found.before, found.after) == pytest.approx((x2 / n2, x1 / n1))


def test_newcombe_difference_is_antisymmetric_and_says_whether_it_excludes_zero() -> None:
    up, down = newcombe_difference(48, 80, 56, 70), newcombe_difference(56, 70, 48, 80)
    assert (down.estimate, down.low, down.high) == pytest.approx((-up.estimate, -up.high, -up.low))
    assert up.excludes_zero and down.excludes_zero
    assert not newcombe_difference(5, 56, 0, 29).excludes_zero


def _moments(sample: np.ndarray) -> Moments:
    return Moments(float(len(sample)), float(sample.sum()), float((sample ** 2).sum()))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_welch_difference_is_scipys_welch_interval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    before, after = rng.gamma(2.0, 1.1, 40), rng.gamma(3.0, 2.2, 25)
    found = welch_difference(_moments(before), _moments(after))
    ci = sp.ttest_ind(after, before, equal_var=False).confidence_interval(0.95)
    assert (found.low, found.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert found.estimate == pytest.approx(after.mean() - before.mean())
    assert (found.before, found.after) == pytest.approx((before.mean(), after.mean()))


def test_welch_difference_by_hand() -> None:
    """before 1, 2, 3 (mean 2, variance 1); after 4, 6, 8 (mean 6, variance 4): se = √(1/3 + 4/3) = 1.29099,
    df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 50/17, t(0.975, 50/17) = 3.21876."""
    found = welch_difference(Moments(3, 6, 14), Moments(3, 18, 116))
    assert found.estimate == 4
    assert (found.low, found.high) == pytest.approx((4 - 3.21876 * 1.29099, 4 + 3.21876 * 1.29099), abs=1e-4)


def test_welch_difference_of_two_constant_samples_is_a_point_and_one_value_is_refused() -> None:
    assert welch_difference(Moments(4, 8, 16), Moments(5, 15, 45)) == Difference(2, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="at least two"):
        welch_difference(Moments(1, 2, 4), Moments(5, 15, 45))


def test_bootstrap_difference_agrees_with_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(7)
    before, after = rng.normal(1.5, 0.4, 21), rng.normal(5.0, 2.0, 21)
    found = bootstrap_difference(before, after, resamples=20_000)
    ref = sp.bootstrap((after, before), lambda a, b, axis: a.mean(axis) - b.mean(axis), paired=False,
                       vectorized=True, method="percentile", n_resamples=20_000, rng=np.random.default_rng(8))
    assert found.estimate == pytest.approx(after.mean() - before.mean())
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert found.low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert found.high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)


def test_bootstrap_difference_is_seeded_and_weighs_days() -> None:
    rng = np.random.default_rng(3)
    days, later = rng.normal(2.0, 1.0, 21), rng.normal(7.0, 2.0, 21)
    first, again = bootstrap_difference(days, later), bootstrap_difference(days, later)
    assert first == again and first.excludes_zero
    assert first != bootstrap_difference(days, later, seed=1)
    before, after = np.array([1.0, 2.0, 3.0, 2.0]), np.array([6.0, 9.0, 7.0])
    weighted = bootstrap_difference(before, after, before_weights=np.array([1.0, 1.0, 6.0, 2.0]),
                                    after_weights=np.array([1.0, 1.0, 1.0]))
    assert (weighted.before, weighted.after) == pytest.approx((25 / 10, 22 / 3))
    assert weighted.low <= weighted.estimate <= weighted.high
    with pytest.raises(ValueError, match="positive"):
        bootstrap_difference(before, after, before_weights=np.array([1.0, 1.0, 6.0, 0.0]))


def test_bootstrap_difference_of_constant_days_is_exact_and_one_day_is_refused() -> None:
    found = bootstrap_difference(np.full(7, 2.0), np.full(7, 3.5))
    assert (found.estimate, found.low, found.high) == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match="at least two days"):
        bootstrap_difference(np.array([1.0]), np.full(7, 3.5))


def test_rate_dispersion_is_pearsons_chi_square_over_the_days_and_never_below_one() -> None:
    n, x = np.array([100.0, 100.0, 0.0, 100.0]), np.array([40.0, 100.0, 0.0, 70.0])  # pooled 0.7; a day without rows
    chi2 = sum((xi - 70.0) ** 2 / (100 * 0.7 * 0.3) for xi in (40.0, 100.0, 70.0))
    assert rate_dispersion(x, n) == pytest.approx(chi2 / 2)
    assert rate_dispersion(np.array([70.0, 71.0, 69.0]), np.array([100.0] * 3)) == 1.0  # closer than binomial
    assert rate_dispersion(np.array([100.0, 50.0]), np.array([100.0, 50.0])) == 1.0  # all converted: nothing to scatter
    assert rate_dispersion(np.array([3.0]), np.array([10.0])) == 1.0  # one day


def test_mean_dispersion_is_the_between_day_mean_square_over_the_rows_variance() -> None:
    days = [np.array([1.0, 2.0, 3.0]), np.array([7.0, 8.0, 9.0, 10.0]), np.array([4.0, 6.0])]
    n = np.array([len(d) for d in days], dtype=float)
    total, squares = np.array([d.sum() for d in days]), np.array([(d * d).sum() for d in days])
    rows = np.concatenate(days)
    between = sum(len(d) * (d.mean() - rows.mean()) ** 2 for d in days) / 2
    assert mean_dispersion(n, total, squares) == pytest.approx(between / rows.var(ddof=1))
    alike = mean_dispersion(np.full(4, 5.0), np.array([5.0, 50.0, 5.0, 50.0]), np.array([5.0, 500.0, 5.0, 500.0]))
    assert alike == pytest.approx(5 * 19 / 15)  # days of five identical rows: close to five, the rows of a day
    same = [np.array([1.0, 9.0]), np.array([2.0, 8.0]), np.array([3.0, 7.0])]  # every day's mean 5
    assert mean_dispersion(np.full(3, 2.0), np.full(3, 10.0), np.array([(d * d).sum() for d in same])) == 1.0
    assert mean_dispersion(np.array([3.0]), np.array([6.0]), np.array([14.0])) == 1.0  # one day


def test_discounted_rows_keep_the_mean_and_widen_welchs_interval() -> None:
    sample, other = Moments(100, 500, 2700), Moments(100, 600, 3800)
    wide = welch_difference(discounted(sample, 4), discounted(other, 4))
    narrow = welch_difference(sample, other)
    assert (wide.before, wide.after) == (narrow.before, narrow.after) == (5, 6)
    assert wide.high - wide.low == pytest.approx(2 * (narrow.high - narrow.low), rel=0.05)
