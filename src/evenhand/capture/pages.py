"""The connectors page (``/admin/connectors``, admin and sales ops): for each connector whether it is configured
(else the settings it lacks, by name), the events it took and the requests it refused with the last of each, in the
viewer's zone, the last backfill pull (WeCom, DingTalk: when, its counts, the error it stopped on), and a button that
sends it a test event over HTTP and shows the answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.capture import connectors, pull
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.kit.clock import local
from evenhand.web import context
from evenhand.web.layout import Tr, shell

PATH = "/admin/connectors"


def connectors_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Connectors"), path=PATH):
        if not principal.manages_org:
            ui.label(tr("Only admin and sales ops see the connectors.")).classes("text-grey-7")
            return None
        ui.label(tr("A test event is signed as the platform signs its requests and sent to this server; it is "
                    "counted as an event and stores no activity.")).classes("text-grey-7")
        base_url = str(request.base_url)
        with ui.row().classes("w-full gap-4 items-stretch"):
            for name in connectors.CONNECTORS:
                _card(principal, tr, name, base_url)
    return None


def _card(principal: Principal, tr: Tr, name: str, base_url: str) -> None:
    with ui.card().classes("w-96").props(f'data-testid="connector-{name}"'):
        @ui.refreshable
        def status() -> None:
            settings = get_settings()
            with session_scope(context.engine(), readonly=True) as session:
                view = next(v for v in connectors.overview(session, settings) if v.connector.name == name)
                zone = connectors.viewer_zone(session, principal, settings.zone)
                last = pull.last_pulls(session, [name]).get(name)
            _status(tr, view, zone)
            if last is not None:
                _last_pull(tr, last, zone)

        status()
        result = ui.label().classes("text-caption").props(f'data-testid="result-{name}" role="status"')

        async def send() -> None:
            button.disable()
            result.set_text(tr("Sending…"))
            try:
                outcome = await connectors.send_test(get_settings(), name, base_url)
            finally:
                button.enable()
            result.set_text(_outcome(tr, outcome))
            result.classes(replace="text-caption " + ("text-positive" if outcome.ok else "text-negative"))
            status.refresh()

        button = ui.button(tr("Send test event"), on_click=send).props(
            f'dense color=primary data-testid="test-{name}"')


def _status(tr: Tr, view: connectors.View, zone: ZoneInfo) -> None:
    health = view.health
    ui.label(tr(view.connector.label)).classes("text-h6")
    if view.configured:
        ui.badge(tr("Configured"), color="positive").props('data-testid="configured"')
    else:
        ui.label(tr("Missing settings: {settings}", settings=", ".join(view.missing))).classes(
            "text-negative").props('data-testid="missing"')
    with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-1"):
        for caption, value, key in ((tr("Events"), str(health.events), "events"),
                                    (tr("Last event"), _when(health.last_event_at, zone), "last-event"),
                                    (tr("Errors"), str(health.errors), "errors"),
                                    (tr("Last error"), _when(health.last_error_at, zone), "last-error-at")):
            ui.label(caption).classes("text-grey-7")
            ui.label(value).props(f'data-testid="{key}"')
    if health.last_error:
        ui.label(health.last_error).classes("text-caption text-negative").props('data-testid="last-error"')


def _last_pull(tr: Tr, last: pull.LastPull, zone: ZoneInfo) -> None:
    counts = last.counts
    with ui.column().classes("gap-0").props('data-testid="last-pull"'):
        ui.label(tr("Last pull: {when}", when=_when(last.at, zone))).classes("text-grey-7")
        ui.label(tr("{fetched} fetched, {stored} stored, {already_had} already had, {unmatched} unmatched",
                    fetched=counts["fetched"], stored=counts["stored"], already_had=counts["already_had"],
                    unmatched=counts["unmatched"])).classes("text-caption")
        if last.error:
            ui.label(last.error).classes("text-caption text-negative")


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return local(at, zone).strftime("%Y-%m-%d %H:%M %Z") if at else "—"


def _outcome(tr: Tr, outcome: connectors.TestResult) -> str:
    if outcome.missing:
        return tr("Not configured: set {settings}.", settings=", ".join(outcome.missing))
    if outcome.status is None:
        return tr("Not sent: {reason}", reason=outcome.reason)
    verdict = tr("Accepted") if outcome.ok else tr("Refused")
    return f"{verdict} · HTTP {outcome.status} · {outcome.answer[:200]}"


def register() -> None:
    ui.page(PATH)(context.page(connectors_page))
