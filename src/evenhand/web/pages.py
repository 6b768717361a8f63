"""Sign-in and home pages."""

from __future__ import annotations

from nicegui import ui
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.activities import repository as activity_repo
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.leads import repository as lead_repo
from evenhand.models import Role
from evenhand.opportunities import repository as opportunity_repo
from evenhand.org.pages import rosters_panel
from evenhand.web import context
from evenhand.web.layout import Tr, shell

LOGIN_ERRORS = {
    "credentials": N_("Wrong username or password."),
    "rate": N_("Too many failed sign-ins; wait a minute and try again."),
}


def _local_path(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/"


def login_page(request: Request, error: str = "", next: str = "/") -> None:
    tr = context.use_locale(request)
    ui.page_title(tr("Sign in") + " · evenhand")
    with ui.column().classes("absolute-center items-center gap-4"):
        ui.label("evenhand").classes("text-h4")
        ui.label(tr("Fair lead routing")).classes("text-grey-7")
        with ui.card().classes("w-80"), ui.element("form").props('method="post" action="/auth/login"').classes(
                "column gap-3 w-full"):
            if error in LOGIN_ERRORS:
                ui.label(tr(LOGIN_ERRORS[error])).classes("text-negative").props('role="alert"')
            ui.input(tr("Username")).props('name="username" autocomplete="username" autofocus outlined')
            ui.input(tr("Password"), password=True).props(
                'name="password" autocomplete="current-password" outlined')
            ui.element("input").props(f'type="hidden" name="next" value="{_local_path(next)}"')
            ui.button(tr("Sign in")).props('type="submit" color=primary data-testid="sign-in"').classes("w-full")
        with ui.row():
            for code, label in (("zh-CN", "中文"), ("en", "English")):
                ui.link(label, f"/auth/locale/{code}?next=/login").props(f'data-locale="{code}"')


def _counts(principal: Principal) -> dict[str, int]:
    with session_scope(context.engine(), readonly=True) as session:
        return {name: session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
                for name, stmt in ((N_("Leads"), lead_repo.readable(principal)),
                                   (N_("Opportunities"), opportunity_repo.readable(principal)),
                                   (N_("Activities"), activity_repo.readable(principal)))}


def _tiles(principal: Principal, tr: Tr) -> None:
    with ui.row().classes("gap-4"):
        for name, value in _counts(principal).items():
            with ui.card().classes("w-48").props(f'data-tile="{name.lower()}"'):
                ui.label(tr(name)).classes("text-grey-7")
                ui.label(f"{value:,}").classes("text-h5")


def home_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    tr = context.use_locale(request)
    with shell(principal, tr, title=tr("Welcome, {name}", name=principal.display_name), path="/"):
        _tiles(principal, tr)
        if principal.role in (Role.SUPERVISOR, Role.REP):
            ui.label(tr("My team") if principal.role is Role.SUPERVISOR else tr("Your team")).classes("text-h6")
            rosters_panel(principal, tr, settings=principal.role is Role.SUPERVISOR)  # their team's leave
    return None


def register() -> None:
    ui.page("/login")(login_page)
    ui.page("/")(home_page)
