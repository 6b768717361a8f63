"""Notifications to reps: app push on whatever app version each phone runs, SMS once the fallback exists.

Whether a push arrives depends only on the phone's platform and app version at the moment it is
sent (see :mod:`evenhand.demo.changes`); once the SMS fallback is on, a push without a delivery
receipt within a few minutes is followed by the same message as SMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.changes import PUSH_FAILURE_BASE, PUSH_FAILURE_BUG, ChangePlan
from evenhand.demo.org import Traits
from evenhand.demo.records import Table, concat
from evenhand.demo.worktime import DAY

I64 = NDArray[np.int64]
SMS_FAILURE = 0.005
NOTIFICATION_TIMES = ("sent_at", "delivered_at", "acknowledged_at", "created_at")


@dataclass(frozen=True)
class Sent:
    """One notification per row: what it is about and when it left the server."""

    kind: str
    lead_id: I64
    step: int
    recipient: I64
    at: I64


@dataclass(frozen=True)
class Delivery:
    push_ok: NDArray[np.bool_]
    push_delivered: I64
    version: NDArray[np.str_]
    sms: NDArray[np.bool_]  # a fallback SMS was sent
    sms_sent: I64
    sms_delivered: I64
    seen: I64  # when the phone showed it, by push or SMS; -1 if never


def deliver(sent: Sent, traits: Traits, plan: ChangePlan, rng: np.random.Generator) -> Delivery:
    n = len(sent.at)
    releases = plan.releases
    adopt = np.array([r.at for r in releases])[None, :] + (traits.update_lag[sent.recipient] * DAY)[:, None]
    idx = np.maximum((adopt <= sent.at[:, None]).sum(axis=1) - 1, 0)
    buggy = np.array([r.android_push_bug for r in releases])[idx] & traits.android[sent.recipient]
    push_ok = rng.random(n) >= np.where(buggy, PUSH_FAILURE_BUG, PUSH_FAILURE_BASE)
    delivered = np.where(push_ok, sent.at + rng.integers(1, 6, n), -1)
    fallback_at = plan.sms_fallback_at
    sms = ~push_ok & (fallback_at is not None) & (sent.at >= (fallback_at or 0))
    sms_sent = np.where(sms, sent.at + rng.integers(120, 300, n), -1)
    sms_delivered = np.where(sms & (rng.random(n) >= SMS_FAILURE), sms_sent + rng.integers(2, 12, n), -1)
    seen = np.where(push_ok, delivered, sms_delivered)
    version = np.array([r.version for r in releases])[idx]
    return Delivery(push_ok, delivered, version, sms, sms_sent, sms_delivered, seen)


def notification_table(sent: Sent, d: Delivery, acked: I64, traits: Traits, now: int) -> Table:
    """Rows for the push notifications and, where one went out, their SMS fallbacks."""
    platform = np.where(traits.android[sent.recipient], "android", "ios")
    push = _rows(sent, "app_push", platform, d.version, sent.at, d.push_delivered, acked, now, "push")
    sms_idx = np.flatnonzero(d.sms)
    sub = Sent(sent.kind, sent.lead_id[sms_idx], sent.step, sent.recipient[sms_idx], d.sms_sent[sms_idx])
    none = np.full(len(sms_idx), None, dtype=object)
    sms = _rows(sub, "sms", none, none, sub.at, d.sms_delivered[sms_idx], np.full(len(sms_idx), -1), now, "sms")
    return concat("notifications", [push, sms])


def _rows(sent: Sent, channel: str, platform: NDArray[np.object_] | NDArray[np.str_],
          version: NDArray[np.object_] | NDArray[np.str_], at: I64, delivered: I64, acked: I64, now: int,
          suffix: str) -> Table:
    keep = at <= now
    delivered = np.where(delivered <= now, delivered, -1)
    status = np.where(delivered >= 0, "delivered", np.where(at > now - 600, "sent", "failed"))
    keys = [f"{sent.kind}:{lead}:{sent.step}:{suffix}" for lead in sent.lead_id[keep].tolist()]
    cols = {
        "kind": [sent.kind] * int(keep.sum()), "recipient_id": sent.recipient[keep], "lead_id": sent.lead_id[keep],
        "channel": [channel] * int(keep.sum()), "platform": np.asarray(platform)[keep].tolist(),
        "app_version": np.asarray(version)[keep].tolist(), "status": status[keep].tolist(),
        "idempotency_key": keys, "sent_at": at[keep], "delivered_at": delivered[keep],
        "acknowledged_at": np.where(acked <= now, acked, -1)[keep], "created_at": at[keep],
    }
    return Table("notifications", cols, NOTIFICATION_TIMES)
