"""The keyed, hash-chained audit writer and verifier.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.i18n import N_, t
from evenhand.kit.clock import as_utc, utcnow
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


def _body(seq: int, at: datetime, actor_id: int | None, action: str, subject_type: str, subject_id: str | None,
          payload: str) -> str:
    """The canonical JSON of the entry's fields, with the payload already in canonical form (spliced in at its
    sorted place, so a large payload is serialised once)."""
    head = canonical({"action": action, "actor_id": actor_id, "at": as_utc(at).isoformat()})
    tail = canonical({"seq": seq, "subject_id": subject_id, "subject_type": subject_type})
    return f"{head[:-1]},\"payload\":{payload},{tail[1:]}"


def entry_mac(keys: Keys, prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str,
              subject_type: str, subject_id: str | None, payload: dict[str, Any]) -> str:
    """An entry's link: the HMAC, under the audit key, of the previous link and the entry's canonical JSON."""
    return keys.mac((prev_hash + _body(seq, at, actor_id, action, subject_type, subject_id,
                                       canonical(payload))).encode())


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, action: str,
               subject_type: str, subject_id: str | None, payload: dict[str, Any]) -> str:
    """The unkeyed SHA-256 link chains used before the audit key. Anyone can compute it: past the chain's first
    keyed entry, a link made this way was written by someone without the key."""
    return _sha(prev_hash, _body(seq, at, actor_id, action, subject_type, subject_id, canonical(payload)))


def _sha(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(session: Session, *, action: str, subject_type: str, subject_id: object = None,
           payload: dict[str, Any] | None = None, actor_id: int | None = None,
           at: datetime | None = None, flush: bool = True) -> AuditEntry:
    """Append one entry in the caller's transaction. ``flush=False`` leaves the INSERT to the caller's next
    flush, so a batch of entries goes to the database as one statement."""
    keys = current_keys()
    last = _tail(session)
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # The stored payload is parsed from the canonical form, so it is exactly what was hashed.
    canon, data = _stored(payload or {})
    when = as_utc(at or utcnow())
    sid = None if subject_id is None else str(subject_id)
    entry = AuditEntry(seq=seq, at=when, actor_id=actor_id, action=action, subject_type=subject_type,
                       subject_id=sid, payload=data, prev_hash=prev,
                       hash=keys.mac((prev + _body(seq, when, actor_id, action, subject_type, sid, canon)).encode()))
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


_ROWS = select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_type,
               AuditEntry.subject_id, AuditEntry.payload, AuditEntry.prev_hash,
               AuditEntry.hash).order_by(AuditEntry.seq)
_TABLE = AuditEntry.__table__
_RELINK = (update(cast("Table", _TABLE)).where(_TABLE.c.seq == bindparam("s"))
           .values(prev_hash=bindparam("p"), hash=bindparam("h")))
_RESTORE = update(cast("Table", _TABLE)).where(_TABLE.c.seq == bindparam("s")).values(payload=bindparam("d"))


def rechain(session: Session, keys: Keys, batch: int = 5000) -> tuple[int, str]:
    """Link every entry again, from genesis, under ``keys``; the number of entries and the head it replaced.
    Only for a chain the caller has verified: whatever it holds comes out keyed. A payload stored before NaN
    was written as null (see ``_fast``) is stored as ``append`` stores it now."""
    lock(session)
    session.info.pop(_TAIL, None)
    prev, last, count, old_head = GENESIS, 0, 0, GENESIS
    while rows := session.execute(_ROWS.where(AuditEntry.seq > last).limit(batch)).all():
        links, restored = [], []
        for r in rows:
            canon, data = _stored(r.payload)
            prev_link, prev = prev, keys.mac((prev + _body(r.seq, r.at, r.actor_id, r.action, r.subject_type,
                                                           r.subject_id, canon)).encode())
            links.append({"s": r.seq, "p": prev_link, "h": prev})
            if canon != _canonical_json(r.payload):
                restored.append({"s": r.seq, "d": data})
        session.connection().execute(_RELINK, links)
        if restored:
            session.connection().execute(_RESTORE, restored)
        last, count, old_head = rows[-1].seq, count + len(rows), rows[-1].hash
    session.expire_all()
    return count, old_head


# --- verification --------------------------------------------------------------------------------------

MISSING = N_("an entry is missing before the next one")
RELINKED = N_("prev_hash does not match the previous entry's hash")
CHANGED = N_("content does not match its hash")
UNKEYED = N_("entries {seq}–{last} are chained without the audit key (written before it): run "
             "'evenhand audit reseal'")
FORGED = N_("entries {seq}–{last} were hashed without the audit key: forged")
APPENDED = N_("entries {seq}–{last} were appended after the checkpoint of {at} by someone without the audit key "
              "(forged rows)")
REWRITTEN = N_("entry {seq} was changed, and it and every later hash up to entry {last} recomputed without the "
               "audit key (history rewritten)")
DIVERGED = N_("it differs from the checkpoint of {at}: the chain up to here was replaced since (entries deleted and "
              "written anew, or rewritten with the audit key)")
TRUNCATED = N_("the chain ends before entry {seq}, but the checkpoint of {at} records entries up to {last}: "
               "entries were deleted from the end")
EMPTIED = N_("the chain is empty, but the checkpoint of {at} records {last} entries: every entry was deleted")


class Mark(Protocol):
    """A head of the chain recorded outside the database: its last entry and that entry's link, at a time."""

    @property
    def seq(self) -> int: ...
    @property
    def mac(self) -> str: ...
    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True)
