"""The supervisor's appeals to rule on, on the home page: the open appeals of their teams, oldest first, each linking
to its card in the appeals queue (``/appeals``), where the evidence is shown and the ruling made."""

from __future__ import annotations

from nicegui import ui

from evenhand.appeals import reading
from evenhand.appeals.schemas import REASON_CODES
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.kit.clock import local
from evenhand.models import Role
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

PATH = "/appeals"
SHOWN = 5


def appeals_to_rule(principal: Principal, tr: Tr) -> None:
    if principal.role is not Role.SUPERVISOR:
        return
    with session_scope(context.engine(), readonly=True) as session:
        rows = reading.waiting(session, principal)
    zone = get_settings().zone
    with home_tile(tr, "appeals", tr("Appeals to rule on"), len(rows), see_all=PATH):
        if not rows:
            home_empty(tr("No appeal waiting for your ruling."))
        for row in rows[:SHOWN]:
            appeal = row.appeal
            with ui.row().classes("w-full items-center gap-3").props(f'data-home-appeal="{appeal.id}"'):
                ui.link(row.company, f"{PATH}#appeal-{appeal.id}").classes("text-weight-bold")
                ui.badge(tr(REASON_CODES.get(appeal.reason_code, appeal.reason_code)), color="warning")
                ui.label(tr("{rep} appealed at {when}", rep=row.appellant,
                            when=local(appeal.created_at, zone).strftime("%m-%d %H:%M"))).classes("text-grey-8")


def register() -> None:
    HOME.add(appeals_to_rule, order=45)
