"""ECharts options for the monitoring pages, built from the views' lines, markers and bands (pure).

Every chart draws the changes that took effect in its days as dashed vertical lines; hovering a day lists its values
and the titles of its changes (the tooltip is HTML, so every text in it is escaped in the browser). A rate's values
are drawn in percent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from evenhand.monitor.kpis import Kpi
from evenhand.monitor.views import Band, Line, Marker

CHANGE, ALERT = "#e67e22", "#c0392b"
BASELINE, ANOMALOUS, HARMFUL, HELPFUL = "rgba(120,144,156,0.15)", "rgba(192,57,43,0.15)", "rgba(192,57,43,0.12)", \
    "rgba(39,174,96,0.12)"
DAILY, ROLLING = "#b0bec5", "#1f5f8b"
PALETTE = ("#1f5f8b", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085")


@dataclass(frozen=True)
class Words:
    """What the chart writes, already in the reader's language."""

    suffix: str  # after a value: "%", " h", …
    daily: str
    rolling: str
    maturing: str
    alert: str
    change: str
    baseline: str = ""
    anomalous: str = ""


def scale(kpi: Kpi) -> float:
    return 100.0 if kpi.unit == "share" else 1.0


def _scaled(values: Sequence[float | None], factor: float) -> list[float | None]:
    return [None if v is None else round(v * factor, 4) for v in values]


# The tooltip lists the day's values, then its changes; texts go through ``esc`` since the tooltip is HTML.
_FORMATTER = """(ps) => {
  const changes = %s, suffix = %s;
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
                                                             "'": '&#39;'}[c]));
  const day = ps[0].axisValue;
  let out = esc(day);
  for (const p of ps) {
    if (p.value === null || p.value === undefined) continue;
    out += '<br>' + p.marker + esc(p.seriesName) + ': ' + p.value + esc(suffix);
  }
  for (const title of (changes[day] || [])) out += '<br>⚑ ' + esc(title);
  return out;
}"""


def tooltip(markers: Sequence[Marker], words: Words) -> dict[str, Any]:
    by_day: dict[str, list[str]] = {}
    for m in markers:
        by_day.setdefault(m.day.isoformat(), []).append(f"{words.change} #{m.id}: {m.title}")
    return {"trigger": "axis", ":formatter": _FORMATTER % (json.dumps(by_day), json.dumps(words.suffix))}


def change_lines(markers: Sequence[Marker], days: Sequence[date]) -> list[dict[str, Any]]:
    shown = set(days)
    return [{"xAxis": m.day.isoformat(), "name": f"#{m.id}", "lineStyle": {"color": CHANGE, "type": "dashed"}}
            for m in markers if m.day in shown]


def alert_lines(kpi: Kpi, factor: float) -> list[dict[str, Any]]:
    return [{"yAxis": round(bound * factor, 4), "name": "", "lineStyle": {"color": ALERT, "type": "solid"}}
            for bound in (kpi.alert_above, kpi.alert_below) if bound is not None]


def _marks(kpi: Kpi, markers: Sequence[Marker], days: Sequence[date], *, labels: bool) -> dict[str, Any]:
    return {"symbol": ["none", "none"], "silent": True,
            "label": {"show": labels, "formatter": "{b}", "position": "insideEndTop", "fontSize": 10},
            "data": change_lines(markers, days) + alert_lines(kpi, scale(kpi))}


def _rolling(kpi: Kpi, line: Line, words: Words, markers: Sequence[Marker], *, labels: bool) -> list[dict[str, Any]]:
    """The window's value: final days solid, a horizon rate's maturing days dashed (joined at the last final one)."""
    values = _scaled(line.rolling, scale(kpi))
    final = [v if i < line.mature else None for i, v in enumerate(values)]
    out = [{"name": words.rolling, "type": "line", "showSymbol": False, "color": ROLLING, "data": final,
            "lineStyle": {"width": 2}, "markLine": _marks(kpi, markers, line.days, labels=labels)}]
    if line.mature < len(values):
        maturing = [v if i >= line.mature - 1 else None for i, v in enumerate(values)]
        out.append({"name": words.maturing, "type": "line", "showSymbol": False, "color": ROLLING,
                    "lineStyle": {"type": "dashed"}, "data": maturing})
    return out


