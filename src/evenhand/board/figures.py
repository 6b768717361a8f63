"""The process board's figures, computed from whole columns (numpy) as the tables stood at a moment.

A deal's history is a run of *visits*: each stage change starts one, the deal's next change ends it (the last is
still open). Over a window [since, until) seen at ``as_of`` (the window's end, or now when that is earlier), only
what had happened by ``as_of`` counts, so a past period's figures are what the board showed when it closed.

- **Time in stage**: every visit of an open stage that *ended* in the window counts, each visit on its own (a deal
  that went back to a stage and left it again contributes two times).
- **Conversion** stage → on: the deals that entered the stage in the window (once each, from their first entry
  there); *advanced* are those that reached any later stage by ``as_of`` (a stage skipped counts as passed; a deal
  that skipped this stage is not among its entries); *lost* went to lost without advancing; the rest are *open*.
- **Stuck**: the deals open at ``as_of``, by their stage and how long since they last entered it.
- **Lead-to-won cycle**: deals won in the window, from their lead's arrival (the deal's creation when it came from
  no lead) to the win.
- **First response**: leads assigned in the window, from the assignment to the owner's first captured outbound
  contact (none by ``as_of``: not responded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

STAGES = ("qualification", "needs_analysis", "proposal", "negotiation", "won", "lost")
OPEN = 4  # codes below are open stages, in the order a deal moves through them; won is 4 and lost 5
WON, LOST = 4, 5
DAY, HOUR = 86400.0, 3600.0
STUCK_DAYS = (7, 14, 30, 60)  # bucket edges: [0, 7), [7, 14), [14, 30), [30, 60), 60 days and more
RESPONSE_HOURS = (1, 4, 24, 48, 168)  # bucket edges: under an hour … a week and more; then "none yet"


@dataclass(frozen=True)
class Deals:
    """One row per deal; -1 where a key or a time is missing. Times are epoch seconds."""

    id: np.ndarray
    owner: np.ndarray
    team: np.ndarray
    started: np.ndarray  # the lead's arrival, else the deal's creation: where its cycle starts (never missing)


@dataclass(frozen=True)
class Visits:
    """One row per stage change, grouped by deal and in time order within it; ``deal`` indexes ``Deals``."""

    deal: np.ndarray
    stage: np.ndarray
    start: np.ndarray
    end: np.ndarray  # the deal's next change, -1 for its last

    @classmethod
    def of(cls, deal: np.ndarray, stage: np.ndarray, start: np.ndarray) -> Visits:
        end = np.full(len(deal), -1, dtype=np.int64)
        if len(deal) > 1:
            same = deal[1:] == deal[:-1]
            end[:-1] = np.where(same, start[1:], -1)
        return cls(deal, stage, start, end)


@dataclass(frozen=True)
class Leads:
    id: np.ndarray
    owner: np.ndarray
    team: np.ndarray
    assigned: np.ndarray
    responded: np.ndarray  # the owner's first captured outbound contact since the assignment, -1 for none


@dataclass(frozen=True)
class Window:
    since: int
    until: int
    as_of: int  # min(until, now)


def _known(v: Visits, w: Window) -> np.ndarray:
    """The visits that had begun by ``as_of``, with their ends as known then (-1: still open)."""
    return v.start < w.as_of


def ended_visits(v: Visits, w: Window) -> np.ndarray:
    """Visits of an open stage that ended in the window."""
    return (v.stage < OPEN) & (v.end >= w.since) & (v.end < w.as_of) & _known(v, w)


def entries(v: Visits, w: Window, stage: int, n_deals: int) -> tuple[np.ndarray, np.ndarray]:
    """Per deal, its first entry into ``stage`` in the window (-1: none), and its outcome as of ``as_of``:
    0 open, 1 advanced (reached a later stage), 2 lost."""
    never = np.iinfo(np.int64).max
    first = np.full(n_deals, never, dtype=np.int64)
    into = (v.stage == stage) & (v.start >= w.since) & _known(v, w)
    np.minimum.at(first, v.deal[into], v.start[into])
    first[first == never] = -1
    outcome = np.zeros(n_deals, dtype=np.int8)
    for code, wanted in ((2, v.stage == LOST), (1, (v.stage > stage) & (v.stage <= WON))):
        latest = np.full(n_deals, -1, dtype=np.int64)
        later = wanted & _known(v, w)
        np.maximum.at(latest, v.deal[later], v.start[later])
        outcome[(first >= 0) & (latest > first)] = code  # advanced overrides lost: it is written last
    return first, outcome


def current_visits(v: Visits, w: Window, n_deals: int) -> np.ndarray:
    """Per deal, the index of the visit it stood in at ``as_of`` (-1: not yet created)."""
    known = np.flatnonzero(_known(v, w))
    last = np.full(n_deals, -1, dtype=np.int64)
    np.maximum.at(last, v.deal[known], known)  # visits are in time order within a deal
    return last


def stuck_rows(v: Visits, w: Window, n_deals: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The deals open at ``as_of``: their indices, stages, days since they last entered it, and bucket."""
    last = current_visits(v, w, n_deals)
    deals = np.flatnonzero(last >= 0)
    visit = last[deals]
    open_ = v.stage[visit] < OPEN
    deals, visit = deals[open_], visit[open_]
    days = (w.as_of - v.start[visit]) / DAY
    return deals, v.stage[visit], days, np.searchsorted(np.array(STUCK_DAYS, dtype=float), days, side="right")


