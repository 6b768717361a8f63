"""Open alerts on the home page: a rep's on their own deals and leads, a supervisor's on their teams'; how many,
the newest few, and the way to the alert inbox (sales ops and the head of sales see alerts by team elsewhere)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from evenhand.alerts import service
from evenhand.alerts.pages import ENTITIES, PATH, SEVERITIES, SEVERITY_COLOURS, _row, _subject_link, _when
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.models import Role
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

SHOWN = 5
SCOPES = {Role.REP: "mine", Role.SUPERVISOR: "teams"}


def open_alerts(principal: Principal, tr: Tr) -> None:
    scope = SCOPES.get(principal.role)
    if scope is None:
        return
    with session_scope(context.engine(), readonly=True) as session:
        count = service.counted(session, principal, scope=scope)
        newest = service.listed(session, principal, scope=scope, limit=SHOWN)
        rows = [_row(a, service.rep_names(session, newest)) for a in newest]
    title = tr("My open alerts") if scope == "mine" else tr("Open alerts in my teams")
    with home_tile(tr, "alerts", title, count, see_all=PATH):
        if not rows:
            home_empty(tr("No open alert — nothing has gone quiet."))
        for row in rows:
            _line(row, tr, show_rep=scope == "teams")


def _line(row: dict[str, Any], tr: Tr, *, show_rep: bool) -> None:
    with ui.row().classes("w-full items-center gap-3").props(f'data-home-alert="{row["id"]}"'):
        ui.badge(tr(SEVERITIES.get(row["severity"], N_("Warning"))),
                 color=SEVERITY_COLOURS.get(row["severity"], "warning"))
        ui.link(row["label"], f"{PATH}/{row['id']}").classes("text-weight-bold")
        subject = f"{tr(ENTITIES[row['entity']])}: {row['subject']}"
        link = _subject_link(row["entity"], row["entity_id"])
        ui.link(subject, link).classes("text-grey-8") if link else ui.label(subject).classes("text-grey-8")
        if show_rep:
            ui.label(row["rep"]).classes("text-grey-8")
        ui.space()
        ui.label(tr("Opened {when}", when=_when(row["opened"]))).classes("text-caption text-grey-7")


def register() -> None:
    HOME.add(open_alerts, order=40)
