"""Same seed and end date, same company; another seed, another company (built at a tenth of the size)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from evenhand.demo.simulate import simulate
from evenhand.models import Base
from tests.demo.conftest import END, Built, build_fresh, build_into, disposing

ROOT = Path(__file__).resolve().parents[2]

SKIP = {("users", "password_hash"),  # argon2 salts every hash afresh
        ("scoring_models", "created_at"),  # the scoring model is installed when the build runs
        ("predictive_models", "created_at"),  # trained when the build runs
        ("predictive_models", "artifact"),  # pickled bytes; the metrics column pins what it learned
        ("routing_decisions", "latency_us"),  # how long the go-live afternoon's decisions took on this machine
        ("config_revision", "stamp"),  # a cache key drawn at random on every configuration change
        ("owner_stamps", "stamp")}  # drawn at random on every write to a rep's leads and deals (SQLite)
NOT_SEEDED = {"audit_log"}  # records when the build ran


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("demo-a"), seed=7, scale=0.1))


@pytest.fixture(scope="module")
def again(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_fresh(tmp_path_factory.mktemp("demo-b"), seed=7, scale=0.1))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("demo-c"), seed=8, scale=0.1))


def fingerprint(engine: Engine) -> dict[str, str]:
    """A digest of every seeded table, row by row in key order."""
    digests = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_SEEDED:
                continue
            cols = [c for c in table.columns if (table.name, c.name) not in SKIP]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def first_leads(engine: Engine) -> list[tuple[object, ...]]:
    leads = Base.metadata.tables["leads"]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(leads).order_by(leads.c.id).limit(50))]


def test_same_seed_gives_identical_counts(first: Built, again: Built) -> None:
    assert first.summary.counts == again.summary.counts
    assert first.summary.accounts == again.summary.accounts


def test_same_seed_gives_identical_rows(first: Built, again: Built) -> None:
    assert first_leads(first.engine) == first_leads(again.engine)
    assert fingerprint(first.engine) == fingerprint(again.engine)


def test_other_seed_gives_other_data(first: Built, other: Built) -> None:
    assert first_leads(first.engine) != first_leads(other.engine)
    a, b = fingerprint(first.engine), fingerprint(other.engine)
    assert a["leads"] != b["leads"] and a["activities"] != b["activities"]


def test_scaled_build_keeps_the_organisation(first: Built) -> None:
    counts = first.summary.counts
    assert counts["users"] >= 60 and counts["teams"] == 15
    assert 2_000 <= counts["leads"] <= 4_000


def world_digest(seed: int, scale: float) -> str:
    world = simulate(seed, END, scale=scale)
    digest = hashlib.sha256()
    for table in world.tables:
        for name, col in table.columns.items():
            values = col.tolist() if isinstance(col, np.ndarray) else col
            digest.update(f"{table.name}.{name}={values!r}".encode())
    return digest.hexdigest()


def test_simulation_does_not_depend_on_string_hashing() -> None:
    """Set and dict ordering of strings changes with PYTHONHASHSEED; the data must not."""
    code = "from tests.demo.test_determinism import world_digest; print(world_digest(5, 0.02))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == world_digest(5, 0.02)
