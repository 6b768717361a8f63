"""Drawing a period's QA sample: pure, seeded and stratified by rep.

The rule, so anyone can check a draw by hand:

1. The population is the period's outbound calls with a recording, as (activity id, rep id) pairs, sorted by
   activity id: the order they were read in does not matter.
2. The quota is ``share`` × calls, rounded half up. It is apportioned to the reps by largest remainder: each rep
   gets the whole part of ``share`` × their calls, and the seats left over go to the largest fractional parts
   (ties to the lower rep id).
3. A rep whose apportionment is zero gets one call anyway, so every rep with calls is represented; the sample
   then exceeds the quota by at most the number of such reps.
4. ``numpy.random.default_rng(seed)`` draws, rep by rep in ascending rep id, that many of the rep's calls
   without replacement (``Generator.choice`` over the rep's call ids in ascending order).

The same seed and population always give the same ids; the seed is stored with the sample (``QaSample``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
SEED_BITS = 63  # the seed column is a signed 64-bit integer


@dataclass(frozen=True)
class Draw:
    ids: I64  # the sampled activity ids, ascending
    quotas: dict[int, int]  # rep id → calls drawn
    calls: int  # the population's size


def new_seed() -> int:
    """A fresh seed from the operating system's randomness, for a draw nobody chose."""
    return secrets.randbits(SEED_BITS)


def quota(calls: int, share: float) -> int:
    """``share`` × ``calls`` rounded half up (exact for shares given to a few decimals)."""
    return int(np.floor(np.round(share * calls, 9) + 0.5))


def apportion(counts: I64, share: float) -> I64:
    """Calls to draw per stratum (``counts`` in ascending rep id): largest remainder, then at least one each."""
    exact = np.round(counts.astype(np.float64) * share, 9)
    seats = np.floor(exact).astype(np.int64)
    left = quota(int(counts.sum()), share) - int(seats.sum())
    if left > 0:
        order = np.lexsort((np.arange(len(counts)), -(exact - seats)))  # largest remainder first, then rep order
        seats[order[:left]] += 1
    return np.minimum(np.maximum(seats, 1), counts)


def draw(ids: I64, reps: I64, share: float, seed: int) -> Draw:
    """The sample of the population (``ids`` with their ``reps``, in any order) under ``seed``."""
    ids, reps = np.asarray(ids, np.int64), np.asarray(reps, np.int64)
    order = np.lexsort((ids, reps))  # by rep, then by id: each rep's calls form one ascending run
    ids, reps = ids[order], reps[order]
    strata, starts, counts = np.unique(reps, return_index=True, return_counts=True)
    seats = apportion(counts.astype(np.int64), share)
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(ids[a:a + c], size=int(n), replace=False)
              for a, c, n in zip(starts.tolist(), counts.tolist(), seats.tolist(), strict=True)]
    picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    return Draw(picked.astype(np.int64), {int(r): int(n) for r, n in zip(strata, seats, strict=True)}, len(ids))
