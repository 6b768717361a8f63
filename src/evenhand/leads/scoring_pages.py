"""The scoring page: edit the rule model with inline validation, preview its effect, save a version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nicegui import ui
from sqlalchemy.orm import Session
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.leads import scoring_bulk, scoring_service
from evenhand.leads.predict import service as predict_service
from evenhand.web import context, document_editor
from evenhand.web.layout import Tr, shell

PREVIEW_DAYS = 30
BUCKETS = [f"{lo}–{lo + 9}" for lo in range(0, 100, 10)]


MODEL = document_editor.Document(
    key="model", title=N_("Lead scoring"), active_label=N_("Active rule model: version {version}"),
    valid=N_("The model is valid."), name_column=N_("Model name"), active=scoring_service.MODELS.active,
    history=scoring_service.MODELS.history, validate=scoring_service.MODELS.validate, save=scoring_service.save,
    height="h-[36rem]")


def scoring_page(principal: Principal, tr: Tr, request: Request) -> None:
    with session_scope(context.engine()) as session:
        predictive = predict_service.load_active(session)
    preview = document_editor.Preview(N_("Preview last {days} days"), _preview, _show_preview,
                                      button_id="preview-model", area_id="model-preview",
                                      label_params={"days": PREVIEW_DAYS})
    with shell(principal, tr, title=tr("Lead scoring"), path="/scoring"):
        with ui.tabs() as tabs:
            rules_tab = ui.tab(tr("Rule model"))
            model_tab = ui.tab(tr("Predictive model")).props('data-testid="predictive-tab"')
        with ui.tab_panels(tabs, value=rules_tab).classes("w-full"):
            with ui.tab_panel(rules_tab):
                document_editor.draw(MODEL, principal, tr, preview)
            with ui.tab_panel(model_tab):
                _evaluation(predictive, tr)
    return None


METRICS = (("auc", N_("ROC AUC (higher is better)")), ("brier", N_("Brier score (lower is better)")),
           ("log_loss", N_("Log loss (lower is better)")),
           ("top_decile_conversion", N_("Conversion in the top tenth")))


def _evaluation(model: Any, tr: Tr) -> None:
    """The held-out evaluation of the active predictive model, beside both baselines, and its calibration."""
    if model is None:
        ui.label(tr("No predictive model yet. Train one with: evenhand scoring train")).classes("text-grey-7")
        return
    m = model.metrics
    ui.label(tr("Version {version}: {algorithm}, trained on {source}", version=model.version,
                algorithm=model.algorithm, source=model.trained_on)).classes("text-grey-7")
    ui.label(tr("Held-out evaluation: {n_test} of {n_rows} rows, base rate {rate}", n_test=m["n_test"],
                n_rows=m["n_rows"], rate=f"{100 * m['base_rate']:.1f}%"))
    names = {"model": tr("Model"), "logistic": tr("Logistic regression"), "naive_bayes": tr("Naive Bayes (Odoo)")}
    figures = {"model": m, **m["baselines"]}
    columns = [{"name": "metric", "label": tr("Figure"), "field": "metric", "align": "left"}] + [
        {"name": k, "label": v, "field": k} for k, v in names.items()]
    rows = [{"metric": tr(text), **{k: f"{figures[k][key]:.4f}" for k in names}} for key, text in METRICS]
    ui.table(columns=columns, rows=rows, row_key="metric").classes("w-full max-w-3xl").props(
        'data-testid="evaluation-table"')
    _calibration_chart(m["calibration"], tr)


def _calibration_chart(rows: list[dict[str, Any]], tr: Tr) -> None:
    points = [[round(r["mean_predicted"], 4), round(r["observed"], 4)] for r in rows]
    top = max([1e-3, *[max(p) for p in points]])
    ui.echart({
        "title": {"text": tr("Calibration on the held-out part"), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "item"}, "legend": {"bottom": 0},
        "xAxis": {"type": "value", "name": tr("Predicted"), "max": round(top * 1.05, 3)},
        "yAxis": {"type": "value", "name": tr("Observed"), "max": round(top * 1.05, 3)},
        "series": [{"name": tr("Model"), "type": "line", "data": points, "symbolSize": 8},
                   {"name": tr("Perfect calibration"), "type": "line", "data": [[0, 0], [top, top]],
                    "lineStyle": {"type": "dashed"}, "symbol": "none"}],
    }).classes("w-full max-w-3xl h-80").props('data-testid="calibration-chart"')


def _preview(session: Session, _: Principal, text: str) -> dict[str, Any]:
    """The last days' leads scored under the active model and under this text."""
    candidate = scoring_service.compiled_body(text)
    return scoring_bulk.preview(session, candidate, since=utcnow() - timedelta(days=PREVIEW_DAYS))


def _show_preview(area: ui.column, result: dict[str, Any], tr: Tr) -> None:
    """The scores' histogram under both, and what changes."""
    current, candidate = result["current"], result["candidate"]
    area.clear()
    with area:
        ui.echart({
            "tooltip": {"trigger": "axis"}, "legend": {"data": [tr("Active model"), tr("This text")]},
            "xAxis": {"type": "category", "data": BUCKETS, "name": tr("Score")},
            "yAxis": {"type": "value", "name": tr("Leads")},
            "series": [{"name": tr("Active model"), "type": "bar", "data": current["histogram"]},
                       {"name": tr("This text"), "type": "bar", "data": candidate["histogram"]}],
        }).classes("w-full h-64").props('data-testid="preview-chart"')
        ui.label(tr("{leads} leads from the last {days} days: mean {before} → {after}; high-value {hv_before} → "
                    "{hv_after}; {changed} scores change.", leads=result["leads"], days=PREVIEW_DAYS,
                    before=current["mean"], after=candidate["mean"], hv_before=current["high_value"],
                    hv_after=candidate["high_value"], changed=result["changed"])).classes("text-caption").props(
            'data-testid="preview-summary"')


def register() -> None:
    ui.page("/scoring")(context.page(scoring_page))
