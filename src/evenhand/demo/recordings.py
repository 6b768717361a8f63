"""The demo's call recordings: a handful of short synthesized clips (tones shaped like speech, a little line noise),
written as WAV files into the recordings directory's ``stand-ins`` folder, where call QA plays one of them for each
simulated call (``qa.audio``). Generated, not shipped: no audio file sits in the repository, and the player works
offline."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from evenhand.qa.audio import STAND_INS

RATE = 8000  # telephone quality
CLIPS = 6
SECONDS = 4.0


def clip(seed: int, seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """16-bit mono samples: two voices taking turns, each a few harmonics under syllable-long swells."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = np.where((t * 0.75 + seed * 0.25) % 1 < 0.5, 120.0 + 15 * seed, 210.0 + 10 * seed)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in (1, 2, 3, 5))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t), 0, None) ** 2
    signal = 0.5 * voice * syllables + 0.02 * rng.standard_normal(len(t))
    return (np.clip(signal / np.max(np.abs(signal)), -1, 1) * 0.6 * 32767).astype("<i2")


def write_clips(directory: Path, count: int = CLIPS) -> list[Path]:
    """``count`` clips in ``directory/stand-ins`` (replacing any there); their paths."""
    folder = directory / STAND_INS
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"demo-call-{n + 1}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(clip(n).tobytes())
        paths.append(path)
    return paths
