"""Shared data for the predictive-scoring tests: one seeded synthetic export and its held-out report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from evenhand.leads.predict import synthetic
from evenhand.leads.predict.cli import scoring_app
from evenhand.leads.predict.data import Dataset, from_table
from evenhand.leads.predict.evaluate import evaluate
from tests.support import clear_caches

ROWS, SEED = 3000, 7


@pytest.fixture(scope="session")
def export_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_csv(tmp_path_factory.mktemp("predict") / "leads.csv", ROWS, SEED)


@pytest.fixture(scope="session")
def export() -> Dataset:
    header, rows = synthetic.lead_export(ROWS, SEED)
    return from_table(header, rows, target="Converted", id_column="Prospect ID", description="synthetic")


@pytest.fixture(scope="session")
def report(export: Dataset) -> dict[str, Any]:
    return evaluate(export, test_size=0.3, seed=42)


Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``evenhand scoring …`` as a user runs it: settings and database from the environment (English)."""
    monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENHAND_LOCALE", "en")
    clear_caches()

    def invoke(*args: object) -> Result:
        return CliRunner().invoke(scoring_app, [str(a) for a in args])

    yield invoke
    clear_caches()
