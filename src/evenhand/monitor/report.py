"""A finding of the scan with why it happened, and the JSON form stored on its anomaly and read by its page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evenhand.monitor.detect import Finding
from evenhand.monitor.explain import DimensionExplanation, FunnelNode, LinkedChange
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import day_date

# A finding, its (baseline, anomalous) windows and the dimension values that explain it.
Explained = tuple[Finding, tuple[tuple[int, int], tuple[int, int]], list[DimensionExplanation]]


@dataclass(frozen=True)
class Report:
    """A finding with why it happened: the ranked dimension values, the funnel behind it, the changes before it."""

    kpi: Kpi
    finding: Finding
    windows: tuple[tuple[int, int], tuple[int, int]]  # (baseline, anomalous), first and last day each
    dimensions: list[DimensionExplanation]
    trace: FunnelNode
    chain: list[str]
    changes: list[LinkedChange]
    anomaly_id: int | None = None
    trace_ids: dict[tuple[str, int], int] = field(default_factory=dict)

    def explanation(self) -> dict[str, Any]:
        """The JSON form stored on the anomaly and read by its page."""
        (b0, b1), (a0, a1) = self.windows
        return {"windows": {"baseline": [_iso(b0), _iso(b1)], "anomalous": [_iso(a0), _iso(a1)]},
                "dimensions": [_dimension(d) for d in self.dimensions], "trace": self._node(self.trace),
                "chain": self.chain, "changes": [_change(c) for c in self.changes]}

    def _node(self, node: FunnelNode) -> dict[str, Any]:
        found = node.finding
        out: dict[str, Any] = {"kpi": node.kpi, "status": node.status,
                               "children": [self._node(c) for c in node.children]}
        if isinstance(found, Finding):
            out.update(effect=found.effect, started=_iso(found.started), detected=_iso(found.detected),
                       direction=found.direction, anomaly_id=self.trace_ids.get((node.kpi, found.started)))
        return out


def _dimension(d: DimensionExplanation) -> dict[str, Any]:
    return {"dimension": d.dimension, "surprise": d.surprise, "explanatory_power": d.explanatory_power,
            "elements": [{"value": e.value, "explanatory_power": e.explanatory_power, "surprise": e.surprise,
                          "baseline": e.baseline, "observed": e.observed, "share": e.share} for e in d.elements]}


def _change(c: LinkedChange) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "score": round(c.score, 3), "reasons": list(c.reasons)}


def _iso(day: int) -> str:
    return day_date(day).isoformat()
