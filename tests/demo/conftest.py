"""Demo builds shared by the tests of a module: building is the expensive part."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from evenhand.db import make_engine
from evenhand.demo import DemoSummary, build
from evenhand.migrate import upgrade

END = date(2026, 11, 27)


@dataclass(frozen=True)
class Built:
    engine: Engine
    summary: DemoSummary


def build_into(directory: Path, *, seed: int = 7, scale: float = 1.0) -> Built:
    engine = make_engine(f"sqlite:///{directory / 'demo.sqlite'}")
    upgrade(engine)
    return Built(engine, build(engine, seed=seed, end_date=END, scale=scale))


def disposing(built: Built) -> Iterator[Built]:
    yield built
    built.engine.dispose()
