"""Anomaly detection on a KPI's daily series: pure, vectorised over the days evaluated.

Each evaluation day T compares the recent window (the KPI's ``window_days`` ending at T) with the baseline (the
``baseline_days`` before it), using only what was known on T:
- rate: the numerator observed in the window against what the baseline's share predicts, quasi-binomial (a two-
  proportion test). A cohort rate with a horizon (converted within 21 days) compares each young cohort with the
  baseline at the same age, against baseline cohorts already mature on T, over a window of at least 14 days and
  over twice that.
- mean, quantile (durations): a two-sided CUSUM of the daily values on a log scale against the baseline's level
  and robust spread; it fires over ``CUSUM_H``, and the window's days together must also be significant.
- count: the window's mean daily count against the baseline's, quasi-Poisson with the baseline's overdispersion
  around each weekday's mean.
A day alarms when p < ``ALPHA`` and the change is at least the KPI's ``min_effect``; alarming days at most
``GAP_DAYS`` apart are one episode, its start the most likely change point. The alert line is watched apart.
``bench/bench_monitor_detect.py`` measures the false alarms on long stable series (0.06–0.19 per KPI per quarter
at the demo's volumes) and the delays on the demo's incident.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy.special import ndtr, stdtr

from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import NO_DAYS_OFF, DaysOff, DaysWorked, Series

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

ALPHA = 0.002  # two-sided; the bench's false alarms per KPI per quarter stay under 0.2 with it
# While a KPI upstream of this one is known to have shifted (the funnel: a first-response rise before a conversion
# drop), a shift here is likelier than by chance, and is tested at this level; upstream shifts are rare, so the
# false alarms this adds are too (the bench measures both).
ALPHA_EXPLAINED = 0.02
CUSUM_K, CUSUM_H = 0.5, 5.0  # in robust standard deviations of a day's value
Z_CLIP = 4.0  # one wild day moves the CUSUM by at most this: it takes two to fire
RESIDUAL_CLIP = 3.0  # one wild baseline day adds at most this squared to the overdispersion's χ²
LOG_FLOOR = 0.02  # the smallest spread of a day's log value (2 %): a flat baseline is not infinitely precise
MAD_SCALE = 1.4826  # MAD to standard deviation under normality
COHORT_WINDOW = 14  # young cohorts need this many days to show a change in a horizon rate
# A window of cohorts expected to reach fewer numerators than this is not judged, nor held against the alert line:
# so few (the cohorts of the days just after a holiday week, which have hardly worked yet) say too little, and the
# normal approximation's tail is wrong for them.
MIN_EXPECTED = 5.0
GAP_DAYS = 3  # alarming days this close are one episode
QUIET_DAYS = 4  # an episode has ended once this many days passed without alarm


@dataclass(frozen=True)
class Finding:
    """One anomaly episode. ``started`` is the estimated change point, ``detected`` the first alarming day,
    ``last`` the last one, ``ended`` the day after it once the scan went ``QUIET_DAYS`` past it without alarm.
    Baseline, observed, effect (observed / baseline − 1) and p are the detection day's; an alert-line finding's
    baseline is the line itself."""

    kpi: str
    kind: Literal["statistical", "alert_line"]
    method: str
    direction: Literal["up", "down"]
    started: int
    detected: int
    last: int
    ended: int | None
    baseline: float
    observed: float
    effect: float
    p_value: float | None


@dataclass(frozen=True)
class _Days:
    """What the test saw on each evaluation day (NaN where the history was too short to judge)."""

    day: I64
    method: str
    baseline: F64
    observed: F64  # the value the test saw
    value: F64  # the window's value, held against the alert line
    p: F64
    sign: F64  # +1 the test says up, −1 down
    start: I64  # the estimated change point
    fired: Bools  # the method's own trigger besides p (the CUSUM over h)
    size: F64  # the change min_effect is held against


@dataclass(frozen=True)
class _Padded:
    """The series with ``pad`` empty days in front, so every window of an evaluation day is in range."""

    pad: int
    first: int
    n: F64
    x: F64
    v: F64
    ages: F64  # per day, the numerator known 0..H days after it (H = 0 without a horizon: the numerator)
    days_off: DaysOff

    @classmethod
    def of(cls, series: Series, pad: int, days_off: DaysOff = NO_DAYS_OFF) -> _Padded:
        def front(a: np.ndarray, fill: float) -> F64:
            return np.concatenate([np.full((pad, *a.shape[1:]), fill), a.astype(np.float64)])

        ages = series.x[:, None] if series.by_age is None else series.by_age
        return cls(pad, int(series.days[0]), front(series.n, 0), front(series.x, 0), front(series.v, np.nan),
                   front(np.asarray(ages, dtype=np.float64), 0), days_off)

    def day(self, index: I64) -> I64:
        return index + self.first - self.pad

    def index(self, day: I64) -> I64:
        return day - self.first + self.pad


def scan(kpi: Kpi, series: Series, first: int, last: int, *, explained: Collection[int] = (),
         days_off: DaysOff = NO_DAYS_OFF) -> list[Finding]:
    """The anomaly episodes over the days ``first``..``last`` (day numbers), statistical and alert-line, each
    day judged on what was known that day. On the ``explained`` days a KPI upstream of this one was known to have
    shifted: a change here then has a cause already, and is tested at ``ALPHA_EXPLAINED``. On ``days_off`` the
    company does not work: a young cohort is compared with the baseline's at as many days worked, so the leads that
    arrived before a holiday week are not taken for a drop (see ``_Cohorts``)."""
    days = _evaluate_days(kpi, series, first, last, days_off)
    if days is None:
        return []
    scanned = int(days.day[-1])
    alpha = np.where(np.isin(days.day, np.fromiter(explained, np.int64)), ALPHA_EXPLAINED, ALPHA)
    return [*_statistical(kpi, days, scanned, alpha), *_alert_lines(kpi, days, scanned)]


def evaluate(kpi: Kpi, series: Series, day: int, *, days_off: DaysOff = NO_DAYS_OFF) -> Finding | None:
    """The finding of a single day: its statistical alarm, else its alert line, else None."""
    findings = scan(kpi, series, day, day, days_off=days_off)
    return next((f for f in findings if f.kind == "statistical"), findings[0] if findings else None)


def history(kpi: Kpi) -> int:
    """Days before T an evaluation reads: a day with less history behind it in the series is not judged."""
    if kpi.kind == "rate":
        return _lag(kpi) + kpi.baseline_days
    return kpi.window_days + kpi.baseline_days


def _window(kpi: Kpi) -> int:
    return max(kpi.window_days, COHORT_WINDOW) if kpi.kind == "rate" and kpi.horizon_days else kpi.window_days


def _evaluate_days(kpi: Kpi, series: Series, first: int, last: int, days_off: DaysOff) -> _Days | None:
    if len(series.days) == 0:
        return None
    lo, hi = max(first, int(series.days[0])), min(last, int(series.days[-1]))
    if hi < lo:
        return None
    padded = _Padded.of(series, history(kpi), days_off)
    day = np.arange(lo, hi + 1, dtype=np.int64)
    judged = day - padded.first >= history(kpi)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: days that cannot be judged
        days = _METHODS[kpi.kind](kpi, padded, day)
    return _masked(days, judged & (days.baseline != 0))


def _masked(days: _Days, keep: Bools) -> _Days:
    """A day without the full history, or with a baseline at zero (no relative change to measure), is not judged."""
    nan = np.where(keep, 0.0, np.nan)
    return _Days(days.day, days.method, days.baseline + nan, days.observed + nan, days.value + nan, days.p + nan,
                 days.sign, days.start, days.fired & keep, days.size + nan)


def _rows(a: F64, at: I64, length: int, lag: int = 0) -> F64:
    """Per evaluation index, ``a`` over the ``length`` days ending ``lag`` days before it (oldest first; for a
    2-d ``a`` the days are the last axis)."""
    return sliding_window_view(a, length, axis=0)[at - lag - length + 1]


# --- rates ---------------------------------------------------------------------------------------------------


def _rates(kpi: Kpi, s: _Padded, day: I64) -> _Days:
    """Observed numerator O in the window against E, what the baseline's share by age F(a) predicts:
    E = Σ n_d · F(age_d), a cohort's age being min(T − d, H) and its numerator the one known at that age. Without a
    horizon (H = 0) this is the two-proportion test. A horizon rate is also tested over twice its window (young
    cohorts carry little, so a lasting change shows best once some have matured), each window at half of ALPHA;
    the day keeps the window with the smaller p."""
    at, h = s.index(day), s.ages.shape[1] - 1
    c = _Cohorts.of(kpi, s, at)
    tests = [c.test(w) for w in _windows(kpi)]
    judged = np.stack([p for p, _, _ in tests])
    best = np.argmin(np.where(np.isnan(judged), np.inf, judged), axis=0)
    p, z, observed = (np.choose(best, [t[i] for t in tests]) for i in range(3))
    base = c.share[:, h]
    start = day - _onset(_binomial_gain(c.seen, c.size, np.take_along_axis(c.share, c.age, axis=1), observed / base))
    return _Days(day, "cohort_rate" if h else "two_proportion", base, observed, tests[0][2],
                 np.minimum(1.0, p * len(tests)), np.sign(z), start, np.ones(len(day), bool),
                 np.abs(observed - base) / np.minimum(base, 1 - base))


def _windows(kpi: Kpi) -> tuple[int, ...]:
    return (_window(kpi), 2 * _window(kpi)) if kpi.horizon_days else (kpi.window_days,)


def _lag(kpi: Kpi) -> int:
    """A rate's baseline ends before its longest window and, with a horizon, before the cohorts still maturing."""
    return max(*_windows(kpi), kpi.horizon_days or 0)


