"""Sign-in and the home page, whose sections the domains add (``layout.HOME``)."""

from __future__ import annotations

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.i18n import N_
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, shell

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
            # set as it is, not through props(), which would read a quote in it as the end of the value
            ui.element("input").props('type="hidden" name="next"').props["value"] = _local_path(next)
            ui.button(tr("Sign in")).props('type="submit" color=primary data-testid="sign-in"').classes("w-full")
        with ui.row():
            for code, label in (("zh-CN", "中文"), ("en", "English")):
                ui.link(label, f"/auth/locale/{code}?next=/login").props(f'data-locale="{code}"')


def home_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Welcome, {name}", name=principal.display_name), path="/"):
        HOME.draw(principal, tr)
    return None


def register() -> None:
    ui.page("/login")(login_page)
    ui.page("/")(context.page(home_page))
