"""The worker's side of the outbox: claim due deliveries, and record what each channel answered.

A claim is a short transaction. On PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED``,
so concurrent workers take disjoint rows; on SQLite the claim holds the database's write lock. Either way
a claimed row carries ``claimed_by`` and a lease (``claimed_until``): nobody else touches it until the
lease runs out, which happens only if its worker died — then the next claimant sends it again, under
the same idempotency key and with the same content. Every attempt is a row in ``notify_attempts``, written
with its answer (or, for a worker that died mid-send, as ``lost`` by the next claimant).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, String, Table, bindparam, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.i18n import N_, t
from evenhand.models import DeliveryAttempt, Lead, Notification, NotificationStatus, User
from evenhand.notify import preferences, wakeup
from evenhand.notify.channels import Envelope, Outcome
from evenhand.notify.policy import Due, backoff, digest_key, group, within_budget
from evenhand.notify.service import LEAD_ASSIGNED, escalate_now


def cast_table(model: Any) -> Table:
    table: Table = model.__table__
    return table


OWNER_KINDS = frozenset({LEAD_ASSIGNED})  # about a lead its recipient owns; moot once the lead moves on
ALIVE = (NotificationStatus.PENDING, NotificationStatus.SENT, NotificationStatus.DELIVERED)
N = cast_table(Notification)
A = cast_table(DeliveryAttempt)


@dataclass(frozen=True)
class Claimed:
    id: int
    message_id: int | None
    step: int
    attempts: int  # including the one now starting
    target_key: str | None = None
    digest_key: str | None = None


@dataclass(frozen=True)
class Send:
    envelope: Envelope
    rows: tuple[Claimed, ...]


@dataclass(frozen=True)
class Batch:
    sends: list[Send]
    cancelled: int = 0
    deferred: int = 0


def has_due(engine: Engine, now: datetime) -> bool:
    """A read-only look, so an idle worker never takes SQLite's write lock."""
    with session_scope(engine, readonly=True) as session:
        return session.scalar(_due_query(now).with_only_columns(Notification.id).limit(1)) is not None


def _due_query(now: datetime) -> Select[Notification]:
    return select(Notification).where(
        Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= now,
        Notification.target.is_not(None),
        (Notification.claimed_until.is_(None)) | (Notification.claimed_until < now))


def claim(engine: Engine, *, worker: str, now: datetime, settings: Settings, limit: int | None = None) -> Batch:
    """Up to ``limit`` (default: the batch size) due deliveries, leased to ``worker``, grouped into sends."""
    with session_scope(engine) as session:
        stmt = _due_query(now).order_by(Notification.next_attempt_at, Notification.id).limit(
            limit or settings.notify_batch_size)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        live, cancelled = _drop_moot(session, rows, now)
        limits = preferences.rate_limits(session, [(r.target_key or "", r.channel, r.endpoint_id) for r in live])
        groups = group([Due(r.id, r.recipient_id, r.target_key or "", r.digest_key) for r in live], set(limits))
        used, oldest = _sent_last_minute(session, list(limits), now)
        go, wait = within_budget(groups, {k: limits[k] - used.get(k, 0) for k in limits})
        _defer(session, wait, oldest, now)
        by_id = {r.id: r for r in live}
        sends = _take(session, [[by_id[d.id] for d in g] for g in go], worker, now, settings)
    return Batch(sends, cancelled, sum(len(g) for g in wait))


def _drop_moot(session: Session, rows: list[Notification], now: datetime) -> tuple[list[Notification], int]:
    """Cancel deliveries whose message was acknowledged, or whose lead has since gone to someone else."""
    acked = set(session.scalars(select(Notification.id).where(
        Notification.id.in_({r.message_id for r in rows if r.message_id}), Notification.acknowledged_at.is_not(None))))
    leads = {r.lead_id for r in rows if r.kind in OWNER_KINDS and r.lead_id}
    owners = dict(session.execute(select(Lead.id, Lead.owner_id).where(Lead.id.in_(leads))).all())
    moot = [r.id for r in rows if r.message_id in acked
            or (r.kind in OWNER_KINDS and r.lead_id and owners.get(r.lead_id) != r.recipient_id)]
    if moot:
        session.execute(update(Notification).where(Notification.id.in_(moot)).values(
            status=NotificationStatus.CANCELLED, next_attempt_at=None))
    return [r for r in rows if r.id not in set(moot)], len(moot)