@dataclass(frozen=True)
class _Cohorts:
    """Per evaluation day: the baseline's share by age and size, and the cohorts of the longest window.

    Ages are counted in days worked (``series.DaysWorked``): a cohort's numerator known c days after it is compared
    with the baseline's share by as many days worked (not the company's weekly days off nor its holidays). The
    horizon itself stays in calendar days: a cohort whose H days held a holiday worked fewer days by its end, and is
    expected to have converted that much less."""

    share: F64  # F(a): the baseline's share with the numerator by a days worked (a cohort that worked fewer within
    # its horizon counts what it had at its end), shape (days, H+1)
    n_base: F64
    age: I64  # per day and column (newest cohort first): the days the cohort worked by T, at most in its horizon
    seen: F64  # the numerator each cohort had on T
    size: F64
    dispersion: F64

    @classmethod
    def of(cls, kpi: Kpi, s: _Padded, at: I64) -> _Cohorts:
        lag, span, h = _lag(kpi), max(_windows(kpi)), s.ages.shape[1] - 1
        day = s.day(np.arange(len(s.ages)))
        worked = DaysWorked.over(int(day[0]), int(day[-1]) + h, s.days_off)
        n_base = _rows(s.n, at, kpi.baseline_days, lag).sum(axis=1)
        share = _rows(worked.aligned(day, s.ages), at, kpi.baseline_days, lag).sum(axis=-1) / n_base[:, None]
        calendar = np.minimum(np.arange(span), h)
        cohort = at[:, None] - np.arange(span)
        age = worked.age(day[cohort], calendar)
        return cls(share, n_base, age, s.ages[cohort, calendar], s.n[cohort],
                   _rate_dispersion(kpi, s, at, share[:, -1]))

    def test(self, w: int) -> tuple[F64, F64, F64]:
        """p, z and the maturity-adjusted share (the baseline's share × O / E) of the newest ``w`` cohorts. Var(O −
        E) under no change is taken at the pooled share (baseline and window together, the baseline's timing): the
        window's binomial variance plus that of E, whose shares come from n_base baseline cohorts, both scaled
        by the baseline's overdispersion."""
        size, age = self.size[:, :w], self.age[:, :w]
        o, e = self.seen[:, :w].sum(axis=1), (size * np.take_along_axis(self.share, age, axis=1)).sum(axis=1)
        base = self.share[:, -1] * self.n_base
        pooled = np.clip(self.share * ((base + o) / (base + e))[:, None], 0, 1)
        at_age = np.take_along_axis(pooled, age, axis=1)
        own = (size * at_age * (1 - at_age)).sum(axis=1)
        variance = own + _estimate_variance(pooled, size, age) / self.n_base
        z = (o - e) / np.sqrt(self.dispersion * variance)
        known = e >= MIN_EXPECTED
        return np.where(known, _two_sided(z), np.nan), z, np.where(known, self.share[:, -1] * o / e, np.nan)


