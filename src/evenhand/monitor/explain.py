"""Why a KPI moved: which dimension values explain the shift, which upstream KPIs moved first, which changes
were made just before. Pure: the caller reads the totals, findings and change entries.

The ranking follows Adtributor (Bhagwan et al., "Adtributor: Revenue Debugging in Advertising Systems",
NSDI 2014):

- The forecast of each element (a dimension value) is its baseline window scaled to the anomalous window's volume:
  the same mix and the same rate (or mean). A count KPI is forecast at the baseline's volume scaled by the
  caller's ``volume_ratio`` (the windows' lengths), since its volume is the measure itself.
- Explanatory power: the share of the KPI's change the element explains. A count is a fundamental measure
  (the element's change over the total change); a rate or a mean is a derived measure x/n, whose power is the
  finite-difference partial derivative — the KPI's change were only this element's x and n to move — normalised
  so a dimension's powers add up to 1.
- Surprise: the element's Jensen-Shannon term (log base 2, so 0..1) between its forecast and actual share of
  each fundamental measure, summed over the measures (x and n for a derived one).
- Per dimension, elements are taken in descending surprise, keeping each that explains at least ``t_eep``, until
  the kept set explains ``t_ep``; a dimension whose elements never get there explains nothing. Dimensions are
  ranked by the summed surprise of their kept elements.

A joint dimension (``client``: platform and app version, "android 3.2.0", built by ``sources.client``) is just
another dimension: where one version of one platform broke, its values say so more precisely than either part.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from evenhand.monitor.detect import Finding
from evenhand.monitor.kpis import Kpi

Status = Literal["shifted", "steady", "no_data"]


@dataclass(frozen=True)
class Totals:
    """An element's totals over a window: ``n`` rows and ``x`` (numerator count, sum of the measure, or rows).

    For a horizon rate the anomalous window's cohorts are younger than the baseline's: the caller passes in
    ``expected_x`` the numerator those cohorts would have reached at their ages at the element's baseline rate,
    and the forecast uses it instead of the baseline's matured rate."""

    n: float
    x: float
    expected_x: float | None = None


NOTHING = Totals(0.0, 0.0)


@dataclass(frozen=True)
class Element:
    """A dimension value in an explanation. ``baseline`` and ``observed`` are its own KPI value (rate, mean, or
    for a count the count) forecast and seen in the anomalous window — None where it had no rows; ``share`` is
    its share of the anomalous window's volume. A quantile KPI is explained through the mean of its measure."""

    value: str
    explanatory_power: float
    surprise: float
    baseline: float | None
    observed: float | None
    share: float


@dataclass(frozen=True)
class DimensionExplanation:
    dimension: str
    surprise: float
    elements: tuple[Element, ...]
    explanatory_power: float


@dataclass(frozen=True)
class _Cell:
    """Forecast (f) and actual (a) of an element's fundamental measures."""

    value: str
    fn: float
    fx: float
    an: float
    ax: float


def adtributor(kpi: Kpi, baseline: Mapping[str, Mapping[str, Totals]],
               anomalous: Mapping[str, Mapping[str, Totals]], *, t_eep: float = 0.1, t_ep: float = 0.67,
               top: int = 3, volume_ratio: float | None = None) -> list[DimensionExplanation]:
    """The ``top`` dimensions that explain the shift between the windows, most surprising first.

    ``baseline`` and ``anomalous`` map each dimension to its values' totals. A count KPI needs ``volume_ratio``
    (anomalous over baseline window length)."""
    if kpi.kind == "count" and volume_ratio is None:
        raise ValueError("volume_ratio: a count KPI is forecast from the ratio of the windows' lengths")
    found = (_explain(dim, _forecast(kpi.kind, baseline.get(dim, {}), cells, volume_ratio), kpi.kind == "count",
                      t_eep, t_ep) for dim, cells in anomalous.items())
    return sorted((e for e in found if e is not None), key=lambda e: -e.surprise)[:top]


