"""The inbox bell in the header of every page: the unread count, refreshed while the page is open, and at once when
the reader reads or acknowledges in the inbox (``read_changed``, in every page that person has open)."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import Event, ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.notify import service
from evenhand.web import context

REFRESH_SECONDS = 15.0
read_changed = Event[int]()  # the user whose messages were read or acknowledged in this process


def unread(user_id: int) -> int:
    with session_scope(context.engine(), readonly=True) as session:
        return service.unread_count(session, user_id)


def bell(principal: Principal, tr: Callable[..., str]) -> None:
    count = unread(principal.user_id)
    with ui.button(icon="notifications", on_click=lambda: ui.navigate.to("/notifications")).props(
            f'flat round color=white data-testid="inbox-bell" aria-label="{tr("Inbox")}"'):
        badge = ui.badge(str(count), color="red").props('floating data-testid="unread-count"')
        badge.set_visibility(count > 0)

    def refresh() -> None:
        n = unread(principal.user_id)
        badge.set_text(str(n))
        badge.set_visibility(n > 0)

    ui.timer(REFRESH_SECONDS, refresh)
    read_changed.subscribe(lambda user_id: refresh() if user_id == principal.user_id else None)
