"""A map shared by the threads of one process that keeps only its most recent entries: what the hot path keeps
between transactions (``kit.revision.Revisioned``, a pool's committed state, a rep's counts).

Reads take no lock: an ``OrderedDict``'s ``get`` is atomic, and an entry, once stored, is never changed (a new value
replaces it). Writes take one, move the newest entries last and drop the oldest beyond ``size``. (A plain dict
would do the same, but dropping its first entry steps over every slot dropped before: 1.6 µs a store when full,
against 0.25.)"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def store(self, entries: Mapping[K, V]) -> None:
        """Keep these entries, each as the newest; drop the oldest beyond the size."""
        with self._lock:
            for key, value in entries.items():
                self._values[key] = value
                self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
