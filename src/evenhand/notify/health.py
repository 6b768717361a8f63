"""Monitoring the notifier itself: delivery rate, acknowledgement rate and time to acknowledge, per
channel, per message kind and per client platform and app version — as series for the monitoring board,
and as a check that alerts ops when a rate falls below its threshold.

What is counted: every channel's copy of a message (the in-app inbox only in the per-channel view, where
it is always delivered). A copy counts once it has an outcome — delivered, or failed for good; copies
still on their way or cancelled do not. ``delivery_rate`` = delivered / (delivered + failed);
``ack_rate`` = acknowledged / delivered (of what reached the person, how much they acted on); time to
acknowledge is measured from when the copy was sent. The platform view covers app pushes, the only copies
that know the phone's platform and app version — which is where the source's incident hid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from evenhand.config import Settings
from evenhand.i18n import N_, t
from evenhand.kit.cursor import epoch
from evenhand.models import Channel, Notification, NotificationStatus, User
from evenhand.notify import service
from evenhand.notify.figures import Breach, Figures, Point
from evenhand.notify.policy import policies

Dimension = Literal["channel", "kind", "platform"]
DIMENSIONS: tuple[Dimension, ...] = ("channel", "kind", "platform")
HEALTH_KIND = "notify_health"
_FINAL = {NotificationStatus.DELIVERED.value, NotificationStatus.FAILED.value}


def _epoch(session: Session, column: str) -> Any:
    return epoch(session.connection(), getattr(Notification, column))


def _rows(session: Session, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
    """(created, channel, kind, platform, app_version, status, sent, delivered, acknowledged) with the times
    as epoch seconds, for every copy created in [since, until)."""
    n = Notification
    stmt = select(_epoch(session, "created_at"), n.channel, n.kind, n.platform, n.app_version, n.status,
                  _epoch(session, "sent_at"), _epoch(session, "delivered_at"), _epoch(session, "acknowledged_at")
                  ).where(n.created_at >= since, n.created_at < until)
    return [tuple(r) for r in session.execute(stmt).all()]


def _group(row: tuple[Any, ...], by: Dimension) -> str | None:
    channel = row[1].value if isinstance(row[1], Channel) else str(row[1])
    if by == "channel":
        return channel
    if channel == Channel.IN_APP.value:
        return None
    if by == "kind":
        return str(row[2])
    return f"{row[3]} {row[4] or '?'}" if row[3] else None


def figures(group: str, rows: Iterable[tuple[Any, ...]]) -> Figures:
    """The figures of one group of copies (see the module docstring for what counts)."""
    done = [r for r in rows if (r[5].value if hasattr(r[5], "value") else r[5]) in _FINAL]
    delivered = [r for r in done if r[7] is not None]
    acked = [r for r in delivered if r[8] is not None]
    waits = np.array([r[8] - (r[6] if r[6] is not None else r[0]) for r in acked], dtype=float)
    p50, p90 = (np.percentile(waits, [50, 90]).tolist() if len(waits) else (None, None))
    return Figures(group, len(done), len(delivered), len(done) - len(delivered), len(acked),
                   round(len(delivered) / len(done), 4) if done else None,
                   round(len(acked) / len(delivered), 4) if delivered else None,
                   None if p50 is None else round(p50, 1), None if p90 is None else round(p90, 1))


def window(session: Session, *, since: datetime, until: datetime) -> dict[Dimension, list[Figures]]:
    """Figures per group of each dimension over one window, largest groups first."""
    rows = _rows(session, since, until)
    out: dict[Dimension, list[Figures]] = {}
    for by in DIMENSIONS:
        groups: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            name = _group(row, by)
            if name is not None:
                groups[name].append(row)
        out[by] = sorted((figures(g, rs) for g, rs in groups.items()), key=lambda f: (-f.messages, f.group))
    return out


def delivery(session: Session, *, since: datetime, until: datetime) -> tuple[int, int]:
    """(delivered, with an outcome) of the copies created in [since, until) on every channel but the in-app inbox
    (always delivered): the delivery rate the per-kind view adds up to, counted by the database."""
    n = Notification
    delivered = func.coalesce(func.sum(case((n.delivered_at.is_not(None), 1), else_=0)), 0)
    row = session.execute(select(delivered, func.count()).where(
        n.created_at >= since, n.created_at < until, n.channel != Channel.IN_APP,
        n.status.in_([NotificationStatus(s) for s in sorted(_FINAL)]))).one()
    return int(row[0]), int(row[1])


def series(session: Session, *, by: Dimension, since: datetime, until: datetime, bucket_hours: float = 24,
           offset_hours: float = 8) -> list[Point]:
    """Figures per group and time bucket; buckets start at midnight of ``offset_hours`` (the organisation's
    UTC offset, +8 for Asia/Shanghai) when they are a day long."""
    size = int(bucket_hours * 3600)
    shift = int(offset_hours * 3600)
    cells: dict[tuple[int, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in _rows(session, since, until):
        name = _group(row, by)
        if name is not None:
            cells[((row[0] + shift) // size * size - shift, name)].append(row)
    return [Point(**asdict(figures(name, rows)), bucket=datetime.fromtimestamp(start, UTC))
            for (start, name), rows in sorted(cells.items())]


def breaches(found: dict[Dimension, list[Figures]], settings: Settings) -> list[Breach]:
    """Groups with enough volume whose delivery rate (any dimension) or acknowledgement rate is under its
    threshold. Acknowledgement is judged per kind, and only for kinds that expect one (those with an
    escalation policy): a notice nobody needs to act on is not a failure to act."""
    expect_ack = set(policies(settings.notify_policies))
    out = []
    for by, groups in found.items():
        for f in groups:
            if f.messages < settings.notify_health_min_volume:
                continue
            if f.delivery_rate is not None and f.delivery_rate < settings.notify_min_delivery_rate:
                out.append(Breach(by, f.group, "delivery_rate", f.delivery_rate, settings.notify_min_delivery_rate,
                                  f.messages))
            if by == "kind" and f.group in expect_ack and f.ack_rate is not None \
                    and f.ack_rate < settings.notify_min_ack_rate:
                out.append(Breach(by, f.group, "ack_rate", f.ack_rate, settings.notify_min_ack_rate, f.delivered))
    return out


METRICS = {"delivery_rate": N_("delivery rate"), "ack_rate": N_("acknowledgement rate")}


def check(session: Session, now: datetime, settings: Settings) -> list[Breach]:
    """The periodic check: alert ops about each breach in the trailing window, once per group and window."""
    since = now - timedelta(hours=settings.notify_health_window_hours)
    found = breaches(window(session, since=since, until=now), settings)
    slot = int(now.timestamp() // (settings.notify_health_window_hours * 3600))
    for b in found:
        for ops in service.ops_ids(session):
            locale = session.scalar(select(User.locale).where(User.id == ops))
            service.send(session, recipient_id=ops, kind=HEALTH_KIND, link="/notifications/ops",
                         title=N_("Notifications: {metric} of {group} is {value}%"),
                         body=N_("Below the {threshold}% threshold over the last {hours} hours ({count} messages)."),
                         key=f"{HEALTH_KIND}:{b.dimension}:{b.group}:{b.metric}:{slot}:{ops}"[:80],
                         metric=t(METRICS[b.metric], locale), group=b.group, value=round(100 * b.value, 1),
                         threshold=round(100 * b.threshold, 1), hours=settings.notify_health_window_hours,
                         count=b.messages)
    return found
