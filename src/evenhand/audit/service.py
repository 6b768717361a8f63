"""Verifying the audit chain against its checkpoints, writing and shipping a checkpoint, and re-chaining a chain
written before the audit key. Reads and writes the caller's session; the caller commits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from evenhand.audit import checkpoints
from evenhand.audit.checkpoints import Checkpoint, Refused
from evenhand.config import Settings
from evenhand.i18n import N_, t
from evenhand.kit import audit, audit_check
from evenhand.kit.audit_check import Broken
from evenhand.models import User
from evenhand.notify import service as notify

CHECKPOINT_KIND = "audit_checkpoint"
ALERT_KIND = "audit_alert"


@dataclass(frozen=True)
class Report:
    count: int  # entries in the chain
    problems: list[Broken]
    refused: list[Refused]  # checkpoint lines not signed with the key
    latest: Checkpoint | None  # the checkpoint with the highest entry

    @property
    def intact(self) -> bool:
        return not self.problems and not self.refused


@dataclass(frozen=True)
class Written:
    checkpoint: Checkpoint | None  # None: not written (see ``problems``), or the head had not moved
    problems: list[Broken]
    refused: list[Refused]
    files: list[Path]


@dataclass(frozen=True)
class Resealed:
    entries: int  # entries linked again under the key; 0 when refused or when there was nothing to do
    unkeyed: int  # the last entry that had been linked without the key
    problems: list[Broken]  # why it was refused


def local_file(session: Session, settings: Settings) -> Path:
    """The checkpoint file of the session's database in the data directory."""
    return checkpoints.home(settings.data_dir, session.get_bind().engine.url)


def checkpoint_files(session: Session, settings: Settings, extra: Sequence[Path] = ()) -> list[Path]:
    """Where checkpoints are read from: the data directory's, the shipped copy (if configured) and ``extra``."""
    files: dict[Path, Path] = {}
    for path in (local_file(session, settings), settings.audit_checkpoint_copy, *extra):
        if path is not None:
            files.setdefault(path.resolve(), path)
    return list(files.values())


def forget(settings: Settings, url: str) -> None:
    """Drop the data directory's checkpoints of a database that is being built again from nothing (the demo)."""
    checkpoints.home(settings.data_dir, make_url(url)).unlink(missing_ok=True)


def verify(session: Session, settings: Settings, *, extra: Sequence[Path] = ()) -> Report:
    """Every link under the key, and the chain against every checkpoint signed with it: the latest one shows a
    deleted tail, each one an entry rewritten since."""
    keys = audit.current_keys(settings)
    marks, refused = checkpoints.load(checkpoint_files(session, settings, extra), keys)
    checked = audit_check.check_stored(session, keys, marks)
    return Report(checked.count, checked.problems, refused, max(marks, key=lambda c: c.seq, default=None))


def checkpoint(session: Session, settings: Settings, *, now: datetime, only_if_moved: bool = False) -> Written:
    """Check the entries since the latest checkpoint and, if they hold, sign the head and append it to the data
    directory's file and the shipped copy. A chain that does not check out is not checkpointed: a checkpoint
    never vouches for a forged row. ``only_if_moved``: write nothing if the head is the latest checkpoint's."""
    keys = audit.current_keys(settings)
    marks, refused = checkpoints.load(checkpoint_files(session, settings), keys)
    latest = max(marks, key=lambda c: c.seq, default=None)
    start = latest if latest is not None and latest.seq > 0 else None
    checked = audit_check.check_stored(session, keys, marks, start=start)
    if checked.problems:
        return Written(None, checked.problems, refused, [])
    if only_if_moved and latest is not None and (latest.seq, latest.mac) == (checked.tail, checked.head):
        return Written(None, [], refused, [])
    count = latest.count + checked.count - 1 if start is not None and latest is not None else checked.count
    signed = checkpoints.sign(keys, seq=checked.tail, mac=checked.head, count=count, at=now)
    files = [path for path in (local_file(session, settings), settings.audit_checkpoint_copy) if path is not None]
    for path in files:
        checkpoints.append(path, signed)
    return Written(signed, [], refused, files)


def announce(session: Session, settings: Settings, written: Written) -> int:
    """With ``audit_checkpoint_notify``, tell sales operations through the outbox: the checkpoint (a copy that
    leaves the machine on their channels), or each problem that kept it from being written and each refused
    checkpoint line (once each). The number of messages."""
    if not settings.audit_checkpoint_notify:
        return 0
    messages = []
    for user in session.scalars(select(User).where(User.id.in_(notify.ops_ids(session))).order_by(User.id)):
        messages += _alerts(user, written)
        if written.checkpoint is not None:
            cp = written.checkpoint
            messages.append(notify.Message(
                user.id, CHECKPOINT_KIND, N_("Audit checkpoint: entry {seq}"),
                N_("Keep this line outside evenhand; 'evenhand audit verify --checkpoints FILE' checks the chain "
                   "against it: {line}"), key=f"{CHECKPOINT_KIND}:{cp.seq}:{cp.mac[:16]}:{user.id}",
                params={"seq": cp.seq, "line": cp.line()}))
    notify.send_all(session, messages)
    return len(messages)


def _alerts(user: User, written: Written) -> list[notify.Message]:
    out = [notify.Message(
        user.id, ALERT_KIND, N_("The audit chain does not verify at entry {seq}"),
        N_("{reason}. No checkpoint was written; 'evenhand audit verify' gives the whole report."),
        key=f"{ALERT_KIND}:{p.seq}:{_digest(p.reason, p.params)}:{user.id}",
        params={"seq": p.seq, "reason": p.text(user.locale)}) for p in written.problems]
    return out + [notify.Message(
        user.id, ALERT_KIND, N_("An audit checkpoint is refused"), N_("{file}, line {line}: {reason}."),
        key=f"{ALERT_KIND}:{_digest(r.file, r.line, r.reason)}:{user.id}",
        params={"file": r.file, "line": r.line, "reason": t(r.reason, user.locale, **r.params)})
        for r in written.refused]


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def reseal(session: Session, settings: Settings, *, now: datetime) -> Resealed:
    """Link a chain written before the audit key again under it, once it checks out as such a chain (plain
    SHA-256 links from the first entry, then keyed ones), and record that in the chain. Refused, changing
    nothing, when anything else is wrong; nothing to do when every link is keyed already."""
    keys = audit.current_keys(settings)
    audit.lock(session)  # nobody appends between the check and the re-linking
    marks, _ = checkpoints.load(checkpoint_files(session, settings), keys)
    problems = audit_check.check_stored(session, keys, marks).problems
    unkeyed = [p for p in problems if p.reason == audit_check.UNKEYED]
    if len(unkeyed) != len(problems) or not unkeyed:
        return Resealed(0, 0, [p for p in problems if p.reason != audit_check.UNKEYED])
    count, previous = audit.rechain(session, keys)
    last = int(unkeyed[0].params["last"])
    audit.append(session, action="audit.resealed", subject_type="audit_log", at=now,
                 payload={"entries": count, "unkeyed": last, "previous_head": previous, "key": keys.id})
    return Resealed(count, last, [])