def _axis(kpi: Kpi, line: Line) -> dict[str, Any]:
    return {"xAxis": {"type": "category", "data": [d.isoformat() for d in line.days], "boundaryGap": False},
            "yAxis": {"type": "value", "scale": True,
                      "axisLabel": {"formatter": "{value}%" if kpi.unit == "share" else "{value}"}}}


def sparkline(kpi: Kpi, line: Line, markers: Sequence[Marker], words: Words, *, alarming: bool) -> dict[str, Any]:
    """A tile's line: no axes, the alert line and the change markers, red while an anomaly is open."""
    series = _rolling(kpi, line, words, markers, labels=False)
    if alarming:
        for s in series:
            s["color"] = ALERT
    axis = _axis(kpi, line)
    axis["xAxis"]["show"] = False
    axis["yAxis"].update(show=False, splitLine={"show": False})
    return {"animation": False, "tooltip": tooltip(markers, words), "grid": {"left": 2, "right": 2, "top": 6,
                                                                          "bottom": 2}, **axis, "series": series}


def band(first: date, last: date, colour: str, name: str = "") -> list[dict[str, Any]]:
    return [{"xAxis": first.isoformat(), "name": name, "itemStyle": {"color": colour}}, {"xAxis": last.isoformat()}]


def kpi_chart(kpi: Kpi, line: Line, markers: Sequence[Marker], words: Words, *, bands: Sequence[Band] = (),
              windows: dict[str, tuple[date, date]] | None = None,
              extra: Sequence[tuple[str, Line]] = ()) -> dict[str, Any]:
    """A KPI's full chart: each day's value (thin), the window's value, the alert line, the changes, the anomalies
    shaded (harmful red, helpful green), a drill-down's baseline and anomalous windows, and any dimension values'
    lines."""
    factor = scale(kpi)
    series: list[dict[str, Any]] = [{"name": words.daily, "type": "line", "showSymbol": False, "color": DAILY,
                                     "lineStyle": {"width": 1}, "data": _scaled(line.daily, factor)}]
    series += _rolling(kpi, line, words, markers, labels=True)
    areas = _areas(kpi, line, bands, windows or {}, words)
    if areas:
        series[0]["markArea"] = {"silent": True, "label": {"show": True, "position": "insideTop", "fontSize": 10},
                                 "data": areas}
    for i, (name, other) in enumerate(extra):
        series.append({"name": name, "type": "line", "showSymbol": False, "color": PALETTE[(i + 1) % len(PALETTE)],
                       "data": _scaled(other.rolling, factor)})
    return {"animation": False, "tooltip": tooltip(markers, words), "legend": {"top": 0, "type": "scroll"},
            "grid": {"left": 50, "right": 24, "top": 40, "bottom": 30}, **_axis(kpi, line), "series": series}


def _areas(kpi: Kpi, line: Line, bands: Sequence[Band], windows: dict[str, tuple[date, date]],
           words: Words) -> list[list[dict[str, Any]]]:
    """Shaded spans, each cut to the days the chart shows."""
    if not line.days:
        return []
    first, last = line.days[0], line.days[-1]
    spans = [(b.first, b.last, HELPFUL if b.direction == kpi.good else HARMFUL, f"#{b.id}") for b in bands]
    spans += [(*windows[k], colour, name) for k, colour, name in (
        ("baseline", BASELINE, words.baseline), ("anomalous", ANOMALOUS, words.anomalous)) if k in windows]
    return [band(max(a, first), min(b, last), colour, name) for a, b, colour, name in spans if a <= last and b >= first]