def _estimate_variance(share: F64, size: F64, age: I64) -> F64:
    """n_base · Var(E): one baseline lead converting at age τ adds G(τ) = Σ_{cohorts aged ≥ τ} n_d to E·n_base."""
    weight = np.zeros_like(share)
    rows = np.arange(len(share))
    for column in range(age.shape[1]):
        weight[rows, age[:, column]] += size[:, column]
    reach = np.cumsum(weight[:, ::-1], axis=1)[:, ::-1]  # G(τ)
    p = np.diff(share, axis=1, prepend=0.0)  # P(τ = a)
    return (p * reach**2).sum(axis=1) - (p * reach).sum(axis=1) ** 2


def _rate_dispersion(kpi: Kpi, s: _Padded, at: I64, share: F64) -> F64:
    """How much more the baseline's daily (cohort) shares scatter than binomial (``_dispersion``)."""
    x = _rows(s.ages[:, -1], at, kpi.baseline_days, _lag(kpi))
    n = _rows(s.n, at, kpi.baseline_days, _lag(kpi))
    p = share[:, None]
    residual = np.where(n > 0, (x - n * p) / np.sqrt(n * p * (1 - p)), 0.0)
    return _dispersion(residual, (n > 0).sum(axis=1) - 1)


def _dispersion(residual: F64, df: I64 | int) -> F64:
    """Pearson χ² / df of the baseline's standardised residuals, each at most RESIDUAL_CLIP, so one wild day (an
    earlier incident) does not hide the next; never below 1."""
    chi2 = (np.clip(np.nan_to_num(residual), -RESIDUAL_CLIP, RESIDUAL_CLIP) ** 2).sum(axis=1)
    return np.nan_to_num(np.maximum(1.0, chi2 / np.maximum(df, 1)), nan=1.0, posinf=1.0)


