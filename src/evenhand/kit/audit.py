"""The keyed, hash-chained audit writer (its verifier is ``kit.audit_check``).

Each entry's ``hash`` is an HMAC-SHA256, under the audit key (``Settings.audit_secret``, kept outside the
database), over the previous entry's hash and the entry's canonical JSON. Changing, removing or reordering
an entry breaks every later link, and without the key nobody can write a link that checks out: a row added
or history rewritten with the public SHA-256 (``entry_hash``) is named as such. What the database alone
cannot show, its last entries deleted, the signed checkpoints kept outside it show (``evenhand.audit``;
docs/audit.md). Chains written before the key (plain SHA-256 links) verify as such until
``evenhand audit reseal`` re-chains them (``rechain``).

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the write lock
every writing transaction takes when it begins (see db.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import orjson
from sqlalchemy import BigInteger, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.kit import carry
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.cursor import Prepared, writes
from evenhand.models import AuditEntry

if TYPE_CHECKING:
    from evenhand.config import Settings

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
    return fast.decode() if fast is not None else canonical_json(value)


def canonical_json(value: Any) -> str:
    """The canonical form as ``json`` writes it (``canonical`` without the orjson fast path)."""
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
    either way, and ``audit_check.first_break`` accepts entries hashed over ``json``'s NaN."""
    try:
        out = orjson.dumps(value, option=_FAST)
    except TypeError:
        return None
    if (b"e-" in out or b"e+" in out or b"0.0000" in out) and _UNLIKE_JSON.search(out):
        return None
    return out


def _canonical_stored(payload: dict[str, Any]) -> str:
    """The canonical form of what ``_stored`` would store: the text ``append_many`` writes, which the database
    parses (what reads it back finds what was hashed), with no parse here."""
    fast = _fast(payload)
    if fast is not None and not (b"-0.0" in fast and _NEGATIVE_ZERO.search(fast)):
        return fast.decode()
    return _stored(payload)[0]


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
    data = json.loads(canonical_json(payload), parse_float=_settle, parse_constant=lambda _: None)
    return canonical(data), data


# --- the key -------------------------------------------------------------------------------------------

_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@dataclass(frozen=True, eq=False)
class Keys:
    """The audit key split by purpose (entries, checkpoints) with labelled HMACs, so a MAC of one kind can never
    pass for the other; ``id`` names the key in checkpoints and reveals nothing of it."""

    id: str
    chain: bytes = field(repr=False)
    checkpoint: bytes = field(repr=False)
    _inner: Any = field(repr=False)
    _outer: Any = field(repr=False)

    @classmethod
    def derive(cls, secret: str) -> Keys:
        root = secret.encode()
        chain = hmac.digest(root, b"evenhand audit chain v1", "sha256")
        block = chain.ljust(64, b"\0")
        return cls(hmac.digest(root, b"evenhand audit key id", "sha256")[:6].hex(), chain,
                   hmac.digest(root, b"evenhand audit checkpoint v1", "sha256"),
                   hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD)))

    def mac(self, data: bytes) -> str:
        """HMAC-SHA256 under the chain key, continuing the two pads hashed once in ``derive``: a third of a
        microsecond more than a plain SHA-256 of an entry, where ``hmac.new`` per entry costs three times that."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())


_held: tuple[Settings, Keys] | None = None


def current_keys(settings: Settings | None = None) -> Keys:
    """The key of ``settings`` (default: the process's), derived once per settings object: a test or a command
    that re-reads its environment gets its own."""
    global _held
    settings, held = settings or get_settings(), _held
    if held is None or held[0] is not settings:
        held = _held = (settings, Keys.derive(settings.audit_secret()))
    return held[1]


# --- links --------------------------------------------------------------------------------------------


def entry_body(seq: int, at: datetime, actor_id: int | None, action: str, subject_type: str,
               subject_id: str | None, payload: str) -> str:
    """The canonical JSON of the entry's fields, with the payload already in canonical form (spliced in at its
    sorted place, so a large payload is serialised once)."""
    head = canonical({"action": action, "actor_id": actor_id, "at": as_utc(at).isoformat()})
    tail = canonical({"seq": seq, "subject_id": subject_id, "subject_type": subject_type})
    return f"{head[:-1]},\"payload\":{payload},{tail[1:]}"


def entry_mac(keys: Keys, prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str,
              subject_type: str, subject_id: str | None, payload: dict[str, Any]) -> str:
    """An entry's link: the HMAC, under the audit key, of the previous link and the entry's canonical JSON."""
    return keys.mac((prev_hash + entry_body(seq, at, actor_id, action, subject_type, subject_id,
                                            canonical(payload))).encode())


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str,
               subject_type: str, subject_id: str | None, payload: dict[str, Any]) -> str:
    """The unkeyed SHA-256 link chains used before the audit key. Anyone can compute it: past the chain's first
    keyed entry, a link made this way was written by someone without the key."""
    return sha_link(prev_hash, entry_body(seq, at, actor_id, action, subject_type, subject_id,
                                          canonical(payload)))


def sha_link(prev_hash: str, body: str) -> str:
    """The public SHA-256 link over ``prev_hash`` and an entry's canonical body (see ``entry_hash``)."""
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