def _forecast(kind: str, base: Mapping[str, Totals], anom: Mapping[str, Totals],
              volume_ratio: float | None) -> list[_Cell]:
    """Each element's forecast at the baseline's mix and rate, and its actual totals."""
    base_n = sum(t.n for t in base.values())
    scale = volume_ratio if volume_ratio is not None else _ratio(sum(t.n for t in anom.values()), base_n)
    age = _age_factor(base, anom)
    cells = []
    for value in sorted(base.keys() | anom.keys()):
        b, a = base.get(value, NOTHING), anom.get(value, NOTHING)
        fn = b.n * scale
        fx = fn if kind == "count" else fn * _forecast_rate(b, a, age)
        cells.append(_Cell(value, fn, fx, a.n, a.n if kind == "count" else a.x))
    return cells


def _forecast_rate(b: Totals, a: Totals, age: float) -> float:
    """The element's expected x per row: its expected numerator at its cohorts' ages when given, else its
    baseline rate (scaled by the window's age factor — an element without rows now has no ages of its own)."""
    if a.expected_x is not None and a.n > 0:
        return a.expected_x / a.n
    return age * _ratio(b.x, b.n)


def _age_factor(base: Mapping[str, Totals], anom: Mapping[str, Totals]) -> float:
    """How far the anomalous cohorts' expected numerators fall short of the baseline's matured ones (1 when no
    expected numerators are given)."""
    aged = [(a, base.get(v, NOTHING)) for v, a in anom.items() if a.expected_x is not None and a.n > 0]
    matured = sum(a.n * _ratio(b.x, b.n) for a, b in aged)
    return _ratio(sum(a.expected_x or 0.0 for a, _ in aged), matured) if matured else 1.0


def _explain(dimension: str, cells: list[_Cell], count: bool, t_eep: float,
             t_ep: float) -> DimensionExplanation | None:
    powers = _count_powers(cells) if count else _derived_powers(cells)
    if powers is None:
        return None
    surprises = _surprises(cells, count)
    ordered = sorted(cells, key=lambda c: (-surprises[c.value], c.value))
    kept = _keep([(c, powers[c.value]) for c in ordered], t_eep, t_ep)
    if not kept:
        return None
    a_n = sum(c.an for c in cells)
    elements = tuple(_element(c, p, surprises[c.value], a_n, count) for c, p in kept)
    return DimensionExplanation(dimension, sum(e.surprise for e in elements), elements,
                                sum(e.explanatory_power for e in elements))


def _keep(ordered: list[tuple[_Cell, float]], t_eep: float, t_ep: float) -> list[tuple[_Cell, float]]:
    """Adtributor's greedy pass: the most surprising elements that each explain ``t_eep``, until together they
    explain ``t_ep``; nothing when they never do."""
    kept: list[tuple[_Cell, float]] = []
    for cell, power in ordered:
        if power >= t_eep:
            kept.append((cell, power))
        if sum(p for _, p in kept) >= t_ep:
            return kept
    return []


def _count_powers(cells: list[_Cell]) -> dict[str, float] | None:
    """A fundamental measure: each element's change over the total change (None when nothing changed)."""
    change = sum(c.an - c.fn for c in cells)
    return {c.value: (c.an - c.fn) / change for c in cells} if change else None


def _derived_powers(cells: list[_Cell]) -> dict[str, float] | None:
    """x/n: the finite-difference partial derivative ((Δx·N − Δn·X) / (N·(N + Δn)), forecast totals X and N)
    of each element, normalised to add up to 1 (None when the dimension has no forecast or nothing changed)."""
    big_x, big_n = sum(c.fx for c in cells), sum(c.fn for c in cells)
    if big_n <= 0:
        return None
    raw = {c.value: _partial(c, big_x, big_n) for c in cells}
    total = sum(raw.values())
    return {v: r / total for v, r in raw.items()} if abs(total) > 1e-12 * (abs(big_x / big_n) + 1) else None


def _partial(c: _Cell, big_x: float, big_n: float) -> float:
    moved = big_n + c.an - c.fn
    # Only this element's rows move the KPI; an element holding all the volume and losing it leaves no KPI.
    return ((c.ax - c.fx) * big_n - (c.an - c.fn) * big_x) / (big_n * moved) if moved > 0 else 0.0


