"""The pure sampler: the same seed and population give the same calls whatever their order; every rep with calls
is drawn from; the quota is the share of the calls, apportioned by largest remainder."""

from __future__ import annotations

import numpy as np
import pytest

from evenhand.qa import sampling


def population(seed: int = 3, reps: int = 12, calls: int = 900) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(1, 10 * calls), size=calls, replace=False).astype(np.int64)
    weights = rng.dirichlet(np.full(reps, 0.6))
    return ids, rng.choice(np.arange(100, 100 + reps), size=calls, p=weights).astype(np.int64)


def test_the_same_seed_draws_the_same_calls_and_another_seed_others() -> None:
    ids, reps = population()
    first, again = sampling.draw(ids, reps, 0.1, 42), sampling.draw(ids.copy(), reps.copy(), 0.1, 42)
    assert first.ids.tolist() == again.ids.tolist()
    assert first.ids.tolist() != sampling.draw(ids, reps, 0.1, 43).ids.tolist()


def test_the_order_the_population_was_read_in_does_not_matter() -> None:
    ids, reps = population()
    shuffled = np.random.default_rng(9).permutation(len(ids))
    assert sampling.draw(ids, reps, 0.1, 7).ids.tolist() == sampling.draw(ids[shuffled], reps[shuffled], 0.1,
                                                                          7).ids.tolist()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_rep_with_calls_is_represented_and_the_share_is_kept(seed: int) -> None:
    ids, reps = population(seed)
    result = sampling.draw(ids, reps, 0.1, seed)
    drawn_reps = reps[np.isin(ids, result.ids)]
    assert set(drawn_reps.tolist()) == set(reps.tolist())
    assert len(set(result.ids.tolist())) == len(result.ids) and np.isin(result.ids, ids).all()
    small = sum(1 for rep in set(reps.tolist()) if 0.1 * (reps == rep).sum() < 1)  # may get their one call extra
    assert sampling.quota(len(ids), 0.1) <= len(result.ids) <= sampling.quota(len(ids), 0.1) + small
    for rep, n in result.quotas.items():
        assert abs(n - 0.1 * (reps == rep).sum()) < 1  # each rep within rounding of their share, or the one call


def test_the_apportionment_by_largest_remainder() -> None:
    # 31, 12, 5 and 1 calls at 10%: quota round(4.9) = 5; floors 3, 1, 0, 0; the remainder's seat to .5 (5 calls);
    # the rep with one call gets it anyway.
    assert sampling.apportion(np.array([31, 12, 5, 1]), 0.1).tolist() == [3, 1, 1, 1]
    assert sampling.apportion(np.array([10, 10]), 1.0).tolist() == [10, 10]
    assert sampling.apportion(np.array([3, 3, 3]), 0.1).tolist() == [1, 1, 1]


def test_an_empty_population_draws_nothing() -> None:
    result = sampling.draw(np.zeros(0, np.int64), np.zeros(0, np.int64), 0.1, 1)
    assert result.ids.tolist() == [] and result.calls == 0 and result.quotas == {}


def test_a_fresh_seed_fits_the_column() -> None:
    seeds = {sampling.new_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(0 <= s < 2**63 for s in seeds)


def test_a_seed_keeps_drawing_the_same_calls_across_versions() -> None:
    """Stored samples are verified by drawing them again: a change to the algorithm (or to numpy's generator) that
    moves these ids would make every stored sample fail verification."""
    ids, reps = np.arange(1, 101, dtype=np.int64), np.array([1] * 50 + [2] * 45 + [3] * 5, dtype=np.int64)
    result = sampling.draw(ids, reps, 0.1, 42)
    assert result.ids.tolist() == [5, 22, 32, 37, 50, 54, 73, 83, 85, 92, 100]
    # The quota is 10: 5 and 4 whole seats; the last seat's tie (.5 and .5) goes to the lower rep, 2; rep 3 gets one
    # call anyway.
    assert result.quotas == {1: 5, 2: 5, 3: 1}