# --- durations -----------------------------------------------------------------------------------------------


def _durations(kpi: Kpi, s: _Padded, day: I64) -> _Days:
    """Two-sided CUSUM (k = CUSUM_K, fires over CUSUM_H) of the window's days on a log scale, each day standardised
    against the baseline (``_Reference``), its spread shrinking as 1/√n with the day's n values. Days with fewer
    than min_n values or a value not above zero are skipped. p is that of the window's days together, counting the
    baseline's own uncertainty. The change started where a shift the size of the CUSUM's last run (since it stood
    at zero) most likely began."""
    at, w = s.index(day), kpi.window_days
    log = np.where((s.n >= kpi.min_n) & (s.v > 0), np.log(np.where(s.v > 0, s.v, 1.0)), np.nan)
    ref = _Reference.of(kpi, log, s.n, at)
    scale = np.maximum(ref.spread[:, None] / np.sqrt(_rows(s.n, at, w)), LOG_FLOOR)
    z = np.clip((_rows(log, at, w) - ref.centre[:, None]) / scale, -Z_CLIP, Z_CLIP)
    up, down, zero_up, zero_down = _cusum(z)
    rising = up >= down
    since = np.where(rising, zero_up, zero_down) + 1
    seen = ~np.isnan(z)
    segment = (np.arange(w)[None, :] >= since[:, None]) & seen
    shift = np.where(segment, z, 0.0).sum(axis=1) / segment.sum(axis=1)  # the CUSUM's segment, in spreads
    base, observed = _pooled(kpi, s, at)
    return _Days(day, "cusum", base, observed, observed, ref.p(z, scale, seen), np.where(rising, 1.0, -1.0),
                 day - _onset(_normal_gain(z[:, ::-1], shift)), np.maximum(up, down) > CUSUM_H,
                 np.abs(observed / base - 1))


