"""The home page's counters: how many leads, opportunities and activities the reader may see."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.reports import service
from evenhand.web import context
from evenhand.web.layout import HOME, Tr


def tiles(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        counts = service.visible_counts(session, principal)
    with ui.row().classes("gap-4"):
        for name, value in counts.items():
            with ui.card().classes("w-48").props(f'data-tile="{name.lower()}"'):
                ui.label(tr(name)).classes("text-grey-7")
                ui.label(f"{value:,}").classes("text-h5")


def register() -> None:
    HOME.add(tiles, order=10)