def _sent_last_minute(session: Session, keys: list[str], now: datetime) -> tuple[dict[str, int], dict[str, datetime]]:
    if not keys:
        return {}, {}
    # A digest is one send however many rows it carried.
    sends = func.coalesce(DeliveryAttempt.digest_key, cast(DeliveryAttempt.notification_id, String(20)))
    rows = session.execute(select(DeliveryAttempt.target_key, func.count(func.distinct(sends)),
                                  func.min(DeliveryAttempt.started_at)).where(
        DeliveryAttempt.target_key.in_(keys), DeliveryAttempt.started_at > now - timedelta(minutes=1))
        .group_by(DeliveryAttempt.target_key)).all()
    return {k: n for k, n, _ in rows if k}, {k: first for k, _, first in rows if k}


def _defer(session: Session, wait: list[list[Due]], oldest: dict[str, datetime], now: datetime) -> None:
    """Over a target's rate: wait until its oldest send this minute leaves the window. Nothing is dropped;
    when the target frees up, everything waiting for one recipient goes as one digest."""
    for g in wait:
        start = oldest.get(g[0].target_key, now)
        session.execute(update(Notification).where(Notification.id.in_([d.id for d in g])).values(
            next_attempt_at=max(start + timedelta(minutes=1), now + timedelta(seconds=1))))


def _take(session: Session, groups: list[list[Notification]], worker: str, now: datetime,
          settings: Settings) -> list[Send]:
    ids = [r.id for g in groups for r in g]
    if not ids:
        return []
    lease = now + timedelta(seconds=settings.notify_lease_seconds)
    # The loaded rows keep the values read before the claim (numbers below count from them).
    session.execute(update(Notification).where(Notification.id.in_(ids)).values(
        claimed_by=worker, claimed_until=lease, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False))
    _lost(session, [r for g in groups for r in g if r.claimed_by is not None], now, settings)
    locales = dict(session.execute(select(User.id, User.locale).where(
        User.id.in_({g[0].recipient_id for g in groups if len(g) > 1}))).all())
    sends = []
    for rows in groups:
        key = rows[0].digest_key or (digest_key(r.id for r in rows) if len(rows) > 1 else None)
        if key and len(rows) > 1:
            session.execute(update(Notification).where(Notification.id.in_([r.id for r in rows])).values(
                digest_key=key))
        group_key = key if len(rows) > 1 else None
        sends.append(Send(_envelope(rows, key, locales.get(rows[0].recipient_id), settings.public_url),
                          tuple(Claimed(r.id, r.message_id, r.escalation_step, r.attempts + 1, r.target_key,
                                        group_key) for r in rows)))
    return sends


def _lost(session: Session, rows: list[Notification], now: datetime, settings: Settings) -> None:
    """Rows still claimed when their lease ran out: their worker died mid-send. Their attempt is recorded
    as ``lost`` (its start is known only to within the lease) before they are sent again."""
    if rows:
        lease = timedelta(seconds=settings.notify_lease_seconds)
        _insert_attempts(session, [{
            "notification_id": r.id, "number": r.attempts, "worker": r.claimed_by, "target_key": r.target_key,
            "digest_key": r.digest_key, "started_at": (r.claimed_until or now) - lease, "finished_at": now,
            "outcome": "lost", "error": None} for r in rows])


def _insert_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Attempt rows; one already on record (a worker whose lease was taken over, answering late) is kept."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(A) if dialect == "postgresql" else sqlite.insert(A)).on_conflict_do_nothing()
    session.connection().execute(stmt, rows)