@dataclass(frozen=True)
class _Reference:
    """The baseline's level and spread of a day's log value, per evaluation day. The level is the n-weighted mean
    of the baseline days, each first pulled within 3 robust spreads of their median; the spread that of √n · the
    log deviation, √(π/2) · its mean absolute value (each at most 3 MADs). NaN with under half the days valid."""

    centre: F64
    spread: F64  # of √n · (log value − centre)
    total_n: F64  # Σ n of the valid baseline days: the centre's variance is spread² / total_n
    valid: I64

    @classmethod
    def of(cls, kpi: Kpi, log: F64, n: F64, at: I64) -> _Reference:
        days = _rows(log, at, kpi.baseline_days, kpi.window_days)
        size = np.where(np.isnan(days), 0.0, _rows(n, at, kpi.baseline_days, kpi.window_days))
        median = _median(days)[:, None]
        mad = MAD_SCALE * _median(np.abs(days - median) * np.sqrt(size))[:, None]
        reach = 3 * mad / np.sqrt(size)
        total = size.sum(axis=1)
        centre = np.nansum(np.clip(days, median - reach, median + reach) * size, axis=1) / total
        deviation = np.minimum(np.abs(days - centre[:, None]) * np.sqrt(size), 3 * mad)
        valid = (~np.isnan(days)).sum(axis=1)
        enough = valid * 2 >= kpi.baseline_days
        return cls(np.where(enough, centre, np.nan), np.sqrt(np.pi / 2) * np.nanmean(deviation, axis=1), total, valid)

    def p(self, z: F64, scale: F64, segment: Bools) -> F64:
        """Two-sided p of the segment's summed z: its variance is the days' own plus the centre's error carried
        into every day of it; Student's t with the baseline's degrees of freedom for the spread's."""
        total = np.where(segment, z, 0.0).sum(axis=1)
        carried = np.where(segment, 1 / scale, 0.0).sum(axis=1) ** 2 * self.spread**2 / self.total_n
        t = total / np.sqrt(segment.sum(axis=1) + carried)
        return np.where(np.isnan(t), np.nan, 2 * stdtr(np.maximum(self.valid - 1, 1), -np.abs(t)))


def _cusum(z: F64) -> tuple[F64, F64, I64, I64]:
    """Upper and lower CUSUM at the window's end, and the column where each last stood at zero (−1: never)."""
    rows, columns = z.shape
    up, down = np.zeros(rows), np.zeros(rows)
    zero_up, zero_down = np.full(rows, -1), np.full(rows, -1)
    for column in range(columns):
        value = z[:, column]
        seen = ~np.isnan(value)
        up = np.where(seen, np.maximum(0.0, up + value - CUSUM_K), up)
        down = np.where(seen, np.maximum(0.0, down - value - CUSUM_K), down)
        zero_up = np.where(seen & (up == 0), column, zero_up)
        zero_down = np.where(seen & (down == 0), column, zero_down)
    return up, down, zero_up, zero_down


