"""Organisation pages: team rosters with live presence (Admin, and a supervisor's own team)."""

from __future__ import annotations

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.org import repository
from evenhand.web import context
from evenhand.web.labels import label
from evenhand.web.layout import STAFF, Tr, presence_chip, shell

REFRESH_SECONDS = 5.0


def rosters_panel(principal: Principal, tr: Tr) -> None:
    """Teams the principal may see, each with its reps' level and presence, refreshed live."""

    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            teams = repository.rosters(session, principal)
        if not teams:
            ui.label(tr("No team to show.")).classes("text-grey")
        for team, dept, region, supervisor, members in teams:
            _team_card(tr, team.name, dept, region, supervisor.display_name if supervisor else None, members)

    render()
    ui.timer(REFRESH_SECONDS, render.refresh)


def _team_card(tr: Tr, name: str, dept: str, region: str | None, supervisor: str | None, members: list) -> None:
    from evenhand.config import get_settings

    zone = get_settings().zone
    online = sum(1 for m in members if m.presence.value == "online")
    with ui.card().classes("w-full").props(f'data-team="{name}"'):
        with ui.row().classes("items-baseline gap-3"):
            ui.label(name).classes("text-h6")
            ui.label(" · ".join(x for x in (dept, region) if x)).classes("text-grey-7")
            ui.label(tr("Supervisor: {name}", name=supervisor or "—")).classes("text-grey-7")
            ui.label(tr("{online} of {total} online", online=online, total=len(members))).classes("text-grey-7")
        rows = [{"name": m.display_name, "username": m.username, "role": tr(label(m.role)),
                 "level": tr(label(m.level)), "presence": m.presence,
                 "since": local(m.presence_since, zone).strftime("%m-%d %H:%M"),
                 "active": tr("Active") if m.active else tr("Departed")} for m in members]
        with ui.grid(columns=6).classes("w-full gap-y-1 text-body2"):
            for header in (N_("Name"), N_("Role"), N_("Level"), N_("Presence"), N_("Since"), N_("Status")):
                ui.label(tr(header)).classes("text-weight-bold")
            for row in rows:
                ui.label(f"{row['name']} ({row['username']})")
                ui.label(row["role"])
                ui.label(row["level"])
                presence_chip(row["presence"], tr)
                ui.label(row["since"])
                ui.label(row["active"])


def register() -> None:
    @ui.page("/admin")
    def admin_page(request: Request) -> RedirectResponse | None:
        principal = context.principal(request)
        if principal is None:
            return RedirectResponse("/login?next=/admin", status_code=303)
        tr = context.use_locale(request)
        if principal.role not in STAFF:
            return RedirectResponse("/", status_code=303)
        with shell(principal, tr, title=tr("Teams and reps"), path="/admin"):
            rosters_panel(principal, tr)
        return None
