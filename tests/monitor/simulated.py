"""Simulated daily KPI series at the demo company's volumes, for the detection tests and bench.

Leads: about 85 a weekday and 15 a weekend day (Poisson). Conversion: a share of each day's cohort, each
conversion arriving 5–21 days after the lead (lognormal around 9 days). First response: lognormal hours per lead.
Delivery: about 250 notifications a day. Counts: about 20 a day, gamma-Poisson with mild overdispersion.
Each generator takes the level per day, so an incident is a step in that array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import Series

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

START = 19_000  # day number of the first simulated day (a Saturday)
HORIZON = 21
RESPONSE_SIGMA = 1.1  # of log hours: mean 2 h has its median at 1.1 h and p90 at 4.5 h
QUARTER = 365.25 / 4


def kpi(kpi_id: str, kind: str, **fields: object) -> Kpi:
    return Kpi(id=kpi_id, name_en=kpi_id, name_zh=kpi_id, source="leads", kind=kind, **fields)  # type: ignore[arg-type]


KPIS = {
    "conversion": kpi("lead_conversion", "rate", numerator="converted", horizon_days=HORIZON),
    "response_mean": kpi("first_response_mean", "mean", measure="first_response_hours", good="down", unit="hours"),
    "response_p90": kpi("first_response_p90", "quantile", measure="first_response_hours", q=0.9, good="down",
                        unit="hours"),
    "delivery": kpi("notification_delivery", "rate", numerator="delivered"),
    "count": kpi("alerts_opened", "count", good="down"),
}


def days(count: int) -> I64:
    return np.arange(START, START + count, dtype=np.int64)


def level(count: int, before: float, after: float | None = None, at: int | None = None) -> F64:
    """A level per day: ``before``, then ``after`` from day index ``at`` on."""
    out = np.full(count, before)
    if after is not None and at is not None:
        out[at:] = after
    return out


def leads(rng: np.random.Generator, day: I64, weekday: float = 85, weekend: float = 15) -> F64:
    weekend_day = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return rng.poisson(np.where(weekend_day, weekend, weekday)).astype(np.float64)


def conversion(rng: np.random.Generator, share: F64, *, volume: float = 1.0, days_off: I64 | None = None) -> Series:
    """A cohort rate within HORIZON days: by_age[d, a] is cohort d's conversions known a days after it. With
    ``days_off`` (day numbers: the company's holidays) nobody works on those days: no lead arrives, and a
    conversion's delay runs on the days worked, so one due in a holiday comes after it (and may fall beyond the
    horizon)."""
    day = days(len(share))
    off = np.isin(day, days_off if days_off is not None else np.empty(0, np.int64))
    n = np.where(off, 0.0, leads(rng, day, 85 * volume, 15 * volume))
    converted = rng.binomial(n.astype(np.int64), share)
    cohort = np.repeat(np.arange(len(day)), converted)
    worked = np.clip(np.rint(rng.lognormal(np.log(9), 0.35, len(cohort))), 5, HORIZON).astype(np.int64)
    delay = _on_days_worked(cohort, worked, off)
    within = delay <= HORIZON
    arrivals = np.bincount(cohort[within] * (HORIZON + 1) + delay[within], minlength=len(day) * (HORIZON + 1))
    by_age = np.cumsum(arrivals.reshape(len(day), HORIZON + 1), axis=1).astype(np.float64)
    x = by_age[:, HORIZON]
    return Series(day, n, x, x, _share(x, n), by_age)


def delivery(rng: np.random.Generator, share: F64, *, volume: float = 250) -> Series:
    day = days(len(share))
    n = rng.poisson(volume, len(day)).astype(np.float64)
    x = rng.binomial(n.astype(np.int64), share).astype(np.float64)
    return Series(day, n, x, x, _share(x, n), None)


def response(rng: np.random.Generator, mean_hours: F64, *, q: float | None = None, volume: float = 1.0) -> Series:
    """First-response hours per lead (lognormal with the day's mean); v is the day's mean, or its quantile q."""
    day = days(len(mean_hours))
    n = leads(rng, day, 85 * volume, 15 * volume)
    owner = np.repeat(np.arange(len(day)), n.astype(np.int64))
    hours = rng.lognormal(np.log(mean_hours[owner]) - RESPONSE_SIGMA**2 / 2, RESPONSE_SIGMA)
    x = np.bincount(owner, hours, minlength=len(day))
    x2 = np.bincount(owner, hours**2, minlength=len(day))
    v = x / np.where(n > 0, n, 1) if q is None else _quantiles(owner, hours, n, q)
    return Series(day, n, x, x2, np.where(n >= 5, v, np.nan), None)


def counts(rng: np.random.Generator, mean: F64, *, overdispersion: float = 1.3) -> Series:
    """Daily counts with variance ``overdispersion`` × mean (a gamma-Poisson mixture)."""
    shape = mean / (overdispersion - 1)
    x = rng.poisson(rng.gamma(shape, mean / shape)).astype(np.float64)
    return Series(days(len(mean)), x, x, x, x, None)


def _on_days_worked(cohort: I64, worked: I64, off: NDArray[np.bool_]) -> I64:
    """Calendar days from each cohort day until ``worked`` days not off have passed after it (HORIZON + 1, out of
    the horizon, when that is later)."""
    working = np.concatenate([np.cumsum(~off), np.arange(1, HORIZON + 2) + int((~off).sum())])
    reached = np.searchsorted(working, working[cohort] + worked, side="left") - cohort
    return np.minimum(reached, HORIZON + 1)


def holidays(count: int) -> I64:
    """A year's days off as China has them, over ``count`` days from START: eight days at the Spring Festival (from
    day 40 of each year) and seven from National Day (day 273)."""
    years = range(0, count, 365)
    return np.array([START + y + d for y in years for start, length in ((40, 8), (273, 7))
                     for d in range(start, start + length) if y + d < count], np.int64)


def _share(x: F64, n: F64) -> F64:
    return np.where(n >= 5, x / np.where(n > 0, n, 1), np.nan)


def _quantiles(owner: I64, hours: F64, n: F64, q: float) -> F64:
    """Each day's q-quantile, interpolated like numpy's default."""
    ordered = hours[np.lexsort((hours, owner))]
    start = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    position = q * np.maximum(n - 1, 0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(n - 1, 0).astype(np.int64))
    take = np.minimum(start + low, len(ordered) - 1), np.minimum(start + high, len(ordered) - 1)
    return ordered[take[0]] + (position - low) * (ordered[take[1]] - ordered[take[0]])


def stable(name: str, rng: np.random.Generator, count: int) -> Series:
    """A long series at the demo's level with no change."""
    if name == "conversion":
        return conversion(rng, level(count, 0.12))
    if name == "delivery":
        return delivery(rng, level(count, 0.992))
    if name == "count":
        return counts(rng, level(count, 20.0))
    return response(rng, level(count, 2.0), q=0.9 if name == "response_p90" else None)


def incident(name: str, rng: np.random.Generator, count: int, at: int) -> Series:
    """The demo's incident as each KPI sees it, from day index ``at`` on: conversion 12.5 % → 6.5 % (cohorts
    created from then), first response mean 2.1 h → 6.8 h, delivery 99 % → 85 %, a count 20 → 30 a day."""
    if name == "conversion":
        return conversion(rng, level(count, 0.125, 0.065, at))
    if name == "delivery":
        return delivery(rng, level(count, 0.99, 0.85, at))
    if name == "count":
        return counts(rng, level(count, 20.0, 30.0, at))
    return response(rng, level(count, 2.1, 6.8, at), q=0.9 if name == "response_p90" else None)
