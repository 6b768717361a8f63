"""The fairness report page (每月公示): pick a month, read each team's figures, download, publish to the team."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from nicegui import run, ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.kit.clock import utcnow
from evenhand.reports import service, view
from evenhand.reports.export import FORMATS
from evenhand.reports.monthly import FairnessReport, Month, TeamReport
from evenhand.web import context
from evenhand.web.layout import Tr, shell

PATH = "/reports/fairness"
MONTHS_OFFERED = 24
DOWNLOADS = {"html": "HTML", "csv": "CSV", "xlsx": "Excel", "pdf": "PDF"}


def _this_month(zone: ZoneInfo) -> Month:
    return Month.of(utcnow().astimezone(zone).date())


def _months(zone: ZoneInfo) -> list[str]:
    month, out = _this_month(zone), []
    for _ in range(MONTHS_OFFERED):
        out.append(month.label)
        month = month.previous()
    return out


def _load(principal: Principal, month: Month, zone: ZoneInfo) -> FairnessReport:
    with session_scope(context.engine(), readonly=True) as session:
        return service.build(session, month=month, zone=zone, principal=principal)


async def fairness_page(principal: Principal, tr: Tr, request: Request, month: str = "",
                        team: int | None = None) -> None:
    zone = get_settings().zone
    problem, chosen = None, _this_month(zone).previous()
    try:
        chosen = service.parse_month(month, zone=zone) if month else chosen
    except DomainError as exc:
        problem = tr(exc.message, **exc.params)
    with shell(principal, tr, title=tr("Fairness report"), path=PATH):
        _toolbar(chosen, zone, tr)
        if problem:
            ui.label(problem).classes("text-negative").props('role="alert" data-testid="fairness-error"')
        progress = ui.linear_progress(show_value=False).props('indeterminate data-testid="fairness-progress"')
        body = ui.column().classes("w-full gap-2")
    await ui.context.client.connected()
    report = await run.io_bound(_load, principal, chosen, zone)
    progress.delete()
    if report is not None:  # None only when the server is shutting down
        with body:
            _report(report, principal, tr, team)
    return None


def _toolbar(month: Month, zone: ZoneInfo, tr: Tr) -> None:
    with ui.row().classes("items-center gap-2"):
        months = _months(zone)
        options = months if month.label in months else [month.label, *months]
        ui.select(options, value=month.label, label=tr("Month"),
                  on_change=lambda e: ui.navigate.to(f"{PATH}?month={e.value}")).classes("w-40").props(
            'outlined dense data-testid="fairness-month"')
        ui.label(tr("Download")).classes("q-ml-md text-grey-7")
        for fmt in FORMATS:
            url = f"/api/v1/reports/fairness/export?month={month.label}&format={fmt}"
            ui.button(DOWNLOADS[fmt], icon="download").props(
                f'outline dense no-caps href="{url}" data-testid="download-{fmt}"')


def _report(report: FairnessReport, principal: Principal, tr: Tr, selected: int | None) -> None:
    ui.label(view.policy_line(report, tr)).classes("text-grey-8").props('data-testid="fairness-policy"')
    ui.label(view.arrivals_line(report, tr)).classes("text-grey-8").props('data-testid="fairness-arrivals"')
    with ui.expansion(tr("How the figures are computed")).classes("w-full text-grey-8"):
        for line in view.method_lines(tr):
            ui.label(line).classes("text-caption")
    if not report.teams:
        ui.label(tr("No team to report on.")).classes("text-grey-7")
        return
    with ui.tabs().props('align="left" dense outside-arrows mobile-arrows').classes("w-full max-w-full") as tabs:
        tab_of = {team.id: ui.tab(str(team.id), label=team.name).props(f'data-testid="fairness-tab-{team.id}"')
                  for team in report.teams}
    first = tab_of.get(selected or 0) or tab_of[report.teams[0].id]
    with ui.tab_panels(tabs, value=first).classes("w-full"):
        for team in report.teams:
            with ui.tab_panel(tab_of[team.id]).props(f'data-testid="fairness-team-{team.id}"'):
                _team(report, team, principal, tr)


def _team(report: FairnessReport, team: TeamReport, principal: Principal, tr: Tr) -> None:
    if team.evidence in ("equal_share", "mixed"):
        ui.label(tr(view.EVIDENCE[team.evidence])).classes("text-orange-9 text-weight-medium").props(
            'data-testid="fairness-evidence"')
    columns = [{"name": key, "label": tr(header), "field": key, "align": "left" if key in ("rep", "evidence")
                else "right"} for key, header in view.REP_COLUMNS]
    ui.table(columns=columns, rows=view.rep_rows(team, tr), row_key="rep_id").classes("w-full").props(
        'dense flat bordered data-testid="fairness-reps"')
    with ui.row().classes("w-full gap-6 items-start no-wrap"):
        _chart(team, tr)
        with ui.column().classes("gap-1"):
            with ui.grid(columns=2).classes("gap-x-4 gap-y-1 max-w-xl").props('data-testid="fairness-facts"'):
                for label, value in view.team_facts(team, tr):
                    ui.label(label).classes("text-grey-7")
                    ui.label(value)
            ui.label(tr("Appeals filed this month")).classes("text-subtitle2 q-mt-sm")
            ui.label(" · ".join(f"{label} {count}" for label, count in view.appeal_counts(team, tr))).props(
                'data-testid="fairness-appeals"')
            if principal.manages_org or team.id in principal.supervised_team_ids:
                _publish_button(report.month, team, principal, tr)


def _chart(team: TeamReport, tr: Tr) -> None:
    names = [r.name for r in team.reps][::-1]
    options: dict[str, Any] = {
        "animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
        "grid": {"left": 90, "right": 30, "top": 30, "bottom": 20},
        "xAxis": {"type": "value"}, "yAxis": {"type": "category", "data": names},
        "series": [{"name": tr("Received"), "type": "bar", "data": [r.leads for r in team.reps][::-1]},
                   {"name": tr("Expected under the policy"), "type": "bar",
                    "data": [round(r.expected, 1) for r in team.reps][::-1]}]}
    height = 80 + 40 * max(len(names), 1)
    ui.echart(options).classes("w-[36rem]").style(f"height: {height}px").props('data-testid="fairness-chart"')


def _publish_button(month: Month, team: TeamReport, principal: Principal, tr: Tr) -> None:
    def publish() -> None:
        zone = get_settings().zone
        try:
            with session_scope(context.engine()) as session:
                done = service.publish(session, month=month, zone=zone, team_id=team.id, actor=principal)
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="negative")
            return
        ui.notify(tr("Posted to {team}: {notified} of {recipients} people notified.", team=team.name,
                     notified=done.notified, recipients=done.recipients), type="positive")

    ui.button(tr("Publish to the team"), icon="campaign", on_click=publish).props(
        'color=primary data-testid="publish-report"').classes("q-mt-sm")


def register() -> None:
    ui.page(PATH)(context.page(fairness_page))
