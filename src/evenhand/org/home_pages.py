"""The home page's team section for reps and supervisors: their team's presence and leave."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.models import Role
from evenhand.org.pages import rosters_panel
from evenhand.web.layout import HOME, Tr


def my_team(principal: Principal, tr: Tr) -> None:
    if principal.role not in (Role.SUPERVISOR, Role.REP):
        return
    ui.label(tr("My team") if principal.role is Role.SUPERVISOR else tr("Your team")).classes("text-h6")
    rosters_panel(principal, tr, settings=principal.role is Role.SUPERVISOR)  # a supervisor sets their team's leave


def register() -> None:
    HOME.add(my_team, order=20)