class Entry(NamedTuple):
    """One entry to append (``append_many``): what ``append`` takes."""

    action: str
    subject_type: str
    subject_id: object = None
    payload: dict[str, Any] | None = None
    actor_id: int | None = None
    at: datetime | None = None


def append(session: Session, *, action: str, subject_type: str, subject_id: object = None,
           payload: dict[str, Any] | None = None, actor_id: int | None = None,
           at: datetime | None = None, flush: bool = True) -> AuditEntry:
    """Append one entry in the caller's transaction. ``flush=False`` leaves the INSERT to the caller's next
    flush, so a batch of entries goes to the database as one statement."""
    last = _tail(session)
    row = _link(current_keys(), last, Entry(action, subject_type, subject_id, payload, actor_id, at))
    entry = AuditEntry(**row)
    session.add(entry)
    if flush:
        session.flush()
    _moved(session, row)
    return entry


def append_many(session: Session, entries: Sequence[Entry]) -> list[int]:
    """Append entries in order in the caller's transaction, written at once through the connection (one
    ``executemany``, no ORM rows): their seqs."""
    if not entries:
        return []
    keys, last = current_keys(), _tail(session)
    rows = []
    for entry in entries:
        rows.append(_link(keys, last, entry, parsed=False))
        last = (rows[-1]["seq"], rows[-1]["hash"])
    _INSERT.many(session.connection(), rows)
    _moved(session, rows[-1])
    return [row["seq"] for row in rows]


def _link(keys: Keys, last: tuple[int, str] | None, entry: Entry, *, parsed: bool = True) -> dict[str, Any]:
    """The row of ``entry`` after the chain's ``last`` (seq, hash); its payload is the canonical form itself when
    not ``parsed`` (for ``_INSERT``, which writes the text as it is)."""
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # The stored payload is parsed from the canonical form, so it is exactly what was hashed.
    canon, data = _stored(entry.payload or {}) if parsed else (_canonical_stored(entry.payload or {}), None)
    when = as_utc(entry.at or utcnow())
    sid = None if entry.subject_id is None else str(entry.subject_id)
    link = keys.mac((prev + entry_body(seq, when, entry.actor_id, entry.action, entry.subject_type, sid,
                                       canon)).encode())
    return {"seq": seq, "at": when, "actor_id": entry.actor_id, "action": entry.action,
            "subject_type": entry.subject_type, "subject_id": sid, "payload": data if parsed else canon,
            "prev_hash": prev, "hash": link}


def _moved(session: Session, last: dict[str, Any]) -> None:
    """The chain's tail is now ``last``: kept for the transaction, unless a savepoint may still roll it back, and for
    the connection's next transactions once this one commits (``kit.carry``)."""
    if session.in_nested_transaction():
        session.info.pop(_TAIL, None)  # what the outer transaction knew of the tail is behind this entry now
    else:
        session.info[_TAIL] = (session.get_transaction(), last["seq"], last["hash"])
    carry.leave(session, _TAIL, (last["seq"], last["hash"]))  # inside a savepoint: forgotten


