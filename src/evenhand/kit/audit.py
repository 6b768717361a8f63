"""The hash-chained audit writer and verifier.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON, so
changing, removing or reordering any entry breaks every later link. Appends are serialised: on
PostgreSQL by a transaction-scoped advisory lock, on SQLite by the write lock every writing
transaction takes when it begins (see db.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from evenhand.i18n import N_
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x65_76_65_6E  # "even"


def _settle(number: str) -> int | float:
    """Whole-number floats become ints: PostgreSQL's JSONB gives 1e16 back as 10000000000000000, and a
    payload must hash the same before and after it is stored."""
    value = float(number)
    return int(value) if value.is_integer() else value


def canonical(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: ``json.dumps(value, sort_keys=True, ensure_ascii=False,
    separators=(",", ":"), default=str)``, which is what every hash in the chain was taken over."""
    fast = _fast(value)
    return fast.decode() if fast is not None else _canonical_json(value)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


_FAST = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# The numbers orjson writes differently from ``json``: below 1e-4 (1e-5 is 0.00001 to orjson, 1e-05 to
# ``json``) and those with an exponent. Found in a string, they only send the value the slow way.
_UNLIKE_JSON = re.compile(rb"[0-9]e[-+]|0\.0000")
_NEGATIVE_ZERO = re.compile(rb"-0\.0(?![0-9])")


def _fast(value: Any) -> bytes | None:
    """The canonical form by orjson — an order of magnitude faster on decision evidence — where it is byte
    for byte what ``json`` writes: plain JSON values and no number of the kinds above. Anything else
    (datetimes, dataclasses, non-string keys, integers beyond 64 bits, sets) makes orjson refuse and goes
    through ``json``. One difference cannot be seen in the output: orjson writes NaN and the infinities as
    null, ``json`` as NaN and Infinity (which PostgreSQL cannot store). ``append`` stores them as null
    either way, and ``first_break`` accepts entries hashed over ``json``'s NaN."""
    try:
        out = orjson.dumps(value, option=_FAST)
    except TypeError:
        return None
    if (b"e-" in out or b"e+" in out or b"0.0000" in out) and _UNLIKE_JSON.search(out):
        return None
    return out


def _stored(payload: dict[str, Any]) -> tuple[str, Any]:
    """The payload as it will be stored and read back, and its canonical form.

    What PostgreSQL's JSONB changes must not be in it: JSONB keeps 1.0 as 1.0 but writes 1e16 out in full
    (10000000000000000, an int when read back) and -0.0 as 0.0. orjson's form has neither an exponent (see
    ``_fast``) nor, when this takes it, a -0.0; ``json``'s form is read back with every whole-number float
    made an int (``_settle``), as it always was."""
    fast = _fast(payload)
    if fast is not None and not (b"-0.0" in fast and _NEGATIVE_ZERO.search(fast)):
        return fast.decode(), orjson.loads(fast)
    # Read back what ``json`` wrote, and take the canonical form of that: NaN and Infinity become null, as
    # in ``_fast``, and keys that were not strings come back as strings, sorted as strings.
    data = json.loads(_canonical_json(payload), parse_float=_settle, parse_constant=lambda _: None)
    return canonical(data), data


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str,
               subject_type: str, subject_id: str | None, payload: dict[str, Any]) -> str:
    return _hash(prev_hash, seq, at, actor_id, action, subject_type, subject_id, canonical(payload))


def _hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str, subject_type: str,
          subject_id: str | None, payload: str) -> str:
    """The hash over the canonical JSON of the entry's fields, with the payload already in canonical form
    (spliced in at its sorted place, so a large payload is serialised once)."""
    head = canonical({"action": action, "actor_id": actor_id, "at": as_utc(at).isoformat()})
    tail = canonical({"seq": seq, "subject_id": subject_id, "subject_type": subject_type})
    body = f"{head[:-1]},\"payload\":{payload},{tail[1:]}"
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(session: Session, *, action: str, subject_type: str, subject_id: object = None,
           payload: dict[str, Any] | None = None, actor_id: int | None = None,
           at: datetime | None = None, flush: bool = True) -> AuditEntry:
    """Append one entry in the caller's transaction. ``flush=False`` leaves the INSERT to the caller's next
    flush, so a batch of entries goes to the database as one statement."""
    last = _tail(session)
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # The stored payload is parsed from the canonical form, so it is exactly what was hashed.
    canon, data = _stored(payload or {})
    when = as_utc(at or utcnow())
    sid = None if subject_id is None else str(subject_id)
    entry = AuditEntry(seq=seq, at=when, actor_id=actor_id, action=action, subject_type=subject_type,
                       subject_id=sid, payload=data, prev_hash=prev,
                       hash=_hash(prev, seq, when, actor_id, action, subject_type, sid, canon))
    session.add(entry)
    if flush:
        session.flush()
    if not session.in_nested_transaction():
        session.info[_TAIL] = (session.get_transaction(), seq, entry.hash)
    return entry


_TAIL = "evenhand.audit.tail"
_LOCKED = "evenhand.audit.locked"


def lock(session: Session) -> None:
    """Take the chain's lock for the rest of the transaction (PostgreSQL; SQLite's writer already holds the
    database). A writer that will append, and also locks rows of its own, takes this first: every writer
    then locks in the same order — chain, then rows — and two cannot deadlock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if session.info.get(_LOCKED) is not transaction:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        session.info[_LOCKED] = transaction
_LAST = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)


def _tail(session: Session) -> tuple[int, str] | None:
    """The chain's last (seq, hash). Within one transaction the writer holds the chain's lock from its first
    append to its commit, so what it appended last is still the tail; a savepoint may roll back, so appends
    inside one always read the table."""
    cached = session.info.get(_TAIL)
    if cached is not None and cached[0] is session.get_transaction() and not session.in_nested_transaction():
        return cached[1], cached[2]
    lock(session)
    row = session.execute(_LAST).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class Broken:
    seq: int
    reason: str


def first_break(entries: Iterable[AuditEntry]) -> Broken | None:
    """Walk the chain in order; report the first entry whose link or content does not check out."""
    prev, expected_seq = GENESIS, 1
    for e in entries:
        if e.seq != expected_seq:
            return Broken(expected_seq, N_("an entry is missing before the next one"))
        if e.prev_hash != prev:
            return Broken(e.seq, N_("prev_hash does not match the previous entry's hash"))
        if entry_hash(prev, e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id, e.payload) != e.hash \
                and _hash(prev, e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id,
                          _canonical_json(e.payload)) != e.hash:  # NaN written by ``json`` (see ``_fast``)
            return Broken(e.seq, N_("content does not match its hash"))
        prev, expected_seq = e.hash, expected_seq + 1
    return None


def verify(session: Session, batch: int = 5000) -> tuple[int, Broken | None]:
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch))
    count = 0

    def counted() -> Iterable[AuditEntry]:
        nonlocal count
        for entry in rows.scalars():
            count += 1
            yield entry

    broken = first_break(counted())
    return count, broken
