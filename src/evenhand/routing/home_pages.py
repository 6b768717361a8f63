"""The home page's new leads waiting for acceptance: for whoever has leads assigned, each with the time left before
its message escalates (red once overdue), a link to the lead and one click to accept it.

Accepting is what opening the lead does (``notify.acknowledge_lead``): the "new lead" messages about it are
acknowledged and its escalation stops. The list is read again every few seconds; it is redrawn only when its leads
changed (a redraw under the pointer would swallow a click on "Accept"), and the countdowns are updated in place."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import local, utcnow
from evenhand.models import Role
from evenhand.notify import service as notify
from evenhand.notify.service import WaitingLead
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

REFRESH_SECONDS = 10.0
SHOWN = 8  # a work list, not a report: the rest are behind "See all"


def countdown(waiting: WaitingLead, now: datetime) -> tuple[str, dict[str, Any], bool]:
    """The template, its parameters and whether it is overdue: "escalates in 23 min", "overdue by 5 min"; a message
    whose steps are all taken says it escalated, one kind without a policy has no deadline."""
    if waiting.escalate_at is None:
        return (N_("Escalated"), {}, True) if waiting.escalated else (N_("No deadline"), {}, False)
    minutes = math.ceil((waiting.escalate_at - now).total_seconds() / 60)
    if minutes > 0:
        return N_("Escalates in {time}"), {"time": minutes}, False
    return N_("Overdue by {time}"), {"time": -minutes}, True


def span(minutes: int, tr: Tr) -> str:
    if minutes < 60:
        return tr("{minutes} min", minutes=minutes)
    return tr("{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60)


def _read(principal: Principal) -> list[WaitingLead]:
    with session_scope(context.engine(), readonly=True) as session:
        return notify.waiting_leads(session, principal.user_id)


def waiting_leads(principal: Principal, tr: Tr) -> None:
    """A rep always sees the tile (an empty one says so); anyone else who carries leads only when some wait."""
    if not principal.can_write:
        return
    state: dict[str, Any] = {"rows": _read(principal), "clocks": {}}
    if not state["rows"] and principal.role is not Role.REP:
        return

    @ui.refreshable
    def render() -> None:
        state["clocks"] = {}
        _tile(principal, tr, state, reload)

    def reload() -> None:
        state["rows"] = _read(principal)
        render.refresh()

    def follow() -> None:
        rows = _read(principal)
        if [w.message_id for w in rows] != [w.message_id for w in state["rows"]]:
            state["rows"] = rows
            render.refresh()
            return
        for w in rows:  # the same leads: only the countdowns move
            if (clock := state["clocks"].get(w.lead_id)) is not None:
                _set_clock(clock, w, tr)

    render()
    ui.timer(REFRESH_SECONDS, follow)


def _tile(principal: Principal, tr: Tr, state: dict[str, Any], refresh: Any) -> None:
    rows: list[WaitingLead] = state["rows"]
    with home_tile(tr, "waiting-leads", tr("New leads to accept"), len(rows), see_all="/leads"):
        if not rows:
            home_empty(tr("No new lead waiting for you."))
        for w in rows[:SHOWN]:
            state["clocks"][w.lead_id] = _line(principal, tr, w, refresh)


def _line(principal: Principal, tr: Tr, w: WaitingLead, refresh: Any) -> ui.label:
    received = local(w.sent_at, get_settings().zone).strftime("%m-%d %H:%M")
    with ui.row().classes("w-full items-center gap-3 no-wrap").props(f'data-waiting-lead="{w.lead_id}"'):
        ui.link(w.company, f"/leads/{w.lead_id}").classes("text-weight-bold")
        ui.label(tr("Score {score}", score="—" if w.score is None else w.score)).classes("text-grey-8")
        ui.label(tr("Received {when}", when=received)).classes("text-caption text-grey-7")
        ui.space()
        clock = ui.label().props('data-testid="countdown"')
        _set_clock(clock, w, tr)
        ui.button(tr("Accept"), on_click=lambda: _accept(principal, tr, w, refresh)).props(
            f'dense color=primary data-testid="accept-{w.lead_id}"')
    return clock


def _set_clock(clock: ui.label, w: WaitingLead, tr: Tr) -> None:
    template, params, overdue = countdown(w, utcnow())
    clock.set_text(tr(template, **{k: span(v, tr) for k, v in params.items()}))
    clock.classes(replace="text-negative text-weight-bold" if overdue else "text-grey-8")
    clock.props(f'data-overdue="{str(overdue).lower()}"')


def _accept(principal: Principal, tr: Tr, w: WaitingLead, refresh: Any) -> None:
    with session_scope(context.engine()) as session:
        taken = notify.acknowledge_lead(session, w.lead_id, principal.user_id)
    if taken:
        ui.notify(tr("Lead accepted: {company}.", company=w.company), type="positive")
    else:
        ui.notify(tr("This lead is no longer waiting for you."), type="warning")
    refresh()


def register() -> None:
    HOME.add(waiting_leads, order=30)