def _pooled(kpi: Kpi, s: _Padded, at: I64) -> tuple[F64, F64]:
    """Baseline and window as one value each: Σx / Σn for a mean, the median day for a quantile."""
    w, b = kpi.window_days, kpi.baseline_days
    if kpi.kind == "mean":
        def pool(length: int, lag: int) -> F64:
            return _rows(s.x, at, length, lag).sum(axis=1) / _rows(s.n, at, length, lag).sum(axis=1)
    else:
        valid = np.where(s.n >= kpi.min_n, s.v, np.nan)

        def pool(length: int, lag: int) -> F64:
            return _median(_rows(valid, at, length, lag))
    return pool(b, w), pool(w, 0)


# --- counts --------------------------------------------------------------------------------------------------


def _counts(kpi: Kpi, s: _Padded, day: I64) -> _Days:
    """The window's mean daily count against the baseline's: a score test at the pooled mean, the Poisson variance
    scaled by the baseline days' overdispersion (``_count_dispersion``), read on Student's t with its degrees of
    freedom as that is itself estimated."""
    at, w, b = s.index(day), kpi.window_days, kpi.baseline_days
    recent, base = _rows(s.x, at, w), _rows(s.x, at, b, w)
    mean_recent, mean_base = recent.mean(axis=1), base.mean(axis=1)
    dispersion, df = _count_dispersion(base)
    pooled = (recent.sum(axis=1) + base.sum(axis=1)) / (w + b)
    z = (mean_recent - mean_base) / np.sqrt(dispersion * pooled * (1 / w + 1 / b))
    recent_days = _rows(s.x, at, 2 * w)[:, ::-1]
    start = day - _onset(_poisson_gain(recent_days, mean_base[:, None], mean_recent / mean_base))
    p = 2 * stdtr(df, -np.abs(z))
    return _Days(day, "quasi_poisson", mean_base, mean_recent, mean_recent, p, np.sign(z), start,
                 np.ones(len(day), bool), np.abs(mean_recent / mean_base - 1))


def _count_dispersion(base: F64) -> tuple[F64, int]:
    """The baseline days' overdispersion around their weekday's mean: a window of whole weeks against a baseline
    of whole weeks holds the same weekdays, so a weekly rhythm (quiet weekends) is no noise. With under two weeks
    of baseline, around the baseline's mean."""
    days = base.shape[1]
    weekday = np.arange(days) % 7 if days >= 14 else np.zeros(days, np.int64)
    groups = np.eye(weekday.max() + 1)[weekday]  # (days, weekdays)
    fitted = (base @ groups / groups.sum(axis=0)) @ groups.T
    df = days - groups.shape[1]
    residual = np.where(fitted > 0, (base - fitted) / np.sqrt(np.where(fitted > 0, fitted, 1.0)), 0.0)
    return _dispersion(residual, df), df


# --- shared --------------------------------------------------------------------------------------------------


def _median(rows: F64) -> F64:
    """Each row's median, NaN left out (NaN for a row of NaN); numpy's nanmedian goes row by row once NaN occur."""
    ordered = np.sort(rows, axis=1)  # NaN last
    valid = (~np.isnan(rows)).sum(axis=1)
    low, high = np.maximum(valid - 1, 0) // 2, valid // 2
    pick = np.take_along_axis(ordered, np.stack([low, np.minimum(high, rows.shape[1] - 1)], axis=1), axis=1)
    return np.where(valid > 0, pick.mean(axis=1), np.nan)


def _two_sided(z: F64) -> F64:
    return np.where(np.isnan(z), np.nan, 2 * ndtr(-np.abs(z)))


def _onset(gain: F64) -> I64:
    """Days back from T (columns newest first, each day's log-likelihood ratio of the changed level against the
    baseline) to where the change most likely started: the split with the largest summed ratio since it."""
    return np.argmax(np.cumsum(gain, axis=1), axis=1).astype(np.int64)


