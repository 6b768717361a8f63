"""``scoring evaluate`` and ``scoring train`` as a user runs them: settings and database from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evenhand.leads.predict import synthetic
from tests.leads.predict.conftest import Run
from tests.support import clear_caches


@pytest.fixture
def run_db(run: Run, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("EVENHAND_DATABASE_URL", db_url)
    clear_caches()
    return run


def test_evaluate_json_is_one_object_with_the_figures(run: Run, export_csv: Path) -> None:
    result = run("evaluate", "--csv", export_csv, "--target", "Converted", "--id-column", "Prospect ID", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"auc", "brier", "log_loss", "n_train", "n_test", "top_decile_conversion", "base_rate",
            "calibration"} <= set(report)
    assert set(report["baselines"]) == {"logistic", "naive_bayes"}
    assert sum(row["count"] for row in report["calibration"]) == report["n_test"] == 900


def test_evaluate_prints_the_comparison_tables(run: Run, export_csv: Path) -> None:
    result = run("evaluate", "--csv", export_csv, "--target", "Converted", "--exclude", "Lead Number,Magazine",
                 "--test-size", "0.25", "--seed", "3")
    assert result.exit_code == 0, result.output
    for text in ("Held-out evaluation: 750 of 3000 rows", "Logistic regression", "Naive Bayes (Odoo)",
                 "Calibration", "Left out column Prospect ID"):
        assert text in result.stdout


@pytest.mark.parametrize("args, named", [
    (["--target", "Won"], "Won"),
    (["--target", "Lead Origin"], "Lead Origin"),
    (["--target", "Converted", "--exclude", "Nope"], "Nope"),
    ([], "--target"),
])
def test_bad_input_is_one_red_line_naming_the_column(run: Run, export_csv: Path, args: list[str], named: str) -> None:
    result = run("evaluate", "--csv", export_csv, *args)
    assert result.exit_code == 1
    assert named in result.output and "Traceback" not in result.output


def test_a_missing_file_is_named(run: Run, tmp_path: Path) -> None:
    result = run("evaluate", "--csv", tmp_path / "nope.csv", "--target", "Converted")
    assert result.exit_code == 1 and "nope.csv" in result.output


def test_train_from_a_file_stores_an_active_version(run_db: Run, tmp_path: Path) -> None:
    path = synthetic.write_csv(tmp_path / "small.csv", 600, seed=5)
    result = run_db("train", "--csv", path, "--target", "Converted")
    assert result.exit_code == 0, result.output
    assert "Stored predictive model version 1" in result.stdout
    assert "evenhand's leads do not have" in result.stdout  # columns named as in the file, not as lead fields


def test_train_on_an_empty_history_says_why(run_db: Run) -> None:
    result = run_db("train")
    assert result.exit_code == 1 and "No leads with a known outcome" in result.output
