"""Plain column tables: what the pure simulation hands to the writer.

Columns are numpy arrays or lists. Instants are int64 epoch seconds with -1 for "none"; the
columns that hold them are named in ``times`` so the writer can turn them into datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Column = NDArray[Any] | list[Any]


@dataclass
class Table:
    name: str
    columns: dict[str, Column]
    times: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def take(self, index: NDArray[np.int64]) -> Table:
        """The rows at ``index``, in that order."""
        pick = index.tolist()
        return Table(self.name, {k: _take(v, index, pick) for k, v in self.columns.items()}, self.times)


def _take(col: Column, index: NDArray[np.int64], pick: list[int]) -> Column:
    return col[index] if isinstance(col, np.ndarray) else [col[i] for i in pick]


def concat(name: str, parts: list[Table]) -> Table:
    """Row-wise concatenation of tables that share their columns."""
    first = parts[0]

    def join(key: str) -> Column:
        cols = [p.columns[key] for p in parts]
        if all(isinstance(c, np.ndarray) for c in cols):
            return np.concatenate(cols)
        return [x for c in cols for x in (c.tolist() if isinstance(c, np.ndarray) else c)]

    return Table(name, {k: join(k) for k in first.columns}, first.times)
