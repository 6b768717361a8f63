"""The fact sources a KPI reads, fixed in code: what each offers (dimensions, yes/no columns, measures) and how the
rows read in bulk (``repository``) become numpy columns at once.

A fact belongs to one local day of the company's zone, held as a day number (days since 1970-01-01 local):
``floor((epoch + the zone's offset at that instant) / 86400)``. Dimensions are text ("" when unknown), yes/no columns
booleans, measures float64 (NaN when missing). A yes/no column that records when it happened (``events``) also has
its local day as ``<column>_day`` (float, NaN when it did not happen), which a rate with a horizon counts by.

- ``leads``: one row per lead, on the day it was created. channel is the lead's source; team and rep its owner's;
  client the platform and app version of the first lead-assigned push sent for it ("android 3.2.0"); arm the canary
  arm of its first routing decision that had one.
- ``notifications``: one row per lead-assigned notification on any channel, on the day it was sent (else created);
  team and rep the recipient's.
- ``decisions``: one row per routing decision, on the day it was made; team and rep the chosen rep's.
- ``alerts``: one row per alert, on the day it opened.
- ``stage_exits``: one row per stage a deal left, on the day it left it, with the days it stood there (since the
  change that brought it in, or the deal's creation); team, rep and product line the deal's.
- ``compliance``: one row per stage standard judged, on the day its deadline fell; met when met on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import numpy as np

SECONDS_PER_DAY = 86400
Rows = Sequence[tuple[Any, ...]]


@dataclass(frozen=True)
class Source:
    name: str
    dimensions: tuple[str, ...]
    booleans: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # yes/no columns whose day is known (``<column>_day``)


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("leads", ("channel", "region", "team", "rep", "product_line", "client", "arm"),
           ("converted", "responded"), ("first_response_hours", "score"), ("converted", "responded")),
    Source("notifications", ("channel", "platform", "app_version", "client", "team", "rep"),
           ("delivered", "acknowledged"), ("delivery_minutes", "ack_minutes"), ("delivered", "acknowledged")),
    Source("decisions", ("kind", "pool", "team", "rep", "arm"), ("appealed", "assigned", "held"), ("latency_ms",),
           ("appealed",)),
    Source("alerts", ("rule", "team", "rep"), ("resolved",), (), ("resolved",)),
    Source("stage_exits", ("stage", "team", "rep", "product_line"), (), ("days_in_stage",)),
    Source("compliance", ("stage", "team", "rep"), ("met",)),
)}


@dataclass(frozen=True)
class Facts:
    """One source's rows as columns; ``day`` is each row's local day number."""

    source: str
    day: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.day)

    def take(self, keep: np.ndarray) -> Facts:
        return Facts(self.source, self.day[keep], {k: v[keep] for k, v in self.columns.items()})


# --- days ------------------------------------------------------------------------------------------------------------


def local_days(epoch: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Each instant's local day number in ``zone``. The offset is looked up once per hour the instants fall in; an
    hour whose offset changes inside it (a daylight-saving switch) is looked up instant by instant."""
    epoch = np.asarray(epoch, np.int64)
    if not len(epoch):
        return np.empty(0, np.int64)
    hours, inverse = np.unique(epoch // 3600, return_inverse=True)
    start, end = _offsets(hours * 3600, zone), _offsets(hours * 3600 + 3599, zone)
    offset = start[inverse]
    mixed = (start != end)[inverse]
    if mixed.any():
        offset[mixed] = _offsets(epoch[mixed], zone)
    return (epoch + offset) // SECONDS_PER_DAY


def event_days(epoch: np.ndarray, zone: tzinfo) -> np.ndarray:
    """``local_days`` as float, NaN where the instant is missing (NaN)."""
    out = np.full(len(epoch), np.nan)
    known = ~np.isnan(epoch)
    out[known] = local_days(epoch[known].astype(np.int64), zone)
    return out


def _offsets(moments: np.ndarray, zone: tzinfo) -> np.ndarray:
    return np.array([_offset(m, zone) for m in moments.tolist()], np.int64)


def _offset(moment: int, zone: tzinfo) -> int:
    delta = datetime.fromtimestamp(moment, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


# --- rows to columns -------------------------------------------------------------------------------------------------


def _columns(rows: Rows, width: int) -> list[tuple[Any, ...]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _text(column: Sequence[Any]) -> np.ndarray:
    return np.array([v if v is not None else "" for v in column], dtype=object)


def _number(column: Sequence[Any]) -> np.ndarray:
    """Floats, NaN for a missing value (a NULL from the database)."""
    return np.array(column, dtype=np.float64) if len(column) else np.empty(0)


def _first_of(ids: np.ndarray, pairs: Rows) -> np.ndarray:
    """Per id, the text of its first pair (``pairs`` are (id, text) in the order that decides), else ""."""
    out = np.full(len(ids), "", dtype=object)
    if not pairs or not len(ids):
        return out
    owners = np.array([p[0] for p in pairs], np.int64)
    texts = np.array([p[1] for p in pairs], dtype=object)
    found, first = np.unique(owners, return_index=True)
    at = np.clip(np.searchsorted(found, ids), 0, len(found) - 1)
    hit = found[at] == ids
    out[hit] = texts[first[at[hit]]]
    return out


def client(platform: str | None, version: str | None) -> str:
    """A client as a dimension value: "android 3.2.0", the platform or version alone, or "" when neither is known."""
    return " ".join(p for p in (platform, version) if p)


def leads(rows: Rows, clients: Rows, arms: Rows, zone: tzinfo) -> Facts:
    """``rows``: (id, created, channel, region, team, rep, product line, status, assigned, first response, closed,
    score), times in epoch seconds; ``clients``: (lead id, client) in notification order; ``arms``: (lead id, arm)
    in decision order."""
    (ids, created, channel, region, team, rep, line, status, assigned, responded, closed,
     score) = _columns(rows, 12)
    lead_ids = np.array(ids, np.int64)
    converted = np.array([s == "converted" for s in status], bool)
    response = _number(responded)
    return Facts("leads", local_days(np.array(created, np.int64), zone), {
        "channel": _text(channel), "region": _text(region), "team": _text(team), "rep": _text(rep),
        "product_line": _text(line), "client": _first_of(lead_ids, clients), "arm": _first_of(lead_ids, arms),
        "converted": converted, "responded": ~np.isnan(response),
        "first_response_hours": (response - _number(assigned)) / 3600, "score": _number(score),
        "converted_day": np.where(converted, event_days(_number(closed), zone), np.nan),
        "responded_day": event_days(response, zone)})


def notifications(rows: Rows, zone: tzinfo) -> Facts:
    """``rows``: (day's instant, channel, platform, app version, team, rep, sent, delivered, acknowledged)."""
    at, channel, platform, version, team, rep, sent, delivered, acknowledged = _columns(rows, 9)
    sent_at, delivered_at, ack_at = _number(sent), _number(delivered), _number(acknowledged)
    return Facts("notifications", local_days(np.array(at, np.int64), zone), {
        "channel": _text(channel), "platform": _text(platform), "app_version": _text(version),
        "client": np.array([client(p, v) for p, v in zip(platform, version, strict=True)], dtype=object),
        "team": _text(team), "rep": _text(rep),
        "delivered": ~np.isnan(delivered_at), "acknowledged": ~np.isnan(ack_at),
        "delivery_minutes": (delivered_at - sent_at) / 60, "ack_minutes": (ack_at - sent_at) / 60,
        "delivered_day": event_days(delivered_at, zone), "acknowledged_day": event_days(ack_at, zone)})


def decisions(rows: Rows, zone: tzinfo) -> Facts:
    """``rows``: (made, kind, pool, team, rep, arm, outcome, latency in µs, first appeal)."""
    made, kind, pool, team, rep, arm, outcome, latency, appealed = _columns(rows, 9)
    appeal = _number(appealed)
    return Facts("decisions", local_days(np.array(made, np.int64), zone), {
        "kind": _text(kind), "pool": _text(pool), "team": _text(team), "rep": _text(rep), "arm": _text(arm),
        "appealed": ~np.isnan(appeal), "assigned": np.array([o == "assigned" for o in outcome], bool),
        "held": np.array([o == "held" for o in outcome], bool), "latency_ms": _number(latency) / 1000,
        "appealed_day": event_days(appeal, zone)})


def alerts(rows: Rows, zone: tzinfo) -> Facts:
    """``rows``: (opened, rule, team, rep, status, resolved)."""
    opened, rule, team, rep, status, resolved_at = _columns(rows, 6)
    resolved = np.array([s == "resolved" for s in status], bool)
    return Facts("alerts", local_days(np.array(opened, np.int64), zone), {
        "rule": _text(rule), "team": _text(team), "rep": _text(rep), "resolved": resolved,
        "resolved_day": np.where(resolved, event_days(_number(resolved_at), zone), np.nan)})


def stage_exits(rows: Rows, zone: tzinfo) -> Facts:
    """``rows``: every stage change of some deals, by deal and time: (deal, changed, from stage, team, rep, product
    line, deal created). A change out of a stage is an exit; the stage was entered by the deal's change before it,
    or at the deal's creation."""
    deal, changed, stage, team, rep, line, created = _columns(rows, 7)
    deals, at = np.array(deal, np.int64), np.array(changed, np.int64)
    same = np.zeros(len(deals), bool)
    same[1:] = deals[1:] == deals[:-1]
    entered = np.where(same, np.roll(at, 1), np.array(created, np.int64))
    exits = np.array([s is not None for s in stage], bool)
    facts = Facts("stage_exits", local_days(at, zone), {
        "stage": _text(stage), "team": _text(team), "rep": _text(rep), "product_line": _text(line),
        "days_in_stage": (at - entered) / SECONDS_PER_DAY})
    return facts.take(exits)


def compliance(due: np.ndarray, stage: np.ndarray, team: np.ndarray, rep: np.ndarray, met: np.ndarray,
               zone: tzinfo) -> Facts:
    """Judged stage standards: their deadlines (epoch seconds), stage, team and rep names, and whether met on
    time."""
    return Facts("compliance", local_days(due, zone), {"stage": stage, "team": team, "rep": rep, "met": met})
