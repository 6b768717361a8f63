"""The held-out report on a seeded synthetic export with a known signal, and explanations of single leads."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from evenhand.errors import Invalid
from evenhand.leads.predict import synthetic
from evenhand.leads.predict.data import Dataset, from_table
from evenhand.leads.predict.evaluate import evaluate
from evenhand.leads.predict.model import LeadModel, explain, fit, scores

REPORT_KEYS = {"auc", "brier", "log_loss", "n_train", "n_test", "base_rate", "top_decile_conversion", "calibration",
               "baselines"}


@pytest.fixture(scope="module")
def model(export: Dataset) -> LeadModel:
    return fit(export, seed=42)


class TestReport:
    def test_the_model_finds_the_signal(self, report: dict[str, Any]) -> None:
        assert report["auc"] > 0.75
        assert report["top_decile_conversion"] > 2 * report["base_rate"]

    def test_the_model_beats_naive_bayes_and_at_least_ties_logistic_regression(self, report: dict[str, Any]) -> None:
        versus = report["versus"]
        assert versus["naive_bayes"]["auc_difference"] > 0 and versus["naive_bayes"]["p_value"] < 0.05
        logistic = versus["logistic"]
        assert logistic["auc_difference"] > 0 or logistic["p_value"] > 0.05, logistic

    def test_every_block_has_the_figures_and_calibration_covers_the_held_out_rows(self, report: dict[str, Any]
                                                                                   ) -> None:
        assert set(report) >= REPORT_KEYS
        assert set(report["baselines"]) == {"logistic", "naive_bayes"}
        for block in (report, *report["baselines"].values()):
            assert sum(row["count"] for row in block["calibration"]) == report["n_test"]
            assert len(block["calibration"]) == 10
        assert (report["n_train"], report["n_test"]) == (2100, 900)

    def test_calibrated_probabilities_track_observed_conversion(self, report: dict[str, Any]) -> None:
        gaps = [abs(row["mean_predicted"] - row["observed"]) for row in report["calibration"]]
        assert report["brier"] < report["base_rate"] * (1 - report["base_rate"])
        assert max(gaps) < 0.1

    def test_ids_record_numbers_and_constant_columns_are_left_out(self, report: dict[str, Any]) -> None:
        dropped = {d["column"]: d["reason"] for d in report["dropped"]}
        assert dropped == {"Lead Number": "id_number", "Magazine": "constant"}  # Prospect ID was --id-column
        used = {f["name"] for f in report["features"]}
        assert {"行业", "公司规模（人）", "TotalVisits", "Specialization"} <= used

    def test_the_same_seed_gives_the_same_report_and_another_seed_another_split(self, export: Dataset,
                                                                               report: dict[str, Any]) -> None:
        assert json.dumps(evaluate(export, seed=42)) == json.dumps(report)
        assert evaluate(export, seed=5)["auc"] != report["auc"]


class TestModel:
    def test_scores_are_whole_numbers_from_0_to_100(self, model: LeadModel) -> None:
        _, rows = synthetic.lead_export(50, seed=99)
        values = scores(model, rows)
        assert all(isinstance(v, int) and 0 <= v <= 100 for v in values) and len(set(values)) > 10

    def test_a_fit_with_the_same_seed_predicts_the_same(self, export: Dataset, model: LeadModel) -> None:
        _, rows = synthetic.lead_export(50, seed=99)
        assert np.array_equal(fit(export, seed=42).predict_proba(rows), model.predict_proba(rows))

    def test_unknown_categories_and_missing_columns_still_score(self, model: LeadModel) -> None:
        p = model.predict_proba([{"Lead Origin": "Carrier pigeon"}, {}])
        assert ((p > 0) & (p < 1)).all()


class TestExplain:
    def _row(self, **changes: str) -> dict[str, str]:
        _, rows = synthetic.lead_export(400, seed=99)
        typical = next(r for r in rows if r["Lead Origin"] == "Landing Page Submission"
                       and r["Lead Profile"] == "Select" and r["Do Not Email"] == "No")
        return {**typical, **changes}

    def test_a_strongly_converting_value_is_among_the_reasons_up(self, model: LeadModel) -> None:
        lines = explain(model, self._row(**{"Lead Origin": "Lead Add Form"}))
        ups = [c.feature for c in lines if c.delta > 0]
        assert "Lead Origin" in ups and len(ups) <= 3
        assert next(c.value for c in lines if c.feature == "Lead Origin") == "Lead Add Form"

    def test_a_strongly_deterring_value_is_among_the_reasons_down(self, model: LeadModel) -> None:
        lines = explain(model, self._row(**{"Lead Profile": "Student of SomeSchool"}))
        downs = [c.feature for c in lines if c.delta < 0]
        assert "Lead Profile" in downs and len(downs) <= 3

    def test_ups_come_first_largest_first(self, model: LeadModel) -> None:
        deltas = [c.delta for c in explain(model, self._row(**{"Lead Origin": "Lead Add Form"}))]
        ups, downs = [d for d in deltas if d > 0], [d for d in deltas if d < 0]
        assert deltas == ups + downs and ups == sorted(ups, reverse=True) and downs == sorted(downs)


def test_too_few_outcomes_of_either_kind_are_refused_with_the_counts() -> None:
    data = from_table(["x", "won"], [{"x": str(i % 3), "won": "1" if i < 6 else "0"} for i in range(200)],
                      target="won")
    with pytest.raises(Invalid) as caught:
        evaluate(data)
    assert (caught.value.params["positives"], caught.value.params["negatives"]) == (6, 194)