def response_rows(leads: Leads, w: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leads assigned in the window: their indices, hours to the first response (NaN: none by ``as_of``) and
    bucket (the last bucket: none)."""
    chosen = np.flatnonzero((leads.assigned >= w.since) & (leads.assigned < w.as_of))
    answered = leads.responded[chosen]
    hours = (answered - leads.assigned[chosen]) / HOUR
    none = (answered < 0) | (answered >= w.as_of)
    hours[none] = np.nan
    bucket = np.searchsorted(np.array(RESPONSE_HOURS, dtype=float), np.nan_to_num(hours), side="right")
    bucket[none] = len(RESPONSE_HOURS) + 1
    return chosen, hours, bucket


@dataclass(frozen=True)
class Facts:
    """Everything one window's figures are read from, computed once for every deal and lead; a group's figures
    (a team, a rep) are these facts under a mask."""

    ended: np.ndarray  # visit indices: visits of an open stage that ended in the window
    entry: list[tuple[np.ndarray, np.ndarray]]  # per open stage: first entry, outcome (see ``entries``)
    stuck: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    won: np.ndarray  # visit indices: wins in the window whose cycle is known
    cycle_days: np.ndarray
    response: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def of(cls, d: Deals, v: Visits, leads: Leads, w: Window) -> Facts:
        n = len(d.id)
        won = np.flatnonzero((v.stage == WON) & (v.start >= w.since) & _known(v, w))
        days = (v.start[won] - d.started[v.deal[won]]) / DAY
        known = days >= 0  # a lead recorded after the win tells no cycle
        return cls(np.flatnonzero(ended_visits(v, w)), [entries(v, w, s, n) for s in range(OPEN)],
                   stuck_rows(v, w, n), won[known], days[known], response_rows(leads, w))


def block(v: Visits, f: Facts, deal_mask: np.ndarray, lead_mask: np.ndarray) -> dict[str, Any]:
    """Every figure of one window for the deals and leads in the masks."""
    return blocks(v, f, np.where(deal_mask, 0, -1), np.where(lead_mask, 0, -1), 1)[0]


def blocks(v: Visits, f: Facts, deal_group: np.ndarray, lead_group: np.ndarray, groups: int) -> list[dict[str, Any]]:
    """Every figure of one window for each of ``groups`` groups at once: ``deal_group`` and ``lead_group`` give each
    deal's and lead's group (0 … groups - 1; -1 in none). One pass over the rows whatever the number of groups."""
    ended = f.ended
    times = _grouped_stats(deal_group[v.deal[ended]] * OPEN + v.stage[ended], v.end[ended] - v.start[ended],
                           groups * OPEN, DAY)
    deals, stage, _, bucket = f.stuck
    buckets = len(STUCK_DAYS) + 1
    stuck = _counts(deal_group[deals] * OPEN * buckets + stage * buckets + bucket, groups * OPEN * buckets)
    conversion = [_conversions(first, outcome, deal_group, groups) for first, outcome in f.entry]
    cycle = _grouped_stats(deal_group[v.deal[f.won]], f.cycle_days * DAY, groups, DAY)
    leads, hours, answer = f.response
    group = lead_group[leads]
    answered = ~np.isnan(hours)
    response = _grouped_stats(np.where(answered, group, -1), np.nan_to_num(hours) * HOUR, groups, HOUR)
    width = len(RESPONSE_HOURS) + 2
    received, spread = _counts(group, groups), _counts(group * width + answer, groups * width)
    return [{"time_in_stage": {STAGES[s]: times[g * OPEN + s] for s in range(OPEN)},
             "conversion": {STAGES[s]: conversion[s][g] for s in range(OPEN)},
             "stuck": {STAGES[s]: stuck[(g * OPEN + s) * buckets:(g * OPEN + s + 1) * buckets] for s in range(OPEN)},
             "cycle": cycle[g],
             "first_response": {"leads": received[g], **response[g], "buckets": spread[g * width:(g + 1) * width]}}
            for g in range(groups)]


def _counts(keys: np.ndarray, size: int) -> list[int]:
    """How many of ``keys`` fall on each of 0 … size - 1 (negative keys: in no group)."""
    return np.bincount(keys[keys >= 0], minlength=size).tolist() if size else []


def _grouped_stats(keys: np.ndarray, values: np.ndarray, size: int, unit: float) -> list[dict[str, Any]]:
    """How many values each key 0 … size - 1 has, and their median and 90th percentile in ``unit``, from one sort
    (negative keys: in no group)."""
    kept = keys >= 0
    keys, values = keys[kept], values[kept]
    order = np.lexsort((values, keys))
    ordered = values[order] / unit
    counts = np.bincount(keys, minlength=size)
    starts = np.cumsum(counts) - counts
    found = [_segment(ordered, starts, counts, q) for q in (0.5, 0.9)]
    return [{"count": int(n), "median": round(float(found[0][i]), 2) if n else None,
             "p90": round(float(found[1][i]), 2) if n else None} for i, n in enumerate(counts.tolist())]


def _segment(ordered: np.ndarray, starts: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile of each sorted run ``ordered[start:start + count]`` (as ``np.percentile``'s default)."""
    at = np.maximum(counts - 1, 0) * q
    low = np.floor(at).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(counts - 1, 0))
    if not len(ordered):
        return np.zeros(len(counts))
    first, second = ordered[np.minimum(starts + low, len(ordered) - 1)], ordered[np.minimum(starts + high,
                                                                                           len(ordered) - 1)]
    return first + (second - first) * (at - low)


def _conversions(first: np.ndarray, outcome: np.ndarray, deal_group: np.ndarray, groups: int) -> list[dict[str, Any]]:
    entered = (first >= 0) & (deal_group >= 0)
    total = _counts(deal_group[entered], groups)
    by = [_counts(deal_group[entered & (outcome == c)], groups) for c in (0, 1, 2)]
    return [{"entered": total[g], "advanced": by[1][g], "lost": by[2][g], "open": by[0][g],
             "rate": round(by[1][g] / total[g], 4) if total[g] else None} for g in range(groups)]
