"""The home page's team section for reps and supervisors: who is online at a glance (how many of the team, and their
names), then the team's roster with presence and leave."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import Presence, Role, User
from evenhand.org import repository
from evenhand.org.pages import REFRESH_SECONDS, rosters_panel
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, presence_chip


def online_now(principal: Principal) -> tuple[int, list[tuple[str, Presence]]]:
    """How many active members the reader's teams have, and those not offline (online first), by name."""
    with session_scope(context.engine(), readonly=True) as session:
        members: list[User] = [m for *_, people in repository.rosters(session, principal) for m in people if m.active]
        present = [(m.display_name, m.presence) for m in members if m.presence is not Presence.OFFLINE]
    return len(members), sorted(present, key=lambda p: (p[1] is not Presence.ONLINE, p[0]))


def who_is_online(principal: Principal, tr: Tr) -> None:
    shown: list[Any] = [online_now(principal)]

    @ui.refreshable
    def render() -> None:
        total, present = shown[0]
        online = sum(1 for _, p in present if p is Presence.ONLINE)
        with ui.row().classes("items-center gap-3").props('data-home="online"'):
            ui.label(tr("Who is online")).classes("text-h6")
            ui.badge(tr("{online} of {total} online", online=online, total=total),
                     color="positive" if online else "grey").props('data-testid="online-count"')
            for name, presence in present:
                with ui.row().classes("items-center gap-1 no-wrap").props(f'data-online="{name}"'):
                    ui.label(name)
                    presence_chip(presence, tr)

    def follow() -> None:
        """Redraw only when someone came or went."""
        now = online_now(principal)
        if now != shown[0]:
            shown[0] = now
            render.refresh()

    render()
    ui.timer(REFRESH_SECONDS, follow)


def my_team(principal: Principal, tr: Tr) -> None:
    if principal.role not in (Role.SUPERVISOR, Role.REP):
        return
    who_is_online(principal, tr)
    ui.label(tr("My team") if principal.role is Role.SUPERVISOR else tr("Your team")).classes("text-h6")
    rosters_panel(principal, tr, settings=principal.role is Role.SUPERVISOR)  # a supervisor sets their team's leave


def register() -> None:
    HOME.add(my_team, order=55)