def _absolute(link: str | None, base: str) -> str | None:
    return f"{base.rstrip('/')}{link}" if link and base and link.startswith("/") else link


def _envelope(rows: list[Notification], key: str | None, locale: str | None, base: str) -> Envelope:
    """One message as it was written; several for one recipient as a digest listing each (oldest first)."""
    first = rows[0]
    assert first.target is not None
    if len(rows) == 1:
        link = _absolute(first.link, base)
        body = "\n".join(x for x in (first.body, link) if x) or first.title  # channels refuse an empty body
        return Envelope(first.target, first.title, body, first.idempotency_key, first.kind, link)
    items = sorted(rows, key=lambda r: r.id)
    body = "\n\n".join("\n".join(x for x in (f"• {r.title}", r.body, _absolute(r.link, base)) if x) for r in items)
    assert key is not None
    return Envelope(first.target, t(N_("{count} notifications"), locale, count=len(items)), body, key, "digest",
                    members=tuple(r.idempotency_key for r in items))


def record(engine: Engine, *, worker: str, results: Sequence[tuple[Send, Outcome, datetime, datetime]],
           settings: Settings, rng: random.Random | None = None) -> tuple[int, int]:
    """Write each answer: delivered; or failed for good after the last attempt or an answer no retry can change
    (a refused address), bringing the next escalation
    step forward when nothing else of that step is still on its way); or retried after a backoff.
    Only rows this worker still holds are updated. Returns (delivered, failed for good)."""
    done, retry, dead, attempts = [], [], [], []
    for send, outcome, started, finished in results:
        for row in send.rows:
            attempts.append({"notification_id": row.id, "number": row.attempts, "worker": worker,
                             "target_key": row.target_key, "digest_key": row.digest_key, "started_at": started,
                             "finished_at": finished, "outcome": "ok" if outcome.ok else "error",
                             "error": outcome.error})
            if outcome.ok:
                done.append({"_id": row.id, "_sent": started, "_at": finished})
            elif outcome.permanent or exhausted(row.attempts, settings.notify_max_attempts):
                dead.append({"_id": row.id, "_err": outcome.error})
            else:
                wait = backoff(row.attempts, base=settings.notify_backoff_base_seconds,
                               cap=settings.notify_backoff_max_seconds, rng=rng)
                retry.append({"_id": row.id, "_err": outcome.error, "_at": finished + timedelta(seconds=wait)})
    mine = (N.c.id == bindparam("_id")) & (N.c.claimed_by == worker)
    free = {"claimed_by": None, "claimed_until": None}
    with session_scope(engine) as session:
        _many(session, update(N).where(mine).values(
            status=NotificationStatus.DELIVERED, sent_at=bindparam("_sent"), delivered_at=bindparam("_at"),
            next_attempt_at=None, last_error=None, **free), done)
        _many(session, update(N).where(mine).values(
            status=NotificationStatus.FAILED, next_attempt_at=None, last_error=bindparam("_err"), **free), dead)
        _many(session, update(N).where(mine).values(
            next_attempt_at=bindparam("_at"), last_error=bindparam("_err"), **free), retry)
        _insert_attempts(session, attempts)
        dead_ids = {d["_id"] for d in dead}
        failed = [row for send, _, _, _ in results for row in send.rows if row.id in dead_ids]
        _escalate_exhausted(session, failed, max((f for _, _, _, f in results), default=None))
    return len(done), len(dead)


def exhausted(attempts: int, most: int) -> bool:
    """Out of attempts. Counted in rounds of ``most``: a dead letter retried by ops gets a fresh round while its
    attempt numbers keep rising (every attempt stays on record)."""
    return attempts >= 1 and attempts % most == 0


def _many(session: Session, stmt: Any, params: Sequence[Mapping[str, Any]]) -> None:
    if params:
        session.connection().execute(stmt, list(params))


