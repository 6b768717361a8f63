"""Verifying the keyed audit chain that ``kit.audit`` writes.

``check`` walks the entries in order and names what is wrong: a link or content that does not check out
under the audit key, rows linked with the public SHA-256 (a chain from before the key, or forged), and,
against the signed checkpoints kept outside the database (``evenhand.audit``; docs/audit.md), entries
rewritten with the key or deleted from the end. ``verify`` and ``check_stored`` read the stored chain.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from evenhand.i18n import N_, t
from evenhand.kit.audit import CHAIN_ROWS, GENESIS, Keys, canonical, canonical_json, current_keys, entry_body, sha_link
from evenhand.kit.clock import as_utc
from evenhand.models import AuditEntry

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
        body = entry_body(e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id, canonical(e.payload))
        if hmac.compare_digest(self.keys.mac((self.prev + body).encode()), e.hash):
            return True
        if sha_link(self.prev, body) == e.hash or sha_link(self.prev, entry_body(
                e.seq, e.at, e.actor_id, e.action, e.subject_type, e.subject_id,
                canonical_json(e.payload))) == e.hash:  # NaN written by ``json`` before the key (see kit.audit)
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
    rows = CHAIN_ROWS if start is None else CHAIN_ROWS.where(AuditEntry.seq >= start.seq)
    return check(session.execute(rows.execution_options(yield_per=batch)), keys, marks, start=start)
