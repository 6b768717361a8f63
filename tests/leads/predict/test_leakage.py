"""The leakage guard: a column that gives the outcome away is named, with the --exclude that leaves it out;
honest columns, strong or weak, are not."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evenhand.leads.predict import synthetic
from evenhand.leads.predict.leakage import Leak, datetimes, find_leaks
from tests.leads.predict.conftest import Run

N = 400


def frame(seed: int = 3) -> tuple[dict[str, list[Any]], np.ndarray]:
    """Honest columns (one strong, one weak, one noise, an ID) and the outcome."""
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.35).astype(np.int8)
    return {
        "Industry": [str(v) for v in rng.choice(["A", "B", "C", "D"], N)],
        "Visits": (3 * y + rng.normal(0, 2.5, N)).round(1).tolist(),  # strong, but far from separating
        "Webinars": (y * rng.integers(0, 2, N) + rng.integers(0, 3, N)).tolist(),
        "Prospect ID": [f"P-{i:05d}-{rng.integers(1 << 30)}" for i in range(N)],
        "Empty": [None] * N,
    }, y


class TestFindLeaks:
    def test_honest_columns_are_not_named(self) -> None:
        columns, y = frame()
        assert find_leaks(columns, y) == []

    def test_a_copied_target_is_named_with_its_auc(self) -> None:
        columns, y = frame()
        columns["Tags"] = ["Will revert after reading the email" if v else "Ringing" for v in y.tolist()]
        [leak] = find_leaks(columns, y)
        assert (leak.column, leak.reason) == ("Tags", "separates") and leak.auc is not None and leak.auc >= 0.99

    def test_a_nearly_copied_target_is_named_too_in_either_direction(self) -> None:
        columns, y = frame()
        rng = np.random.default_rng(1)
        flipped = np.where(rng.random(N) < 0.02, 1 - y, y)  # 2 % of rows disagree
        columns["Lead Quality"] = [["High in Relevance", "Worst"][v] for v in flipped.tolist()]
        columns["Days to close"] = (40 - 30 * y + rng.normal(0, 3, N)).tolist()  # lower means converted
        found = {leak.column: leak for leak in find_leaks(columns, y)}
        assert set(found) == {"Lead Quality", "Days to close"}
        assert all(leak.reason == "separates" and (leak.auc or 0) >= 0.95 for leak in found.values())

    def test_a_field_filled_in_only_for_won_leads_leaks_through_its_blanks(self) -> None:
        columns, y = frame()
        amounts = np.random.default_rng(5).uniform(1_000, 50_000, N).round(2).tolist()
        columns["Deal amount"] = [a if v else None for a, v in zip(amounts, y.tolist(), strict=True)]
        assert [(leak.column, leak.reason) for leak in find_leaks(columns, y)] == [("Deal amount", "separates")]

    def test_many_rare_values_do_not_separate_by_themselves(self) -> None:
        """Target means are learned out of fold: a value seen on one row says nothing about that row."""
        columns, y = frame()
        rng = np.random.default_rng(2)
        columns["City"] = [f"City {v}" for v in rng.integers(0, 45, N).tolist()]
        assert find_leaks(columns, y) == []

    def test_a_time_after_the_outcomes_time_is_named_and_the_outcome_time_by_its_name(self) -> None:
        columns, y = frame()
        rng = np.random.default_rng(4)
        closed = [date(2025, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 300, N)]
        columns["Close Date"] = [d.isoformat() for d in closed]
        columns["Created"] = [(d - timedelta(days=int(k))).isoformat() for d, k in zip(closed, rng.integers(5, 90, N),
                                                                                       strict=True)]
        columns["Last Activity Date"] = [f"{d + timedelta(days=int(k))} 10:30" for d, k in
                                         zip(closed, rng.integers(0, 20, N), strict=True)]
        columns["Lost Reason"] = [None if v else ["Budget", "Timing"][i % 2] for i, v in enumerate(y.tolist())]
        found = find_leaks(columns, y)
        by_column = {leak.column: leak for leak in found}
        assert set(by_column) == {"Close Date", "Last Activity Date", "Lost Reason"}
        later = by_column["Last Activity Date"]
        assert (later.reason, later.outcome_column) == ("after_outcome", "Close Date")
        assert later.later_share is not None and later.later_share > 0.9
        assert by_column["Close Date"].reason == "post_outcome_name"
        assert by_column["Lost Reason"].reason == "separates"  # what it does outranks what it is called

    def test_a_single_outcome_finds_nothing_to_separate(self) -> None:
        columns, _ = frame()
        assert find_leaks(columns, np.zeros(N, dtype=np.int8)) == []

    def test_datetimes_are_told_from_numbers_and_text(self) -> None:
        assert datetimes(["2025-03-01", "2025/03/02 10:00", None]) is not None
        assert datetimes(["2025", "2026", "2027"]) is None
        assert datetimes(["12.5", "3"]) is None
        assert datetimes(["Mumbai", "2025-03-01"]) is None

    def test_a_leak_reads_as_a_plain_dict(self) -> None:
        assert Leak("Tags", "separates", auc=0.97).as_dict() == {
            "column": "Tags", "reason": "separates", "auc": 0.97, "outcome_column": None, "later_share": None}


# --- the commands -------------------------------------------------------------------------------------



@pytest.fixture(scope="module")
def leaky_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic export with a Tags column sales fills in as the lead is worked, mostly after the outcome."""
    header, rows = synthetic.lead_export(600, seed=9)
    rng = np.random.default_rng(9)
    for row in rows:
        won = row["Converted"] == "1"
        honest = rng.random() < 0.01
        row["Tags"] = "Closed by Horizzon" if won != honest else "Ringing"
    path = tmp_path_factory.mktemp("leaky") / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*header, "Tags"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_evaluate_warns_and_names_the_exclude_option(run: Run, leaky_csv: Path) -> None:
    result = run("evaluate", "--csv", leaky_csv, "--target", "Converted", "--id-column", "Prospect ID")
    assert result.exit_code == 0, result.output
    assert "Column 'Tags' alone separates the outcome (AUC 0.9" in result.stdout
    assert "it is probably recorded after the outcome. Re-run with --exclude Tags" in result.stdout


def test_the_json_report_lists_the_leak_and_excluding_it_clears_it(run: Run, leaky_csv: Path) -> None:
    result = run("evaluate", "--csv", leaky_csv, "--target", "Converted", "--id-column", "Prospect ID", "--json")
    assert result.exit_code == 0, result.output
    [leak] = json.loads(result.stdout)["leakage"]
    assert (leak["column"], leak["reason"]) == ("Tags", "separates") and leak["auc"] >= 0.95
    again = run("evaluate", "--csv", leaky_csv, "--target", "Converted", "--id-column", "Prospect ID",
                "--exclude", "Tags", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["leakage"] == []
