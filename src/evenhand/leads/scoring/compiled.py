"""A scoring model compiled once into lookup tables that the pure and the vectorised scorer share.

Arithmetic rules that make both scorers agree to the point (``vector.py`` is proven against
``rules.py``):
- Points are fixed-point integers in millionths (*micro-points*). Each rule's points, each event's
  decayed points, group sums, caps and the clamp are exact integer sums, so summation order and
  SIMD cannot change a result.
- An event's decayed points are ``round_half_even(points_micro * f)`` with
  ``f = 0.5 ** (age / half_life)`` read from three 2,048-entry tables (``Decay``): the same table
  floats multiplied in the same order give the same double in Python and numpy, whereas ``pow`` in
  numpy (SVML on AVX-512) and in libm differ in the last bit for about 5% of inputs.
- Ages are whole seconds: timestamps are floored to the second, future events count as age 0, and
  ages beyond 2**33 s (272 years) are treated as 2**33 - 1.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evenhand.leads.scoring.schema import (
    Band,
    ScoringModel,
    norm,
)

MICRO = 1_000_000
DAY = 86_400
AGE_MAX = (1 << 33) - 1
_BITS, _MASK = 11, (1 << 11) - 1
_CACHE_MAX = 20_000

Hit = tuple[int, int]  # (column, micro-points)
Matcher = Callable[[Any], tuple[Hit, ...]]


def micro(points: float) -> int:
    return round(points * MICRO)


class Decay:
    """``0.5 ** (age_seconds / half_life)`` as hi[age >> 22] * mid[(age >> 11) & 2047] * lo[age & 2047]."""

    def __init__(self, half_life_days: float) -> None:
        seconds = half_life_days * DAY
        self.hi, self.mid, self.lo = (tuple(0.5 ** ((i << shift) / seconds) for i in range(1 << _BITS))
                                      for shift in (2 * _BITS, _BITS, 0))
        self.hi_np, self.mid_np, self.lo_np = (np.array(t, dtype=np.float64) for t in (self.hi, self.mid, self.lo))

    def factor(self, age: int) -> float:
        return self.hi[age >> 22] * self.mid[(age >> _BITS) & _MASK] * self.lo[age & _MASK]

    def factors(self, ages: NDArray[np.int64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = self.hi_np[ages >> 22] * self.mid_np[(ages >> _BITS) & _MASK]
        return out * self.lo_np[ages & _MASK]


@dataclass(frozen=True, slots=True)
class Column:
    """One explanation line in compiled order: a rule (or one band/tier of it), a group cap, or the clamp."""

    rule_id: str
    group: str
    label: str
    kind: str = "rule"  # "rule" | "cap" | "clamp"


@dataclass(frozen=True, slots=True)
class BandTable:
    """Bands as sorted lower bounds; ``index(x)`` is the band containing x, -1 when none does."""

    mins: tuple[float, ...]
    maxs: tuple[float, ...]
    cols: tuple[int, ...]
    micros: tuple[int, ...]

    @classmethod
    def of(cls, bands: Sequence[Band], cols: Sequence[int]) -> BandTable:
        return cls(tuple(b.min for b in bands), tuple(math.inf if b.max is None else b.max for b in bands),
                   tuple(cols), tuple(micro(b.points) for b in bands))

    def index(self, x: float) -> int:
        i = bisect_right(self.mins, x) - 1
        return i if i >= 0 and x < self.maxs[i] else -1

    def indices(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        i = np.searchsorted(np.asarray(self.mins), x, side="right") - 1
        inside = (i >= 0) & (x < np.asarray(self.maxs)[np.maximum(i, 0)])
        return np.where(inside, i, -1)


@dataclass(frozen=True, slots=True)
class CompiledEventRule:
    """Points per event of ``kind``: flat ``points`` or by dwell band, then decayed by the group's half-life."""

    col: int
    kind: str
    decay: Decay | None
    points: int = 0
    dwell: BandTable | None = None

    def base(self, dwell: float | None) -> int:
        if self.dwell is None:
            return self.points
        i = self.dwell.index(0.0 if dwell is None or dwell != dwell else dwell)
        return self.dwell.micros[i] if i >= 0 else 0


@dataclass(frozen=True, slots=True)
class CompiledVisits:
    window_seconds: float
    bands: BandTable