def _binomial_gain(seen: F64, size: F64, share: F64, ratio: F64) -> F64:
    """Per cohort, log L(share × ratio) − log L(share) of its numerator, ``ratio`` being what the window shows."""
    changed = np.clip(share * np.nan_to_num(ratio, nan=1.0)[:, None], 1e-9, 1 - 1e-9)
    kept = np.clip(share, 1e-9, 1 - 1e-9)
    gain = seen * np.log(changed / kept) + (size - seen) * np.log((1 - changed) / (1 - kept))
    return np.where((share > 0) & (share < 1), gain, 0.0)


def _normal_gain(z: F64, shift: F64) -> F64:
    """Per day, log L(mean ``shift``) − log L(mean 0) of its standardised value; a skipped day gains nothing."""
    delta = np.nan_to_num(shift)[:, None]
    return np.where(np.isnan(z), 0.0, delta * z - delta**2 / 2)


def _poisson_gain(seen: F64, expected: F64, ratio: F64) -> F64:
    rho = np.clip(np.nan_to_num(ratio, nan=1.0), 0.05, 20.0)[:, None]
    return seen * np.log(rho) - (rho - 1) * expected


_METHODS = {"rate": _rates, "mean": _durations, "quantile": _durations, "count": _counts}


# --- episodes ------------------------------------------------------------------------------------------------


def _statistical(kpi: Kpi, days: _Days, scanned: int, alpha: F64) -> list[Finding]:
    """Alarming days: p < alpha (ALPHA, or ALPHA_EXPLAINED on the days an upstream shift was known), the
    method's trigger, and a change of at least min_effect in the test's direction. For a share the change is
    measured on its rarer side (delivery 99.2 % → 98 %: failures 0.8 % → 2 %, +150 %), so a KPI near 100 % is not
    held to a 15 % fall."""
    effect = days.observed / days.baseline - 1
    alarm = days.fired & (days.p < alpha) & (days.size >= kpi.min_effect) & (np.sign(effect) == days.sign)
    return [_finding(kpi, days, run, "statistical", scanned) for run in _runs(days.day, alarm, days.sign)]


def _alert_lines(kpi: Kpi, days: _Days, scanned: int) -> list[Finding]:
    """The window's value beyond the KPI's absolute line (above ``alert_above`` or below ``alert_below``)."""
    findings = []
    for line, sign in ((kpi.alert_above, 1.0), (kpi.alert_below, -1.0)):
        if line is not None:
            beyond = sign * (days.value - line) > 0
            lined = _Days(days.day, "alert_line", np.full(len(days.day), float(line)), days.value, days.value,
                          np.full(len(days.day), np.nan), np.full(len(days.day), sign), days.day, beyond, days.size)
            findings += [_finding(kpi, lined, run, "alert_line", scanned) for run in _runs(days.day, beyond,
                                                                                            lined.sign)]
    return findings


def _runs(day: I64, alarm: Bools, sign: F64) -> list[I64]:
    """Positions of alarming days, split where more than GAP_DAYS pass without alarm or the direction turns."""
    at = np.flatnonzero(alarm)
    if not at.size:
        return []
    breaks = np.flatnonzero((np.diff(day[at]) > GAP_DAYS + 1) | (np.diff(sign[at]) != 0)) + 1
    return np.split(at, breaks)


def _finding(kpi: Kpi, days: _Days, run: I64, kind: Literal["statistical", "alert_line"],
             scanned: int) -> Finding:
    first, last = int(run[0]), int(days.day[run[-1]])
    p = float(days.p[first])
    return Finding(kpi=kpi.id, kind=kind, method=days.method, direction="up" if days.sign[first] > 0 else "down",
                   started=int(min(days.start[first], days.day[first])), detected=int(days.day[first]), last=last,
                   ended=last + 1 if scanned - last >= QUIET_DAYS else None, baseline=float(days.baseline[first]),
                   observed=float(days.observed[first]),
                   effect=float(days.observed[first] / days.baseline[first] - 1), p_value=None if np.isnan(p) else p)