class Broken:
    """What is wrong at entry ``seq``: ``reason`` is an English template formatted with ``params``."""

    seq: int
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, locale: str | None = None) -> str:
        return t(self.reason, locale, seq=self.seq, **self.params)


@dataclass(frozen=True)
class Checked:
    count: int  # entries read
    tail: int  # the last one's seq (0: none)
    head: str  # the last link that checked out
    problems: list[Broken]


def first_break(entries: Iterable[Any], keys: Keys) -> Broken | None:
    """The first entry whose link or content does not check out under ``keys``."""
    problems = check(entries, keys).problems
    return problems[0] if problems else None


def check(entries: Iterable[Any], keys: Keys, marks: Sequence[Mark] = (), *, start: Mark | None = None) -> Checked:
    """Walk the chain (``AuditEntry`` rows, or anything with their attributes) in order and name what is wrong:
    links, content, and rows hashed without the key; against ``marks`` (checkpoints), entries rewritten with
    it and a tail deleted. Checking stops at the first break in
    the links (what follows is only counted); a run of rows linked without the key is followed to its end.
    ``start``: a checkpoint the entries begin at (its own entry first), already checked up to there."""
    walk = _Walk(keys, marks, start)
    for entry in entries:
        walk.step(entry)
    return walk.finish()


def _when(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Walk:
    def __init__(self, keys: Keys, marks: Sequence[Mark], start: Mark | None) -> None:
        self.keys, self.start = keys, start
        self.marks = {m.seq: m for m in marks if m.seq > 0}
        self.latest = self.marks[max(self.marks)] if self.marks else None
        # Links without the key are a chain from before it only where nothing says the chain was keyed already.
        self.legacy = self.latest is None and start is None
        self.prev, self.expected = GENESIS, start.seq if start else 1
        self.run: tuple[int, int] | None = None  # the first and last seq of links made without the key
        self.count, self.tail, self.live = 0, 0, True
        self.problems: list[Broken] = []

    def step(self, e: Any) -> None:
        self.count, self.tail = self.count + 1, e.seq
        if not self.live:
            return
        if e.seq != self.expected:
            return self._stop(Broken(self.expected, MISSING))
        if self.start is not None and e.seq == self.start.seq:
            if e.hash != self.start.mac:
                return self._stop(Broken(e.seq, DIVERGED, {"at": _when(self.start.at)}))
            self.prev = e.prev_hash
        if e.prev_hash != self.prev:
            return self._stop(Broken(e.seq, RELINKED))
        keyed = self._keyed(e)
        if keyed is None:
            return self._stop(Broken(e.seq, CHANGED))
        if keyed:
            self._close_run()
            mark = self.marks.get(e.seq)
            if mark is not None and mark.mac != e.hash:
                self.problems.append(Broken(e.seq, DIVERGED, {"at": _when(mark.at)}))
        else:
            self.run = (self.run[0] if self.run else e.seq, e.seq)
        self.prev, self.expected = e.hash, e.seq + 1

    def _keyed(self, e: Any) -> bool | None:
        """True: linked under the key; False: by the public SHA-256 (a chain from before the key, or forged);
        None: by neither, so its content changed after it was linked."""
        body = _body(e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id, canonical(e.payload))
        if hmac.compare_digest(self.keys.mac((self.prev + body).encode()), e.hash):
            return True
        if _sha(self.prev, body) == e.hash or _sha(self.prev, _body(
                e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id,
                _canonical_json(e.payload))) == e.hash:  # NaN written by ``json`` before the key (see ``_fast``)
            return False
        return None

    def _close_run(self) -> None:
        if self.run is None:
            return
        (first, last), self.run = self.run, None
        trusted = self.latest or self.start
        if self.legacy and first == 1:
            reason = UNKEYED
        elif trusted is not None and first <= trusted.seq:
            reason = REWRITTEN
        else:
            reason = APPENDED if trusted is not None else FORGED
        at = {"at": _when(trusted.at)} if trusted is not None else {}
        self.problems.append(Broken(first, reason, {"last": last, **at}))

    def _stop(self, broken: Broken) -> None:
        self._close_run()
        self.problems.append(broken)
        self.live = False

    def finish(self) -> Checked:
        self._close_run()
        latest = self.latest or self.start
        if latest is not None and self.tail < latest.seq:
            params = {"last": latest.seq, "at": _when(latest.at)}
            self.problems.append(Broken(1, EMPTIED, params) if self.count == 0 and self.start is None
                                 else Broken(max(self.tail + 1, self.expected), TRUNCATED, params))
        return Checked(self.count, self.tail, self.prev if self.live else "", self.problems)


def verify(session: Session, batch: int = 5000) -> tuple[int, Broken | None]:
    """The number of entries and the first problem under the configured key, without checkpoints (see
    ``check_stored`` and ``evenhand.audit.service.verify`` for the whole report)."""
    checked = check_stored(session, current_keys(), batch=batch)
    return checked.count, checked.problems[0] if checked.problems else None


def check_stored(session: Session, keys: Keys, marks: Sequence[Mark] = (), *, start: Mark | None = None,
                 batch: int = 5000) -> Checked:
    """``check`` over the stored chain (from ``start``'s entry on, when given), read ``batch`` rows at a time."""
    rows = _ROWS if start is None else _ROWS.where(AuditEntry.seq >= start.seq)
    return check(session.execute(rows.execution_options(yield_per=batch)), keys, marks, start=start)