@dataclass(frozen=True, slots=True)
class CompiledGroup:
    name: str
    label: str
    cols: tuple[int, ...]
    cap: int | None  # micro-points
    cap_col: int | None


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """Everything ``score`` and ``score_table`` need, built once by ``compiler.compile``."""

    model: ScoringModel
    columns: tuple[Column, ...]
    groups: tuple[CompiledGroup, ...]
    matchers: dict[str, AttributeMatcher]  # attribute → hits for one value; only attributes some rule reads
    events: dict[str, tuple[CompiledEventRule, ...]]  # event kind → its rules
    visits: tuple[CompiledVisits, ...]
    clamp_col: int
    weight: float
    group_of: tuple[int, ...]  # column → index into groups (the clamp column → len(groups))
    cache: dict[str, dict[Any, tuple[Hit, ...]]] = field(default_factory=dict)

    def hits(self, attribute: str, value: Any) -> tuple[Hit, ...]:
        """The attribute's matcher, memoised per value (per key where it has one): values repeat a lot."""
        matcher = self.matchers[attribute]
        if matcher.key is not None:
            value = matcher.key(value)
        cache = self.cache.setdefault(attribute, {})
        found = cache.get(value)
        if found is None:
            if len(cache) >= _CACHE_MAX:
                cache.clear()  # free-text values (titles) must not grow the cache without bound
            found = cache[value] = matcher.match_key(value) if matcher.key is not None else matcher(value)
        return found

    def column_index(self) -> dict[str, int]:
        return {c.rule_id: i for i, c in enumerate(self.columns)}


# --- fit matchers ----------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN is how a numeric column says "unknown"
    return isinstance(value, str) and not value.strip()


@dataclass(frozen=True)
class ValueMatch:
    aliases: dict[str, str]
    table: dict[str, tuple[Hit, ...]]

    def __call__(self, value: Any) -> tuple[Hit, ...]:
        if not isinstance(value, str):
            return ()
        key = norm(value)
        return self.table.get(self.aliases.get(key, key), ())


@dataclass(frozen=True)
class EmailMatch:
    """Reads the domain key (see ``domain_key``), not the address."""

    table: dict[str, tuple[Hit, ...]]

    def __call__(self, domain: Any) -> tuple[Hit, ...]:
        return self.table.get(norm(domain), ()) if domain else ()


def domain_key(value: Any) -> str | None:
    """An address's key: the text after its last ``@`` ("" without one), None when blank.

    Runs once per lead in vectorised rescoring, hence the string fast path.
    """
    if isinstance(value, str):
        if not value.strip():
            return None
        _, at, domain = value.rpartition("@")
        return domain if at else ""
    return None if _blank(value) else ""


def presence_key(value: Any) -> str | None:
    """Only "missing" rules read the phone: its key is whether there is one."""
    if isinstance(value, str):
        return "" if value.strip() else None
    return None if _blank(value) else ""


@dataclass(frozen=True)
class SizeMatch:
    tables: tuple[BandTable, ...]

    def __call__(self, value: Any) -> tuple[Hit, ...]:
        if not isinstance(value, int | float) or _blank(value):
            return ()
        hits = ((t.cols[i], t.micros[i]) for t in self.tables if (i := t.index(value)) >= 0)
        return tuple(hits)


@dataclass(frozen=True)
class TitleMatch:
    rules: tuple[tuple[tuple[re.Pattern[str], Hit], ...], ...]  # per rule, its tiers in order

    def __call__(self, value: Any) -> tuple[Hit, ...]:
        if not isinstance(value, str):
            return ()
        title = norm(value)
        hits = (next((hit for pattern, hit in tiers if pattern.search(title)), None) for tiers in self.rules)
        return tuple(h for h in hits if h is not None)


@dataclass(frozen=True)
class AttributeMatcher:
    """Every rule on one attribute, plus its "missing" rules.

    With a ``key``, rules see only ``key(value)`` (None when blank): the vectorised scorer factorises
    keys, so a million distinct e-mail addresses cost one match per distinct domain.
    """

    parts: tuple[Matcher, ...]
    missing: tuple[Hit, ...]
    key: Callable[[Any], str | None] | None = None

    @property
    def used(self) -> bool:
        return bool(self.parts or self.missing)

    def __call__(self, value: Any) -> tuple[Hit, ...]:
        if self.key is not None:
            return self.match_key(self.key(value))
        return self.missing if _blank(value) else self._parts(value)

    def match_key(self, key: str | None) -> tuple[Hit, ...]:
        return self.missing if key is None else self._parts(key)

    def _parts(self, value: Any) -> tuple[Hit, ...]:
        if len(self.parts) == 1:
            return self.parts[0](value)
        return tuple(hit for part in self.parts for hit in part(value))
