"""Demo builds for the tests. Building is the expensive part (half a minute at full scale), so each seed and
scale is built once in a run, by whichever xdist worker asks first, and every module gets a copy of that file."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evenhand.db import make_engine
from evenhand.demo import DemoSummary, build
from evenhand.migrate import upgrade
from tests.databases import fold_log

END = date(2026, 11, 27)


@dataclass(frozen=True)
class Built:
    engine: Engine
    summary: DemoSummary


def build_into(factory: pytest.TempPathFactory, directory: Path, *, seed: int = 7, scale: float = 1.0) -> Built:
    """The demo of ``seed`` at ``scale`` as ``directory / 'demo.sqlite'``: a copy of the run's one build of it,
    for the caller to change as it likes."""
    source, summary = _built_once(factory, seed, scale)
    shutil.copyfile(source, directory / "demo.sqlite")
    return Built(make_engine(f"sqlite:///{directory / 'demo.sqlite'}"), summary)


def build_fresh(directory: Path, *, seed: int = 7, scale: float = 1.0) -> Built:
    """The demo built anew into ``directory / 'demo.sqlite'`` (a test of the build itself)."""
    engine = make_engine(f"sqlite:///{directory / 'demo.sqlite'}")
    upgrade(engine)
    return Built(engine, build(engine, seed=seed, end_date=END, scale=scale))


def disposing(built: Built) -> Iterator[Built]:
    yield built
    built.engine.dispose()


def _built_once(factory: pytest.TempPathFactory, seed: int, scale: float) -> tuple[Path, DemoSummary]:
    """The file and summary of the run's build of ``seed`` at ``scale``, built under a lock by the first asker.

    The summary is written last, so a build that failed halfway is started again by the next one to ask."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's directory, above each worker's own
    directory = root / "demo-builds" / f"seed-{seed}-scale-{scale}"
    directory.mkdir(parents=True, exist_ok=True)
    summary_file = directory / "summary.pickle"
    with (directory / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not summary_file.exists():
            for leftover in directory.glob("demo.sqlite*"):
                leftover.unlink()
            built = build_fresh(directory, seed=seed, scale=scale)
            built.engine.dispose()
            fold_log(directory / "demo.sqlite")
            summary_file.write_bytes(pickle.dumps(built.summary))
        summary: DemoSummary = pickle.loads(summary_file.read_bytes())
    return directory / "demo.sqlite", summary