def _surprises(cells: list[_Cell], count: bool) -> dict[str, float]:
    """Per element, the Jensen-Shannon terms of its shares of n (and of x for a derived measure)."""
    fn, an = sum(c.fn for c in cells), sum(c.an for c in cells)
    fx, ax = sum(c.fx for c in cells), sum(c.ax for c in cells)
    return {c.value: js_term(_ratio(c.fn, fn), _ratio(c.an, an))
            + (0.0 if count else js_term(_ratio(c.fx, fx), _ratio(c.ax, ax))) for c in cells}


def js_term(p: float, q: float) -> float:
    """An element's term of the Jensen-Shannon divergence between forecast share ``p`` and actual share ``q``
    (log base 2: a whole dimension's terms add up to at most 1)."""
    m = (p + q) / 2
    return 0.5 * sum(s * math.log2(s / m) for s in (p, q) if s > 0)


def _element(c: _Cell, power: float, surprise: float, a_n: float, count: bool) -> Element:
    if count:
        return Element(c.value, power, surprise, c.fn, c.an, _ratio(c.an, a_n))
    return Element(c.value, power, surprise, c.fx / c.fn if c.fn > 0 else None,
                   c.ax / c.an if c.an > 0 else None, _ratio(c.an, a_n))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# --- the funnel ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelNode:
    """A KPI in the funnel under a shifted KPI: shifted (with its finding), steady (checked, no shift in the
    window) or no_data (unknown KPI, or not scanned)."""

    kpi: str
    status: Status
    finding: Finding | None
    children: tuple[FunnelNode, ...] = ()


def trace(root_kpi_id: str, kpis: Mapping[str, Kpi], findings: Mapping[str, Sequence[Finding]], *,
          lead_days: int = 21, finding: Finding | None = None) -> FunnelNode:
    """The funnel behind ``finding`` (by default the root KPI's latest detected one), through ``Kpi.upstream``.

    ``findings`` holds an entry for every KPI that was scanned (empty when nothing was found): an upstream KPI
    without one had no data. An upstream KPI shifted when one of its findings started between its downstream
    finding's start less ``lead_days`` and that finding's detection (inclusive); then its own upstream is traced
    the same way. A steady KPI breaks the chain: nothing under it is traced. A KPI already on the path (a cycle)
    is not visited again."""
    root = finding or max(findings.get(root_kpi_id, ()), key=lambda f: f.detected, default=None)
    if root is None:
        return FunnelNode(root_kpi_id, "no_data" if root_kpi_id not in findings else "steady", None)
    return _shifted(root_kpi_id, root, kpis, findings, lead_days, (root_kpi_id,))


def _shifted(kpi_id: str, found: Finding, kpis: Mapping[str, Kpi],
             findings: Mapping[str, Sequence[Finding]], lead_days: int, path: tuple[str, ...]) -> FunnelNode:
    upstream = kpis[kpi_id].upstream if kpi_id in kpis else ()
    children = tuple(_upstream(u, found, kpis, findings, lead_days, path) for u in upstream if u not in path)
    return FunnelNode(kpi_id, "shifted", found, children)


def _upstream(kpi_id: str, downstream: Finding, kpis: Mapping[str, Kpi],
              findings: Mapping[str, Sequence[Finding]], lead_days: int, path: tuple[str, ...]) -> FunnelNode:
    if kpi_id not in kpis or kpi_id not in findings:
        return FunnelNode(kpi_id, "no_data", None)
    lead = leading(findings[kpi_id], downstream, lead_days)
    if lead is None:
        return FunnelNode(kpi_id, "steady", None)
    return _shifted(kpi_id, lead, kpis, findings, lead_days, (*path, kpi_id))


def leading(candidates: Iterable[Finding], downstream: Finding, lead_days: int) -> Finding | None:
    """The finding that started in the lead window of ``downstream``; of several, the one starting closest to
    it (then the larger effect)."""
    inside = [f for f in candidates if downstream.started - lead_days <= f.started <= downstream.detected]
    return min(inside, key=lambda f: (abs(f.started - downstream.started), -abs(f.effect)), default=None)


