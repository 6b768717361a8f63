"""Where a call's recording is: a file under the recordings directory, named by the call's ``recording_ref``.

A reference is a relative path (``recordings/2026-11/call-000000123.mp3`` or ``2026-11/call-123.mp3``: a leading
``recordings/`` names the directory itself). Anything that would leave the directory (``..``, an absolute path, a
symbolic link pointing out) is refused.

Stand-ins: when the directory holds a ``stand-ins`` folder of clips, a recording that is missing is played as one
of them, chosen by a hash of its reference (the same call always plays the same clip). The demo writes that folder
so every simulated call plays offline; a real installation has none, and a missing recording is not found.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from evenhand.config import Settings, get_settings
from evenhand.errors import Forbidden, NotFound

STAND_INS = "stand-ins"
PREFIX = "recordings"
MEDIA_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".opus": "audio/ogg",
               ".m4a": "audio/mp4", ".aac": "audio/aac", ".webm": "audio/webm", ".flac": "audio/flac"}


def root(settings: Settings | None = None) -> Path:
    chosen = settings or get_settings()
    return (chosen.qa_recordings_dir or chosen.data_dir / PREFIX).resolve()


def relative(ref: str) -> PurePosixPath:
    """The reference as a path inside the directory; ``Forbidden`` for one that would leave it."""
    path = PurePosixPath(ref.replace("\\", "/"))
    parts = path.parts[1:] if path.parts[:1] == (PREFIX,) else path.parts
    if not parts or path.is_absolute() or any(p in ("..", "") or ":" in p or "\x00" in p for p in parts):
        raise Forbidden("The recording's reference {ref} points outside the recordings directory.",
                        field="recording_ref", ref=ref)
    return PurePosixPath(*parts)


def locate(ref: str, directory: Path | None = None) -> Path:
    """The file to play for ``ref``: its own, else a stand-in clip, else ``NotFound``."""
    base = directory or root()
    own = _inside(base, base.joinpath(*relative(ref).parts))
    if own is not None and own.is_file():
        return own
    clip = stand_in(base, ref)
    if clip is None:
        raise NotFound("The recording {ref} is not in the recordings directory.", field="recording_ref", ref=ref)
    return clip


def _inside(base: Path, path: Path) -> Path | None:
    """``path`` with links resolved, if it is still inside ``base``; a link pointing out is refused."""
    real = path.resolve()
    if real != base and base not in real.parents:
        raise Forbidden("The recording's reference points outside the recordings directory.", field="recording_ref")
    return real


def stand_in(base: Path, ref: str) -> Path | None:
    folder = base / STAND_INS
    clips = sorted(p for p in folder.glob("*.wav") if p.is_file()) if folder.is_dir() else []
    if not clips:
        return None
    digest = int.from_bytes(hashlib.sha256(ref.encode("utf-8")).digest()[:8], "big")
    return clips[digest % len(clips)]


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