_TAIL = "evenhand.audit.tail"
_LOCKED = "evenhand.audit.locked"


def lock(session: Session) -> None:
    """Take the chain's lock for the rest of the transaction (PostgreSQL; SQLite's writer already holds the
    database). A writer that will append, and also locks rows of its own, takes this first: every writer
    then locks in the same order — chain, then rows — and two cannot deadlock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection()  # begins the transaction: before it, there is none to key the lock by, and none was taken
    transaction = session.get_transaction()
    if session.info.get(_LOCKED) is not transaction:
        _TAKE_LOCK.rows(session.connection(), {"k": _LOCK_KEY})
        session.info[_LOCKED] = transaction
_LAST = Prepared(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))
# Every writer that appends takes it (PostgreSQL): on the driver's cursor, past SQLAlchemy's execution of a text
# statement, which cost more than the lock (0.5 ms of a routed lead's 8).
_TAKE_LOCK = Prepared(select(func.pg_advisory_xact_lock(bindparam("k", type_=BigInteger))))


def _tail(session: Session) -> tuple[int, str] | None:
    """The chain's last (seq, hash). Within one transaction the writer holds the chain's lock from its first
    append to its commit, so what it appended last is still the tail; a savepoint may roll back, so appends
    inside one always read the table."""
    cached = session.info.get(_TAIL)
    if cached is not None and cached[0] is session.get_transaction() and not session.in_nested_transaction():
        return cached[1], cached[2]
    lock(session)
    session.flush()  # read through the connection (no ORM execution on the intake path), pending entries included
    if (left := carry.carried(session, _TAIL)) is not None:
        return left
    row = _LAST.first(session.connection())
    return (row[0], row[1]) if row else None


# Every entry's fields, in chain order: what ``rechain`` relinks and ``audit_check`` verifies.
CHAIN_ROWS = select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor_id, AuditEntry.action,
                    AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.payload, AuditEntry.prev_hash,
                    AuditEntry.hash).order_by(AuditEntry.seq)
_TABLE = AuditEntry.__table__
_INSERT = Prepared(writes(cast("Table", _TABLE), ["seq", "at", "actor_id", "action", "subject_type", "subject_id",
                                                  "payload", "prev_hash", "hash"], as_json_text=["payload"]))
_RELINK = (update(cast("Table", _TABLE)).where(_TABLE.c.seq == bindparam("s"))
           .values(prev_hash=bindparam("p"), hash=bindparam("h")))
_RESTORE = update(cast("Table", _TABLE)).where(_TABLE.c.seq == bindparam("s")).values(payload=bindparam("d"))


def rechain(session: Session, keys: Keys, batch: int = 5000) -> tuple[int, str]:
    """Link every entry again, from genesis, under ``keys``; the number of entries and the head it replaced.
    Only for a chain the caller has verified: whatever it holds comes out keyed. A payload stored before NaN
    was written as null (see ``_fast``) is stored as ``append`` stores it now."""
    lock(session)
    session.info.pop(_TAIL, None)
    carry.leave(session, _TAIL, None)  # every link changes
    prev, last, count, old_head = GENESIS, 0, 0, GENESIS
    while rows := session.execute(CHAIN_ROWS.where(AuditEntry.seq > last).limit(batch)).all():
        links, restored = [], []
        for r in rows:
            canon, data = _stored(r.payload)
            prev_link, prev = prev, keys.mac((prev + entry_body(r.seq, r.at, r.actor_id, r.action,
                                                                r.subject_type, r.subject_id, canon)).encode())
            links.append({"s": r.seq, "p": prev_link, "h": prev})
            if canon != canonical_json(r.payload):
                restored.append({"s": r.seq, "d": data})
        session.connection().execute(_RELINK, links)
        if restored:
            session.connection().execute(_RESTORE, restored)
        last, count, old_head = rows[-1].seq, count + len(rows), rows[-1].hash
    session.expire_all()
    return count, old_head