def chain(node: FunnelNode) -> list[str]:
    """The deepest path of shifted KPIs from the root (of equally deep ones, the first in upstream order)."""
    if node.status != "shifted":
        return []
    return [node.kpi, *max((chain(c) for c in node.children), key=len, default=[])]


# --- changes near the start -----------------------------------------------------------------------------------

# Words a change's author would write about a source's or a dimension's system (English and Chinese).
SOURCE_WORDS: dict[str, tuple[str, ...]] = {
    "notifications": ("notification", "通知", "push", "推送", "消息"),
    "leads": ("lead", "线索"),
    "decisions": ("routing", "分配", "路由"),
    "alerts": ("alert", "告警", "预警"),
    "stage_exits": ("stage", "阶段"),
    "compliance": ("standard", "规范"),
}
DIMENSION_WORDS: dict[str, tuple[str, ...]] = {
    "client": ("app", "移动端", "客户端"),
    "app_version": ("app", "移动端", "客户端"),
    "platform": ("移动端", "手机"),
}
DECLARED = 1.0  # the author said the change may touch this KPI or one upstream of it
MENTION = 0.5  # per word of the explanation in the title or description
MENTIONS_COUNTED = 3  # a long description naming many words is not that much likelier the cause
AFTER = 0.5  # a change just after the start can only be a cause if the start was dated early


@dataclass(frozen=True)
class ChangeRef:
    id: int
    effective_day: int
    title: str
    description: str
    affected_metrics: tuple[str, ...]
    system: str


@dataclass(frozen=True)
class LinkedChange:
    """A change near an anomaly's start, with why: before_start | after_start, declares_metric,
    mentions:<word>."""

    id: int
    score: float
    reasons: tuple[str, ...]
    title: str = ""


def explanation_words(kpi: Kpi, explanations: Iterable[DimensionExplanation]) -> set[str]:
    """The words a change causing this shift might use: the explaining elements' values and their parts
    ("android 3.2.0", "android", "3.2.0"), the dimensions' and the KPI's source's system words."""
    found = set(SOURCE_WORDS.get(kpi.source, ()))
    for dim in explanations:
        found.update(DIMENSION_WORDS.get(dim.dimension, ()))
        for e in dim.elements:
            found.update(p for p in [e.value, *e.value.replace("_", " ").replace("/", " ").split()] if len(p) > 1)
    return found


def link_changes(anomaly_started: int, changes: Iterable[ChangeRef], *, words: set[str], kpi_ids: set[str],
                 before_days: int = 14, after_days: int = 1) -> list[LinkedChange]:
    """The changes effective from ``before_days`` before the start to ``after_days`` after it, likeliest cause
    first: the closer before the start the stronger (a change after it counts half), more when it declares one
    of ``kpi_ids`` (the KPI and its upstream chain), more for each of ``words`` its title or description
    mentions."""
    near = [c for c in changes if -before_days <= c.effective_day - anomaly_started <= after_days]
    scored = [(_link(c, anomaly_started, words, kpi_ids, before_days, after_days), c) for c in near]
    scored.sort(key=lambda s: (-s[0].score, abs(s[1].effective_day - anomaly_started), s[1].id))
    return [link for link, _ in scored]


def _link(change: ChangeRef, started: int, words: set[str], kpi_ids: set[str], before_days: int,
          after_days: int) -> LinkedChange:
    lag = started - change.effective_day
    score = 1 - lag / (before_days + 1) if lag >= 0 else AFTER * (1 + lag / (after_days + 1))
    reasons = ["before_start" if lag >= 0 else "after_start"]
    if kpi_ids & set(change.affected_metrics):
        score, reasons = score + DECLARED, [*reasons, "declares_metric"]
    text = f"{change.title}\n{change.description}".casefold()
    mentioned = sorted(w for w in words if w.casefold() in text)
    reasons += [f"mentions:{w}" for w in mentioned]
    return LinkedChange(change.id, round(score + MENTION * min(len(mentioned), MENTIONS_COUNTED), 6),
                        tuple(reasons), change.title)
