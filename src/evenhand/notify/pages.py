"""Notification pages for everyone: the in-app inbox (read, acknowledge) and one's own channels and quiet hours."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import Channel, Notification
from evenhand.notify import preferences, service
from evenhand.notify.bell import bell, read_changed
from evenhand.notify.channels import CONFIGURABLE
from evenhand.notify.schemas import PreferencesUpdate
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import label, message_kind_label
from evenhand.web.layout import HEADER, Tr, shell

# A person's own address per channel (never a URL: where notifications go is configured by sales ops).
OWN: dict[Channel, tuple[str, str]] = {
    Channel.SMS: (N_("Your mobile number (optional)"), "13800000000"),
    Channel.EMAIL: (N_("Your e-mail address (optional)"), "name@example.com"),
    Channel.DINGTALK: (N_("Your DingTalk user id (optional)"), ""),
    Channel.WECOM: (N_("Your WeCom user id (optional)"), ""),
}
PAGE = 100


def inbox_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Inbox"), path="/notifications"):

        @ui.refreshable
        def messages() -> None:
            with session_scope(context.engine(), readonly=True) as session:
                rows = service.inbox(session, principal.user_id, limit=PAGE)
            if not rows:
                ui.label(tr("No notifications.")).classes("text-grey-7").props('data-testid="inbox-empty"')
            for row in rows:
                _message(row, principal, tr, messages.refresh)

        with ui.row().classes("items-center gap-4"):
            ui.button(tr("Mark all as read"), on_click=lambda: _act(messages.refresh, principal.user_id,
                                                                    service.mark_all_read, principal.user_id)).props(
                'outline data-testid="read-all"')
            ui.link(tr("Notification settings"), "/notifications/settings").props('data-testid="settings-link"')
        with ui.column().classes("w-full gap-2").props('data-testid="inbox"'):
            messages()
    return None


def _act(refresh: Any, reader: int, fn: Any, *args: Any) -> None:
    """One inbox action in its own transaction, then the list and the bells of the reader's pages redrawn."""
    with session_scope(context.engine()) as session:
        fn(session, *args)
    refresh()
    read_changed.emit(reader)


def _message(row: Notification, principal: Principal, tr: Tr, refresh: Any) -> None:
    zone = get_settings().zone
    unread = row.read_at is None
    with ui.card().classes("w-full max-w-4xl").props(f'data-testid="message-{row.id}" flat bordered'):
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.badge(tr(message_kind_label(row.kind))).props("outline")
            ui.label(row.title).classes("text-weight-bold" if unread else "")
            ui.space()
            ui.label(local(row.created_at, zone).strftime("%m-%d %H:%M")).classes("text-caption text-grey-7")
        if row.body:
            ui.label(row.body).classes("text-grey-8")
        with ui.row().classes("items-center gap-3"):
            if row.link:
                ui.link(tr("Go to it"), row.link).props(f'data-testid="open-{row.id}"')
            if row.acknowledged_at is not None:
                ui.chip(tr("Acknowledged"), icon="done", color="positive").props("outline dense")
            else:
                ui.button(tr("Acknowledge"), on_click=lambda: _act(
                    refresh, principal.user_id, service.acknowledge, row.id, principal.user_id)).props(
                    f'dense color=primary data-testid="ack-{row.id}"')
            if unread:
                ui.button(tr("Mark as read"), on_click=lambda: _act(
                    refresh, principal.user_id, service.mark_read, row.id, principal.user_id)).props(
                    f'dense flat data-testid="read-{row.id}"')
            if row.escalation_step:
                ui.chip(tr("Escalated"), icon="priority_high", color="warning").props("outline dense")


def settings_page(principal: Principal, tr: Tr, request: Request) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        current = preferences.get_preferences(session, principal.user_id)
    with shell(principal, tr, title=tr("Notification settings"), path="/notifications"):
        ui.label(tr("The in-app inbox is always on. Choose where else you want to be told, among the channels "
                    "sales ops configured; on a channel, your own number, address or user id is used if you give "
                    "one.")).classes("text-grey-7")
        available = {Channel(c) for c in current["available"]}
        chosen = {Channel(c) for c in current["channels"]}
        boxes, own = {}, {}
        with ui.grid(columns=3).classes("items-center gap-x-6 gap-y-2 max-w-4xl"):
            for channel in CONFIGURABLE:
                boxes[channel] = ui.checkbox(tr(label(channel)), value=channel in chosen).props(
                    f'data-testid="channel-{channel.value}"')
                ui.label(tr("configured by sales ops") if channel in available else tr("not configured for you")
                         ).classes("text-caption text-grey-7")
                if channel not in OWN:
                    ui.label()
                    continue
                caption, example = OWN[channel]
                own[channel] = ui.input(tr(caption), value=current["personal"].get(channel.value, ""),
                                        placeholder=example).classes("w-72").props(
                    f'dense clearable data-testid="personal-{channel.value}"')
        with ui.row().classes("items-end gap-4"):
            start = ui.input(tr("Quiet hours from"), value=current["quiet_start"] or "").props(
                'type=time data-testid="quiet-start"')
            end = ui.input(tr("until"), value=current["quiet_end"] or "").props('type=time data-testid="quiet-end"')
        error = ui.label().classes("text-negative").props('data-testid="settings-error" role="alert"')

        def save() -> None:
            error.set_text("")
            try:
                data = PreferencesUpdate(channels=[c for c, box in boxes.items() if box.value],
                                         personal={c: u.value for c, u in own.items() if u.value},
                                         quiet_start=start.value or None, quiet_end=end.value or None)
                with session_scope(context.engine()) as session:
                    preferences.save_preferences(session, principal.user_id, data, actor=principal)
            except (ValidationError, DomainError) as exc:
                error.set_text(problem(exc, tr))
                return
            ui.notify(tr("Saved."), type="positive")

        ui.button(tr("Save"), on_click=save).props('color=primary data-testid="save-settings"')
    return None


def register() -> None:
    HEADER.add(bell, order=20)
    ui.page("/notifications")(context.page(inbox_page))
    ui.page("/notifications/settings")(context.page(settings_page))
