"""The scoring page: edit the rule model with inline validation, preview its effect, save a version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local, utcnow
from evenhand.leads import scoring_bulk, scoring_service
from evenhand.leads.predict import service as predict_service
from evenhand.web import context
from evenhand.web.layout import Tr, shell

PREVIEW_DAYS = 30
BUCKETS = [f"{lo}–{lo + 9}" for lo in range(0, 100, 10)]


def _problems(body: str) -> list[dict[str, Any]]:
    try:
        scoring_service.validate(body)
    except Invalid as exc:
        return list(exc.details or [])
    return []


def scoring_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse("/login?next=/scoring", status_code=303)
    tr = context.use_locale(request)
    with session_scope(context.engine()) as session:
        current = scoring_service.active(session)
        body, version = current.body, current.version
        history = [(v.version, v.name, v.note, v.created_at, v.active) for v in scoring_service.versions(session)]
        predictive = predict_service.load_active(session)
    with shell(principal, tr, title=tr("Lead scoring"), path="/scoring"):
        with ui.tabs() as tabs:
            rules_tab = ui.tab(tr("Rule model"))
            model_tab = ui.tab(tr("Predictive model")).props('data-testid="predictive-tab"')
        with ui.tab_panels(tabs, value=rules_tab).classes("w-full"):
            with ui.tab_panel(rules_tab):
                ui.label(tr("Active rule model: version {version}", version=version)).classes("text-grey-7").props(
                    'data-testid="active-version"')
                _editor(principal, tr, body)
                _history(tr, history)
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


def _editor(principal: Principal, tr: Tr, body: str) -> None:
    editable = principal.manages_org
    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        editor = ui.codemirror(body, language="YAML").classes("grow h-[36rem] border").props(
            'data-testid="model-editor"')
        editor.set_enabled(editable)
        with ui.column().classes("w-[28rem] gap-2"):
            status = ui.label().props('data-testid="model-status" role="status"')
            problems = ui.column().classes("gap-1").props('data-testid="model-problems"')
            chart = _preview_chart(tr)
            summary = ui.label().classes("text-caption").props('data-testid="preview-summary"')
            note = ui.input(tr("What changed and why")).classes("w-full").props('data-testid="model-note"')
            with ui.row():
                preview_btn = ui.button(tr("Preview last {days} days", days=PREVIEW_DAYS)).props(
                    'outline data-testid="preview-model"')
                save_btn = ui.button(tr("Save as new version")).props('color=primary data-testid="save-model"')
            if not editable:
                note.set_visibility(False)
                preview_btn.set_visibility(False)
                save_btn.set_visibility(False)

    def check() -> bool:
        found = _problems(editor.value)
        problems.clear()
        with problems:
            for p in found:
                ui.label(f"{tr('Line {line}', line=p['line'] or '?')} · {p['field'] or '—'}: {p['message']}").classes(
                    "text-negative text-caption")
        editor.props("line_tooltips='{}'")
        counted = plural(len(found), N_("{count} problem"), N_("{count} problems"))
        status.text = tr("The model is valid.") if not found else tr(counted, count=len(found))
        status.classes(replace="text-positive" if not found else "text-negative")
        save_btn.set_enabled(not found)
        preview_btn.set_enabled(not found)
        return not found

    def preview() -> None:
        if not check():
            return
        candidate = scoring_service.compiled_body(editor.value)
        with session_scope(context.engine(), readonly=True) as session:
            result = scoring_bulk.preview(session, candidate, since=utcnow() - timedelta(days=PREVIEW_DAYS))
        _show_preview(chart, summary, result, tr)

    def save() -> None:
        if not check():
            return
        try:
            with session_scope(context.engine()) as session:
                row = scoring_service.save(session, editor.value, author=principal, note=note.value or "")
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="negative")
            return
        ui.notify(tr("Saved as version {version}.", version=row.version), type="positive")
        ui.navigate.reload()

    editor.on_value_change(lambda _: check())
    preview_btn.on_click(preview)
    save_btn.on_click(save)
    check()


def _preview_chart(tr: Tr) -> ui.echart:
    return ui.echart({
        "tooltip": {"trigger": "axis"}, "legend": {"data": [tr("Active model"), tr("This text")]},
        "xAxis": {"type": "category", "data": BUCKETS, "name": tr("Score")},
        "yAxis": {"type": "value", "name": tr("Leads")},
        "series": [{"name": tr("Active model"), "type": "bar", "data": []},
                   {"name": tr("This text"), "type": "bar", "data": []}],
    }).classes("w-full h-64").props('data-testid="preview-chart"')


def _show_preview(chart: ui.echart, summary: ui.label, result: dict[str, Any], tr: Tr) -> None:
    current, candidate = result["current"], result["candidate"]
    chart.options["series"][0]["data"] = current["histogram"]
    chart.options["series"][1]["data"] = candidate["histogram"]
    chart.update()
    summary.text = tr("{leads} leads from the last {days} days: mean {before} → {after}; high-value {hv_before} → "
                      "{hv_after}; {changed} scores change.", leads=result["leads"], days=PREVIEW_DAYS,
                      before=current["mean"], after=candidate["mean"], hv_before=current["high_value"],
                      hv_after=candidate["high_value"], changed=result["changed"])


def _history(tr: Tr, history: list[tuple[int, str, str, Any, bool]]) -> None:
    ui.label(tr("Versions")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("version", N_("Version")), ("name", N_("Model name")), ("note", N_("Note")), ("created", N_("Saved")),
        ("active", N_("In use")))]
    zone = get_settings().zone
    rows = [{"version": v, "name": name, "note": note, "created": local(created, zone).strftime("%Y-%m-%d %H:%M"),
             "active": "✓" if active else ""} for v, name, note, created, active in history]
    ui.table(columns=columns, rows=rows, row_key="version").classes("w-full")


def register() -> None:
    ui.page("/scoring")(scoring_page)
