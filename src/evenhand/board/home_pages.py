"""The supervisor's home page: each of their teams' board in brief — where its open deals are stuck, first response
and compliance with the stage standards, this month so far beside last month — linking to the board narrowed to the
team. Read after the page is drawn, below the work lists, so nothing moves under the pointer while it loads."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.board import service, view
from evenhand.board.service import BOTTLENECK_DAYS, Brief
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_, plural
from evenhand.models import Role
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, later

STUCK, MOVING = "#c0392b", "#b8c7d3"


def team_briefs(principal: Principal, tr: Tr) -> None:
    if principal.role is not Role.SUPERVISOR or not principal.supervised_team_ids:
        return
    zone = get_settings().zone
    box = ui.row().classes("w-full gap-4 items-stretch").props('data-home="team-board"')
    with box:
        ui.spinner(size="lg").props('data-testid="home-loading"')

    def load() -> list[tuple[str, Brief]]:
        with session_scope(context.engine(), readonly=True) as session:
            names = service.choices(session, principal)["teams"]
            return [(names.get(t, str(t)), service.brief(session, principal, team_id=t, zone=zone))
                    for t in sorted(principal.supervised_team_ids)]

    def draw(found: list[tuple[str, Brief]]) -> None:
        for name, brief in found:
            _brief(name, brief, tr)

    later(box, load, draw)


def _brief(team: str, brief: Brief, tr: Tr) -> None:
    with ui.card().classes("w-[32rem] gap-2").props(f'data-team-board="{brief.team_id}" flat bordered'):
        ui.label(tr("Team board: {team}", team=team)).classes("text-h6")
        ui.label(tr("{month} so far; last month in brackets.", month=brief.month)).classes("text-caption text-grey-7")
        _bottleneck(brief, tr)
        now, before = brief.first_response
        _figure(tr("First response, median"), "first-response", view.number(now["median"], " h"),
                view.number(before["median"], " h"))
        _figure(tr("Stage standards met on time"), "compliance", view.share(brief.compliance[0]),
                view.share(brief.compliance[1]))
        ui.echart(_chart(brief, tr)).classes("w-full").style("height: 170px").props(
            'data-testid="home-chart-team-board"')
        ui.link(tr("Process board"), f"/process?team={brief.team_id}").props('data-testid="home-link"')


def _bottleneck(brief: Brief, tr: Tr) -> None:
    worst = brief.bottleneck
    if worst is None:
        text = tr("No deal has stood in its stage for {days} days or more.", days=BOTTLENECK_DAYS)
    else:
        count = brief.stuck[worst]
        text = tr(plural(count, N_("Bottleneck: {stage}, {count} deal in it for {days} days or more."),
                         N_("Bottleneck: {stage}, {count} deals in it for {days} days or more.")),
                  stage=view.stage(worst, tr), count=count, days=BOTTLENECK_DAYS)
    ui.label(text).classes("text-weight-medium" + ("" if worst is None else " text-negative")).props(
        'data-testid="team-bottleneck"')


def _figure(name: str, key: str, now: str, before: str) -> None:
    with ui.row().classes("items-center gap-2").props(f'data-figure="{key}"'):
        ui.label(name).classes("w-48 text-grey-8")
        ui.label(view.beside(now, before)).classes("text-weight-medium")


def _chart(brief: Brief, tr: Tr) -> dict[str, Any]:
    stages = list(brief.open_deals)
    stuck = [brief.stuck[s] for s in stages]
    moving = [brief.open_deals[s] - n for s, n in zip(stages, stuck, strict=True)]
    return {"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
            "grid": {"left": 8, "right": 16, "top": 30, "bottom": 4, "containLabel": True},
            "xAxis": {"type": "category", "data": [view.stage(s, tr) for s in stages]},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [{"name": tr("Open {days} days or more", days=BOTTLENECK_DAYS), "type": "bar", "stack": "open",
                        "color": STUCK, "data": stuck},
                       {"name": tr("Open under {days} days", days=BOTTLENECK_DAYS), "type": "bar", "stack": "open",
                        "color": MOVING, "data": moving}]}


def register() -> None:
    HOME.add(team_briefs, order=60)
