"""The presence switch in the header of a rep's or supervisor's pages: coming online may place held leads."""

from __future__ import annotations

from nicegui import ui
from nicegui.events import ValueChangeEventArguments

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import Presence, Role, User
from evenhand.org import service as org_service
from evenhand.routing import flows
from evenhand.web import context
from evenhand.web.labels import label
from evenhand.web.layout import HEADER, Tr


def presence_switch(principal: Principal, tr: Tr) -> None:
    if principal.role not in (Role.REP, Role.SUPERVISOR):
        return
    with session_scope(context.engine(), readonly=True) as session:
        current = org_service.get(session, User, principal.user_id).presence

    def change(event: ValueChangeEventArguments) -> None:
        value = Presence(event.value)
        with session_scope(context.engine()) as session:
            flows.set_presence(session, principal.user_id, value, actor=principal)
        ui.notify(tr("You are now {state}.", state=tr(label(value))))

    options = {p.value: tr(label(p)) for p in Presence}
    ui.toggle(options, value=current.value, on_change=change).props(
        'dense toggle-color=positive color=white text-color=black data-testid="presence"')


def register() -> None:
    HEADER.add(presence_switch, order=10)
