"""``/performance/templates``: the scorecard templates' editor (admin and ops edit; everyone else reads), checked as
typed with every problem on its line, and a preview: the last closed period's ranking rescored from its frozen
inputs under the draft beside the active templates (the last full month, measured now, while none is closed)."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.i18n import N_, current_locale
from evenhand.performance import document, service
from evenhand.web import context, document_editor
from evenhand.web.layout import Tr

PATH = "/performance/templates"
NAV = "/performance"
TEMPLATES = document_editor.Document(
    key="scorecard-templates", title=N_("Scorecard templates"),
    active_label=N_("Active scorecard templates: version {version}"), valid=N_("The templates are valid."),
    name_column=N_("Templates name"), active=document.TEMPLATES.active, history=document.TEMPLATES.history,
    validate=document.TEMPLATES.validate, save=document.save)
COLUMNS = (("name", N_("Rep")), ("team", N_("Team")), ("active_rank", N_("Active: rank")),
           ("active_total", N_("Active: total")), ("active_tier", N_("Active: tier")),
           ("draft_rank", N_("Draft: rank")), ("draft_total", N_("Draft: total")), ("draft_tier", N_("Draft: tier")),
           ("moved", N_("Change")))


def templates_page(principal: Principal, tr: Tr) -> None:
    locale = current_locale()  # the preview is drawn by an event handler, outside the request: its locale, fixed here

    def show(area: ui.column, result: service.Comparison, tr: Tr) -> None:
        show_preview(area, result, tr, locale)

    preview = document_editor.Preview(N_("Preview the ranking"), service.preview, show,
                                      button_id="run-preview", area_id="scorecard-preview")
    document_editor.page(principal, tr, TEMPLATES, nav=NAV, panel=preview)


def show_preview(area: ui.column, result: service.Comparison, tr: Tr, locale: str) -> None:
    area.clear()
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k in ("name", "team") else "right"}
               for k, v in COLUMNS]
    with area:
        ui.label(tr("The frozen inputs of {period}, the last closed period.", period=result.period) if result.frozen
                 else tr("{period}, the last full month, measured now.", period=result.period)).classes(
            "text-caption text-grey-7").props('data-testid="preview-period"')
        ui.table(columns=columns, rows=rows(result, locale), row_key="user_id").classes("w-full").props(
            'dense flat bordered data-testid="preview-ranking"')


def rows(result: service.Comparison, locale: str) -> list[dict[str, object]]:
    """The ranking as the table shows it: totals to one decimal, tiers by their label, moves signed."""
    tier = {key: label["zh-CN" if locale.startswith("zh") else "en"] for key, label in result.tier_labels.items()}
    shown = []
    for row in service.changes(result):
        shown.append({**row, "team": row["team"] or "—",
                      "active_total": _total(row["active_total"]), "draft_total": _total(row["draft_total"]),
                      "active_tier": tier.get(row["active_tier"] or "", "—"),
                      "draft_tier": tier.get(row["draft_tier"] or "", "—"),
                      "moved": "—" if not row["moved"] else f"{row['moved']:+d}"})
    return shown


def _total(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def register() -> None:
    ui.page(PATH)(context.page(templates_page))
