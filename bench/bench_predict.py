"""Predictive scoring on a 20,000-row synthetic export: training time, prediction throughput, explanation
latency, and the held-out figures of the model beside both baselines (measured in the same run).

The export is ``evenhand.leads.predict.synthetic`` — a stand-in shaped like real lead exports, not real
data; its figures show the pipeline works, not how well it does on any company's leads.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from evenhand.leads.predict import service, synthetic
from evenhand.leads.predict.data import from_table
from evenhand.leads.predict.evaluate import evaluate
from evenhand.leads.predict.model import explain, fit

N_ROWS, SEED = 20_000, 11
FIGURES = ("auc", "brier", "log_loss", "top_decile_conversion")


def _timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def _median_ms(work: Callable[[], Any], repeats: int) -> float:
    times = [_timed(work)[1] for _ in range(repeats)]
    return round(1000 * statistics.median(times), 2)


def run() -> dict[str, Any]:
    header, rows = synthetic.lead_export(N_ROWS, SEED)
    data = from_table(header, rows, target="Converted", id_column="Prospect ID")
    report, evaluate_s = _timed(lambda: evaluate(data, test_size=0.3, seed=42))
    model, train_s = _timed(lambda: fit(data, seed=42))
    _, predict_s = _timed(lambda: model.predict_proba(rows))
    figures = {name: {k: block[k] for k in FIGURES}
               for name, block in (("model", report), *report["baselines"].items())}
    return {
        "rows": N_ROWS, "n_train": report["n_train"], "n_test": report["n_test"], "base_rate": report["base_rate"],
        "algorithm": report["algorithm"], "evaluate_s": round(evaluate_s, 2), "train_all_rows_s": round(train_s, 2),
        "predictions_per_s_batch": round(N_ROWS / predict_s), "predict_one_ms": _median_ms(
            lambda: model.predict_proba(rows[:1]), 100),
        "explain_one_ms": _median_ms(lambda: explain(model, rows[0]), 30),
        "artifact_bytes": len(service.artifact(model)), "held_out": figures, "versus": report["versus"],
    }