def _escalate_exhausted(session: Session, failed: list[Claimed], now: datetime | None) -> None:
    """A message whose current step has nothing left on its way escalates now, not at its deadline."""
    messages = {r.message_id: r.step for r in failed if r.message_id}
    if not messages or now is None:
        return
    steps = dict(session.execute(select(Notification.id, Notification.escalation_step)
                                 .where(Notification.id.in_(messages))).all())
    alive = {(m, s) for m, s in session.execute(select(Notification.message_id, Notification.escalation_step).where(
        Notification.message_id.in_(messages), Notification.status.in_(ALIVE)))}
    ready = [m for m, step in messages.items() if steps.get(m) == step and (m, step) not in alive]
    if ready:
        escalate_now(session, ready, now)


def retry_message(session: Session, message_id: int, now: datetime, *, most: int) -> int:
    """Put a dead letter's failed deliveries back in the outbox (same keys, fresh attempts), re-reading the
    person's channels so a corrected URL or phone number is used."""
    rows = list(session.scalars(select(Notification).where(
        Notification.message_id == message_id, Notification.status == NotificationStatus.FAILED)))
    recipient = session.get(User, rows[0].recipient_id) if rows else None
    current = {tg.channel: tg for tg in preferences.targets_for(session, recipient, channels=[r.channel for r in rows])
               } if recipient else {}
    for row in rows:
        target = current.get(row.channel)
        if target is not None and target.url:
            row.target, row.target_key, row.endpoint_id = target.url, target.key, target.endpoint_id
        if row.target:
            row.status, row.next_attempt_at, row.digest_key = NotificationStatus.PENDING, now, None
            # A fresh round of attempts (see ``exhausted``).
            row.attempts = -(-row.attempts // most) * most if row.attempts else 0
    session.flush()
    return sum(1 for r in rows if r.status is NotificationStatus.PENDING)


def dead_letters(session: Session, *, limit: int = 200, only: int | None = None
                 ) -> list[tuple[Notification, list[Notification]]]:
    """Messages that exhausted every channel: something failed for good, nothing is still on its way or
    delivered, and nobody acknowledged them. Newest first, each with its deliveries."""
    failed = select(Notification.message_id).where(Notification.status == NotificationStatus.FAILED,
                                                   Notification.message_id.is_not(None))
    alive = select(Notification.message_id).where(Notification.status.in_(ALIVE),
                                                  Notification.message_id.is_not(None))
    stmt = select(Notification).where(Notification.id.in_(failed), Notification.id.not_in(alive),
                                      Notification.acknowledged_at.is_(None))
    if only is not None:
        stmt = stmt.where(Notification.id == only)
    messages = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))
    rows: Sequence[Notification] = session.scalars(select(Notification).where(
        Notification.message_id.in_([m.id for m in messages])).order_by(Notification.id)).all() if messages else []
    by_message: dict[int, list[Notification]] = {}
    for row in rows:
        by_message.setdefault(row.message_id or 0, []).append(row)
    return [(m, by_message.get(m.id, [])) for m in messages]


def dead_letters_named(session: Session, *, limit: int) -> list[tuple[Notification, list[Notification], str]]:
    """``dead_letters``, each with its recipient's display name."""
    found = dead_letters(session, limit=limit)
    names = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({m.recipient_id for m, _ in found}))).tuples().all())
    return [(message, rows, names.get(message.recipient_id, "")) for message, rows in found]


def retry(session: Session, message_id: int, *, actor_id: int | None, most: int) -> int:
    """Ops retries a dead letter; audited. Refused for a message that is not (or no longer) a dead letter."""
    from evenhand.errors import Conflict
    from evenhand.kit import audit
    from evenhand.kit.clock import utcnow

    if not dead_letters(session, limit=1, only=message_id):
        raise Conflict("Notification {id} is not a dead letter (it is delivered, acknowledged or still on its way).",
                       field="message_id", id=message_id)
    count = retry_message(session, message_id, utcnow(), most=most)
    audit.append(session, action="notify.retried", subject_type="notifications", subject_id=message_id,
                 actor_id=actor_id, payload={"deliveries": count})
    wakeup.after_commit(session)
    return count
