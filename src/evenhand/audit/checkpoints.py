"""Signed checkpoints of the audit chain's head, kept outside the database (docs/audit.md).

One JSON object a line, only ever appended: ``{"at", "count", "key", "mac", "seq", "sig", "v"}`` — the chain's
last entry (``seq``) and its link (``mac``), how many entries there were, when, and the id of the audit key.
``sig`` is an HMAC-SHA256 under the key's checkpoint part over the canonical JSON of the rest, so a line
written by someone without the key is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from evenhand.i18n import N_
from evenhand.kit.audit import Keys, canonical
from evenhand.kit.clock import as_utc

VERSION = 1
UNREADABLE = N_("not a checkpoint")
OTHER_KEY = N_("signed with another audit key ({key})")
BAD_SIGNATURE = N_("its signature does not match: the checkpoint was forged or altered")


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    mac: str
    count: int
    at: datetime
    key: str
    sig: str = ""

    def fields(self) -> dict[str, Any]:
        """What the signature covers."""
        return {"v": VERSION, "seq": self.seq, "mac": self.mac, "count": self.count,
                "at": as_utc(self.at).isoformat(), "key": self.key}

    def line(self) -> str:
        return canonical(self.fields() | {"sig": self.sig})


@dataclass(frozen=True)
class Refused:
    """A line of a checkpoint file that is not a checkpoint signed with the configured key."""

    file: str
    line: int
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


def sign(keys: Keys, *, seq: int, mac: str, count: int, at: datetime) -> Checkpoint:
    unsigned = Checkpoint(seq, mac, count, as_utc(at), keys.id)
    return Checkpoint(seq, mac, count, as_utc(at), keys.id, _signature(keys, unsigned))


def _signature(keys: Keys, checkpoint: Checkpoint) -> str:
    return hmac.new(keys.checkpoint, canonical(checkpoint.fields()).encode(), "sha256").hexdigest()


def parse(text: str) -> Checkpoint | None:
    try:
        data = json.loads(text)
        checkpoint = Checkpoint(int(data["seq"]), str(data["mac"]), int(data["count"]),
                                as_utc(datetime.fromisoformat(data["at"])), str(data["key"]), str(data["sig"]))
    except (ValueError, KeyError, TypeError):
        return None
    return checkpoint if data.get("v") == VERSION else None


def load(paths: Iterable[Path], keys: Keys) -> tuple[list[Checkpoint], list[Refused]]:
    """Every checkpoint in the files that exist, those signed with ``keys`` (each once, oldest first) and the
    lines refused."""
    signed: dict[tuple[int, str, datetime], Checkpoint] = {}
    refused: list[Refused] = []
    for path in paths:
        if not path.is_file():
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            checkpoint, problem = _check(text, keys)
            if checkpoint is not None:
                signed.setdefault((checkpoint.seq, checkpoint.mac, checkpoint.at), checkpoint)
            else:
                refused.append(Refused(str(path), number, *problem))
    return sorted(signed.values(), key=lambda c: (c.at, c.seq)), refused


def _check(text: str, keys: Keys) -> tuple[Checkpoint | None, tuple[str, dict[str, Any]]]:
    checkpoint = parse(text)
    if checkpoint is None:
        return None, (UNREADABLE, {})
    if checkpoint.key != keys.id:
        return None, (OTHER_KEY, {"key": checkpoint.key})
    if not hmac.compare_digest(_signature(keys, checkpoint), checkpoint.sig):
        return None, (BAD_SIGNATURE, {})
    return checkpoint, ("", {})


def home(data_dir: Path, url: URL) -> Path:
    """A database's checkpoint file in the data directory, named for the database (so a demo or a second database
    beside the first keeps its own): the SQLite file, or the server's host, port and database name."""
    backend, database = url.get_backend_name(), url.database or ""
    if backend == "sqlite":
        name, where = Path(database).stem or "memory", str(Path(database).resolve()) if database else ""
    else:
        name, where = database, f"{url.host or 'localhost'}:{url.port or _PORTS.get(backend, '')}/{database}"
    digest = hashlib.sha256(f"{backend}|{where}".encode()).hexdigest()[:10]
    return data_dir / "audit" / f"{backend}-{name}-{digest}" / "checkpoints.jsonl"


_PORTS = {"postgresql": 5432}


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Add the line and wait for the disk: a checkpoint reported written survives a power cut."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(checkpoint.line() + "\n")
        file.flush()
        os.fsync(file.fileno())
