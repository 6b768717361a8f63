"""The KPI definitions editor (/monitor/kpis/edit): the YAML checked as it is typed, problems marked on their lines,
saved with a note as the next version, the history with each version's difference; beside the problems, the fact
sources and the columns a KPI may name. Admin and ops edit; everyone else reads."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.i18n import N_
from evenhand.monitor import service
from evenhand.monitor.kpis import KPIS
from evenhand.monitor.sources import SOURCES
from evenhand.web import context, document_editor
from evenhand.web.layout import Tr

PATH = "/monitor/kpis/edit"
NAV = "/monitor"
DEFINITIONS = document_editor.Document(
    key="kpis", title=N_("KPI definitions"), active_label=N_("Active KPI definitions: version {version}"),
    valid=N_("The KPI definitions are valid."), name_column=N_("Definitions name"), active=KPIS.active,
    history=KPIS.history, validate=KPIS.validate, save=service.save)
COLUMNS = ((N_("Dimensions"), "dimensions"), (N_("Yes/no"), "booleans"), (N_("Measures"), "measures"))


class Sources(document_editor.Panel):
    """What each fact source offers a KPI: its dimensions, yes/no columns (a rate's numerator) and measures."""

    def aside(self) -> None:
        tr = self.editor.tr
        ui.label(tr("Fact sources")).classes("text-subtitle1")
        with ui.column().classes("gap-1").props('data-testid="kpi-sources"'):
            for source in SOURCES.values():
                ui.label(source.name).classes("text-weight-medium font-mono")
                for title, attribute in COLUMNS:
                    names = getattr(source, attribute)
                    if names:
                        ui.label(f"{tr(title)}: {', '.join(names)}").classes("text-caption font-mono")


def definitions_page(principal: Principal, tr: Tr) -> None:
    document_editor.page(principal, tr, DEFINITIONS, nav=NAV, panel=Sources())


def register() -> None:
    ui.page(PATH)(context.page(definitions_page))
