"""What every connector keeps besides the activities it captures: the events it took (replay refusal) and its
health (events taken, requests refused, the last refusal).

- ``first_time`` records a receipt for a (connector, event key) and says whether it is the first: a platform
  delivering the same event again, or someone replaying a request they saw, stores nothing the second time.
- ``took`` counts taken events in the caller's transaction, so a request rolled back counts nothing.
- ``refused`` counts a refused request in a transaction of its own, so the refusal is counted although the
  request stores nothing. Webhooks get it by ``watch(connector)``, a dependency that records every refusal of
  the handler (a domain error or a malformed request) and lets it through unchanged.
- An event whose id starts with ``evenhand-test-`` (``is_test``) is a test event (the connectors page's "send
  test event"): answered and counted like a real one, it stores no activity.
- Receipts older than ``keep_receipts`` are pruned by the worker (``capture.tasks``): a request that old is
  refused as stale by its signed timestamp anyway, and the activities' own key ``(source_system, external_id)``
  still keeps a record from being stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.kit.clock import utcnow
from evenhand.kit.once import get_or_create
from evenhand.models import CaptureReceipt, ConnectorStatus, User

log = logging.getLogger(__name__)
TEST_PREFIX = "evenhand-test-"
KEY_LENGTH = 200  # CaptureReceipt.event_key
ERROR_LENGTH = 500  # ConnectorStatus.last_error
_STATUS = cast(Table, ConnectorStatus.__table__)
_RECEIPTS = cast(Table, CaptureReceipt.__table__)
RECEIPTS_PER_INSERT = 500  # three values a row: well under SQLite's limit of bound values per statement
MIN_KEEP = timedelta(days=1)  # platforms retry for hours (Graph up to 4 h); receipts outlive their retries


def is_test(event_id: str | None) -> bool:
    """Whether an event is a test event (sent by ``evenhand capture test`` or the connectors page)."""
    return bool(event_id) and str(event_id).startswith(TEST_PREFIX)


def first_time(session: Session, connector: str, key: str) -> bool:
    """Record that ``connector`` took the event ``key``; False when it was taken before (a replay)."""
    return bool(first_times(session, connector, [key]))


def first_times(session: Session, connector: str, keys: Sequence[str]) -> set[str]:
    """Record receipts for many events at once; the keys taken now for the first time (a key repeated in ``keys``
    counts once). Race-safe: ``INSERT … ON CONFLICT DO NOTHING`` waits on PostgreSQL for a concurrent insert of the
    same key and then inserts nothing, and SQLite's writers take turns."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now, fresh = utcnow(), set[str]()
    wanted = list(dict.fromkeys(key[:KEY_LENGTH] for key in keys))
    for start in range(0, len(wanted), RECEIPTS_PER_INSERT):
        values = [{"connector": connector, "event_key": key, "received_at": now}
                  for key in wanted[start:start + RECEIPTS_PER_INSERT]]
        stmt = dialect.insert(_RECEIPTS).values(values).on_conflict_do_nothing(
            index_elements=["connector", "event_key"]).returning(_RECEIPTS.c.event_key)
        fresh.update(session.execute(stmt).scalars())
    return {key for key in keys if key[:KEY_LENGTH] in fresh}


def took(session: Session, connector: str, count: int = 1) -> None:
    """Count ``count`` events taken by ``connector``, in the caller's transaction (one UPDATE adding to the
    stored count, so concurrent requests never lose one another's)."""
    if count > 0:
        _add(session, connector, events=_STATUS.c.events + count, last_event_at=utcnow())


def refused(engine: Engine, connector: str, message: str) -> None:
    """Count a refused request of ``connector`` with its reason (English), in a short transaction of its own.
    Never raises: a refusal that cannot be counted is logged, and the request is refused all the same."""
    try:
        with session_scope(engine) as session:
            _add(session, connector, errors=_STATUS.c.errors + 1, last_error_at=utcnow(),
                 last_error=message[:ERROR_LENGTH])
    except Exception:  # the refusal is what the caller answers; counting it is secondary
        log.exception("could not count a refusal of %s", connector)


def _add(session: Session, connector: str, **values: Any) -> None:
    """Update the connector's row, creating it first when this is its first event or refusal."""
    stmt = update(_STATUS).where(_STATUS.c.connector == connector).values(**values)
    result: Any = session.execute(stmt)
    if not result.rowcount:
        _row(session, connector)
        session.execute(stmt)


def _row(session: Session, connector: str) -> ConnectorStatus:
    return get_or_create(session, select(ConnectorStatus).where(ConnectorStatus.connector == connector),
                         lambda: ConnectorStatus(connector=connector, events=0, errors=0))


def reason(exc: Exception) -> str:
    """A refusal's reason as the status keeps it: the status code and the English message with its values."""
    if isinstance(exc, DomainError):
        try:
            text = exc.message.format(**exc.params)
        except (KeyError, IndexError, ValueError):
            text = exc.message
        field = f" ({exc.field})" if exc.field else ""
        return f"{exc.status}: {text}{field}"
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"422: {first.get('msg', 'invalid request')} ({where})"
    return f"{type(exc).__name__}"


def watch(connector: str) -> Callable[[Request], AsyncIterator[None]]:
    """A dependency for a connector's webhook (``dependencies=[Depends(watch(name), scope="function")]`` on the
    route): a request the handler refuses, or whose body or parameters are malformed, is counted as the
    connector's error by ``refused`` and answered as before. Set on the route, it is entered before the request's
    session and left after it, so the request's transaction has ended (on SQLite: its write lock released)
    before the refusal is written. Asynchronous, so a request that is not refused costs no trip to a worker
    thread; the refusal is written on one."""

    async def watching(request: Request) -> AsyncIterator[None]:
        try:
            yield
        except (DomainError, RequestValidationError) as exc:
            await run_in_threadpool(refused, request.app.state.engine, connector, reason(exc))
            raise

    return watching


def reps_by_extension(session: Session, extensions: set[str]) -> dict[str, str]:
    """A call centre's extensions → the username of the one person whose phone in evenhand is that extension
    (an extension two people carry names nobody)."""
    if not extensions:
        return {}
    found: dict[str, list[str]] = {}
    rows = session.execute(select(User.phone, User.username).where(User.phone.in_(extensions))).tuples()
    for phone, username in rows:
        found.setdefault(phone or "", []).append(username)
    return {phone: names[0] for phone, names in found.items() if len(names) == 1}


@dataclass(frozen=True)
class Health:
    """A connector's counts as stored (zero for a connector that never saw a request)."""

    connector: str
    events: int = 0
    errors: int = 0
    last_event_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None


def statuses(session: Session) -> dict[str, Health]:
    """Every stored connector's health, by connector name."""
    rows = session.scalars(select(ConnectorStatus).order_by(ConnectorStatus.connector))
    return {r.connector: Health(r.connector, r.events, r.errors, r.last_event_at, r.last_error_at, r.last_error)
            for r in rows}


def keep_receipts(window_seconds: int) -> timedelta:
    """How long receipts are kept: four replay windows, and at least a day."""
    return max(timedelta(seconds=4 * window_seconds), MIN_KEEP)


def prune(session: Session, *, now: datetime, window_seconds: int) -> int:
    """Delete the receipts older than ``keep_receipts``; how many."""
    cutoff = now - keep_receipts(window_seconds)
    result: Any = session.execute(delete(CaptureReceipt).where(CaptureReceipt.received_at < cutoff))
    return int(result.rowcount or 0)
