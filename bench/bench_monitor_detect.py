"""Anomaly detection (``monitor.detect``) on simulated series at the demo company's volumes: the false alarms on
long stable series, the delays on the demo's incident, and the time a year of daily evaluation takes.

False alarms: for each kind of KPI (conversion within 21 days as a cohort rate, first response mean and p90,
notification delivery, a daily count), ``YEARS`` years of stable days under each of ``SEEDS``, scanned day by day;
every statistical episode is a false alarm, counted per quarter (the issue's bound: under one per KPI per quarter).
Holidays: the same for conversion with eight days off at the Spring Festival and seven at National Day every year
(``simulated.holidays``: no leads, no conversions), scanned with the holidays given (``days_off``) and without.
Delays: ``INCIDENTS`` seeded incidents per kind (``tests/monitor/simulated.incident``, the change day on every
weekday in turn): days from the change to the first episode detected on or after it in the incident's direction,
and how far its estimated start lies from the change. Timing: milliseconds for ``scan`` over 365 days (with the
history it reads), median of ``RUNS``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.monitor import simulated  # noqa: E402

from evenhand.monitor import detect  # noqa: E402
from evenhand.monitor.kpis import Kpi  # noqa: E402
from evenhand.monitor.series import DaysOff, Series  # noqa: E402

YEARS = 40
SEEDS = (1, 2, 3)
INCIDENTS = 140
CHANGE_AT = 200  # day index of the change; the series runs 160 days past it
RUNS = 21
TARGETS = {"conversion": 14, "response_mean": 7, "response_p90": 7, "delivery": 3, "count": 7}
DIRECTION = {"conversion": "down", "delivery": "down", "response_mean": "up", "response_p90": "up", "count": "up"}


def _episodes(kpi: Kpi, series: Series, first: int = 0) -> list[detect.Finding]:
    found = detect.scan(kpi, series, int(series.days[first]), int(series.days[-1]))
    return [f for f in found if f.kind == "statistical"]


def _false_alarms(name: str, kpi: Kpi) -> dict[str, Any]:
    days = int(YEARS * 365.25)
    episodes = sum(len(_episodes(kpi, simulated.stable(name, np.random.default_rng(seed), days))) for seed in SEEDS)
    quarters = len(SEEDS) * days / simulated.QUARTER
    return {"episodes": episodes, "quarters": round(quarters, 1), "per_quarter": round(episodes / quarters, 4)}


def _holiday_false_alarms(kpi: Kpi) -> dict[str, Any]:
    days = int(YEARS * 365.25)
    off = simulated.holidays(days)
    found = {"given": 0, "not_given": 0}
    for seed in SEEDS:
        series = simulated.conversion(np.random.default_rng(seed), simulated.level(days, 0.12), days_off=off)
        first, last = int(series.days[0]), int(series.days[-1])
        for key, given in (("given", DaysOff(frozenset(off.tolist()))), ("not_given", DaysOff())):
            found[key] += sum(f.kind == "statistical" for f in detect.scan(kpi, series, first, last, days_off=given))
    quarters = len(SEEDS) * days / simulated.QUARTER
    return {key: {"episodes": n, "per_quarter": round(n / quarters, 4)} for key, n in found.items()}


def _incident(name: str, kpi: Kpi, seed: int) -> tuple[int | None, int | None]:
    at = CHANGE_AT + seed % 7
    series = simulated.incident(name, np.random.default_rng(1000 + seed), at + 160, at)
    change = int(series.days[at])
    found = [f for f in _episodes(kpi, series, at - 60) if f.detected >= change and f.direction == DIRECTION[name]]
    return (found[0].detected - change, found[0].started - change) if found else (None, None)


def _delays(name: str, kpi: Kpi) -> dict[str, Any]:
    results = [_incident(name, kpi, seed) for seed in range(INCIDENTS)]
    delays = np.array([d for d, _ in results if d is not None])
    errors = np.array([e for _, e in results if e is not None])
    return {"incidents": INCIDENTS, "missed": INCIDENTS - len(delays), "target_days": TARGETS[name],
            "within_target": round(float(np.mean(delays <= TARGETS[name])) * len(delays) / INCIDENTS, 3),
            "delay_days": _spread(delays), "start_error_days": _spread(errors),
            "start_within_3_days": round(float(np.mean(np.abs(errors) <= 3)), 3)}


def _spread(values: np.ndarray) -> dict[str, float]:
    cuts = np.percentile(values, [10, 50, 90])
    return {"min": int(values.min()), "p10": float(cuts[0]), "median": float(cuts[1]), "p90": float(cuts[2]),
            "max": int(values.max())}


def _year_ms(name: str, kpi: Kpi) -> float:
    series = simulated.stable(name, np.random.default_rng(9), 365 + detect.history(kpi))
    first = int(series.days[-365])
    runs = []
    for _ in range(RUNS):
        began = time.perf_counter()
        detect.scan(kpi, series, first, int(series.days[-1]))
        runs.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(runs), 2)


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {
        "alpha": detect.ALPHA, "cusum": {"k": detect.CUSUM_K, "h": detect.CUSUM_H}, "years_per_seed": YEARS,
        "seeds": list(SEEDS), "false_alarms": {}, "detection": {}, "year_of_days_ms": {}}
    for name, kpi in simulated.KPIS.items():
        figures["false_alarms"][name] = _false_alarms(name, kpi)
        figures["detection"][name] = _delays(name, kpi)
        figures["year_of_days_ms"][name] = _year_ms(name, kpi)
    figures["worst_false_alarms_per_quarter"] = max(v["per_quarter"] for v in figures["false_alarms"].values())
    figures["conversion_with_holidays"] = _holiday_false_alarms(simulated.KPIS["conversion"])
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
