"""Open anomalies on the home page, for those who read the company's KPIs (sales ops, admins, the head of sales,
auditors and supervisors): how many, and the newest few with their KPI, size and start, each linking to its
drill-down. A rep sees nothing of it."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import AnomalyStatus
from evenhand.monitor import views
from evenhand.monitor.pages import PATH, effect, figure, row_name
from evenhand.monitor.views import AnomalyRow
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

SHOWN = 5


def open_anomalies(principal: Principal, tr: Tr) -> None:
    if not principal.sees_team_figures:
        return
    with session_scope(context.engine(), readonly=True) as session:
        count = views.open_count(session)
        rows = views.anomalies(session, views.definitions(session), status=AnomalyStatus.OPEN, limit=SHOWN)
    with home_tile(tr, "anomalies", tr("Open anomalies in the KPIs"), count, see_all=PATH):
        if not rows:
            home_empty(tr("No KPI has shifted."))
        for row in rows:
            _line(row, tr)


def _line(row: AnomalyRow, tr: Tr) -> None:
    with ui.row().classes("w-full items-center gap-3").props(f'data-home-anomaly="{row.id}"'):
        ui.link(row_name(row), f"{PATH}/anomalies/{row.id}").classes("text-weight-bold")
        ui.label(f"{effect(row)} ({figure(row.kpi, row.baseline, tr)} → {figure(row.kpi, row.observed, tr)})").classes(
            "text-negative" if row.harmful else "text-positive")
        ui.space()
        ui.label(tr("Since {day}", day=row.started.isoformat())).classes("text-caption text-grey-7")


def register() -> None:
    HOME.add(open_anomalies, order=45)
