"""The home page's figures: the company at a glance for sales ops and admins (funnel, first response, routing health,
fairness, alerts by team), a rep's month so far, and the counters of what the reader may see for admins and
auditors. Each tile has a heading, its figures beside last month's, a small chart where one reads faster than
numbers, and a link to the page behind it. The figures are read after the page is drawn (``later``), below the
reader's work lists, so nothing moves under the pointer while they load."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import Role
from evenhand.reports import overview, service
from evenhand.reports.monthly import RepLine
from evenhand.reports.overview import FairnessGlance, Funnel, MonthSoFar, Overview
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, later

STEPS = (N_("Leads arrived"), N_("First contacted"), N_("Deals opened"), N_("Deals won"))
RESPONSE_BUCKETS = (N_("under 1 h"), N_("1–4 h"), N_("4–24 h"), N_("1–2 days"), N_("2–7 days"), N_("7 days or more"),
                    N_("no response yet"))
THIS, BEFORE = "#1f5f8b", "#b8c7d3"  # this month, and last month beside it
COUNTED_BY = (Role.ADMIN, Role.AUDITOR)  # those who read everything and have no figures tile of their own to act on




def waiting(name: str) -> ui.element:
    box = ui.row().classes("w-full gap-4 items-stretch").props(f'data-home="{name}"')
    with box:
        ui.spinner(size="lg").props('data-testid="home-loading"')
    return box


# --- how a figure is written ----------------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def hours(value: float | None, tr: Tr) -> str:
    return "—" if value is None else tr("{hours} h", hours=f"{value:g}")


def change(now: float | None, before: float | None, *, lower_is_better: bool = False, unit: str = "") -> tuple[str,
                                                                                                              str]:
    """An arrow and the difference from last month (``unit`` after it), and its colour: green when it moved the
    right way, red when the wrong way, grey when it did not move or cannot be told."""
    if now is None or before is None or round(now - before, 6) == 0:
        return ("→ 0" + unit if now is not None and before is not None else "—"), "text-grey-7"
    up = now > before
    better = up != lower_is_better
    return f"{'▲' if up else '▼'} {round(now - before, 2):+g}{unit}", "text-positive" if better else "text-negative"


def _delta(now: float | None, before: float | None, *, lower_is_better: bool = False, unit: str = "",
           name: str = "") -> None:
    text, colour = change(now, before, lower_is_better=lower_is_better, unit=unit)
    ui.label(text).classes(f"{colour} text-caption").props(f'data-testid="delta{"-" + name if name else ""}"')


def _points(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


# --- the tiles' frame -----------------------------------------------------------------------------------------------


@contextmanager
def _card(name: str, title: str, link: str, link_text: str) -> Iterator[None]:
    """A tile: its heading, what the caller draws, and the link to the page behind it."""
    with ui.card().classes("w-[25rem] gap-2").props(f'data-home="{name}" flat bordered'):
        ui.label(title).classes("text-h6")
        yield
        ui.link(link_text, link).classes("q-mt-auto").props('data-testid="home-link"')


def _chart(name: str, options: dict[str, Any], height: int = 180) -> None:
    ui.echart({"animation": False, **options}).classes("w-full").style(f"height: {height}px").props(
        f'data-testid="home-chart-{name}"')


def _bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, horizontal: bool,
          stacked: bool = False) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "value", "minInterval": 1}
    category: dict[str, Any] = {"type": "category", "data": list(categories), "inverse": horizontal}
    return {"tooltip": {"trigger": "axis"}, "legend": {"top": 0, "type": "scroll"},
            "grid": {"left": 8, "right": 16, "top": 30, "bottom": 4, "containLabel": True},
            "xAxis": value if horizontal else category, "yAxis": category if horizontal else value,
            "series": [{"name": label, "type": "bar", "data": list(data), **({"color": colour} if colour else {}),
                        **({"stack": "all"} if stacked else {})} for label, data, colour in series]}


# --- the company at a glance ----------------------------------------------------------------------------------------


def company(principal: Principal, tr: Tr) -> None:
    """Sales ops and admins: the company this month beside last month."""
    if not principal.manages_org:
        return
    zone = get_settings().zone
    ui.label(tr("The company this month")).classes("text-h6")
    box = waiting("company")

    def load() -> Overview:
        with session_scope(context.engine(), readonly=True) as session:
            return overview.overview(session, principal, zone=zone)

    later(box, load, lambda found: _company(found, tr, zone))


def _company(found: Overview, tr: Tr, zone: ZoneInfo) -> None:
    ui.label(tr("{month} so far; last month ({previous}) in brackets.", month=found.month,
                previous=found.previous)).classes("w-full text-grey-7").props('data-testid="home-period"')
    _funnel(found, tr)
    _response(found, tr)
    _routing(found, tr, zone)
    _fairness(found.fairness, tr)
    _alerts(found, tr)


def _funnel(found: Overview, tr: Tr) -> None:
    now, before = found.funnel
    with _card("funnel", tr("Funnel"), f"/process?period={found.month}", tr("Process board")):
        rates, previous = now.conversion(), before.conversion()
        for i, step in enumerate(STEPS):
            with ui.row().classes("w-full items-center gap-2 no-wrap").props(f'data-step="{i}"'):
                ui.label(tr(step)).classes("w-32 text-grey-8")
                ui.label(f"{now.steps[i]:,} ({before.steps[i]:,})").classes("text-weight-medium")
                if i:
                    ui.label(tr("{rate} of the step before", rate=pct(rates[i]))).classes("text-caption text-grey-7")
                    _delta(_points(rates[i]), _points(previous[i]), unit=" pt", name=f"step-{i}")
        _chart("funnel", _funnel_chart(now, before, found, tr))


def _funnel_chart(now: Funnel, before: Funnel, found: Overview, tr: Tr) -> dict[str, Any]:
    return _bars([tr(s) for s in STEPS], [(found.month, now.steps, THIS), (found.previous, before.steps, BEFORE)],
                 horizontal=True)


def _response(found: Overview, tr: Tr) -> None:
    now, before = found.response
    with _card("first-response", tr("First response"), f"/process?period={found.month}", tr("Process board")):
        for key, name in (("median", tr("Median")), ("p90", tr("90th percentile"))):
            with ui.row().classes("items-center gap-2").props(f'data-figure="{key}"'):
                ui.label(name).classes("w-32 text-grey-8")
                ui.label(f"{hours(now[key], tr)} ({hours(before[key], tr)})").classes("text-weight-medium")
                _delta(now[key], before[key], lower_is_better=True, unit=" h", name=key)
        ui.label(tr("Leads assigned: {count} ({before}); no response yet: {none} ({none_before})",
                    count=now["leads"], before=before["leads"], none=now["buckets"][-1],
                    none_before=before["buckets"][-1])).classes("text-caption text-grey-7")
        _chart("response", _bars([tr(b) for b in RESPONSE_BUCKETS], [(found.month, now["buckets"], THIS),
                                                                    (found.previous, before["buckets"], BEFORE)],
                                 horizontal=False))


def _routing(found: Overview, tr: Tr, zone: ZoneInfo) -> None:
    health = found.routing
    with _card("routing-health", tr("Routing health"), "/notifications/ops", tr("Notification delivery")):
        with ui.row().classes("items-center gap-2").props('data-figure="held"'):
            ui.label(tr("Leads waiting for a rep")).classes("w-40 text-grey-8")
            ui.label(f"{health.held:,}").classes("text-h5" + (" text-negative" if health.held else ""))
        if health.held_since is not None:
            ui.label(tr("Waiting since {time}", time=_when(health.held_since, zone))).classes(
                "text-caption text-grey-7")
        ui.link(tr("Holding queue"), "/routing").props('data-testid="home-link-routing"')
        for key, name, pair in (("day", tr("Delivered, last 24 h"), health.day),
                                ("month", tr("Delivered, this month"), health.month)):
            with ui.row().classes("items-center gap-2").props(f'data-figure="delivery-{key}"'):
                ui.label(name).classes("w-40 text-grey-8")
                ui.label(pct(health.rate(pair))).classes("text-h5")
                ui.label(tr("{delivered} of {sent}", delivered=f"{pair[0]:,}", sent=f"{pair[1]:,}")).classes(
                    "text-caption text-grey-7")


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return local(moment, zone).strftime("%m-%d %H:%M")


def _fairness(glances: tuple[FairnessGlance, FairnessGlance], tr: Tr) -> None:
    now, before = glances
    with _card("fairness", tr("Fairness"), f"/reports/fairness?month={now.month}", tr("Fairness report")):
        ui.label(tr("{flagged} of {tested} teams tested differ from the policy's shares (p < 0.05); last month "
                    "{flagged_before} of {tested_before}.", flagged=len(now.flagged), tested=now.tested,
                    flagged_before=len(before.flagged), tested_before=before.tested)).props(
            'data-testid="fairness-flagged"')
        if now.flagged:
            ui.label(" · ".join(now.flagged)).classes("text-negative text-caption").props(
                'data-testid="fairness-teams"')
        largest = now.largest
        if largest is None:
            ui.label(tr("No leads routed this month yet.")).classes("text-grey-7")
        else:
            ui.label(tr("Furthest from the policy: {rep} ({team}), {points} points from the expected share.",
                        rep=largest.rep, team=largest.team, points=f"{largest.points:+.1f}")).props(
                'data-testid="fairness-largest"')
        if now.tested < now.teams:
            ui.label(tr("Teams with too few leads are not tested.")).classes("text-caption text-grey-7")


def _alerts(found: Overview, tr: Tr) -> None:
    counts = found.alerts
    with _card("alerts-by-team", tr("Alerts by team"), "/alerts", tr("Alert inbox")):
        with ui.row().classes("items-center gap-2"):
            ui.label(tr("Live alerts")).classes("w-32 text-grey-8")
            ui.label(f"{counts.total:,}").classes("text-h5").props('data-testid="alerts-total"')
        if not counts.teams:
            ui.label(tr("No live alerts.")).classes("text-grey-7")
        else:
            names = [t.team or tr("No team") for t in counts.teams]
            series = [(label, [t.by_rule.get(rule, 0) for t in counts.teams], "")
                      for rule, label in counts.labels.items()]
            _chart("alerts", _bars(names, series, horizontal=True, stacked=True),
                   height=70 + 28 * len(names))


# --- a rep's month so far -------------------------------------------------------------------------------------------


def month_so_far(principal: Principal, tr: Tr) -> None:
    """A rep: leads received this month beside the share the routing policy meant them to have, and conversion."""
    if principal.role is not Role.REP:
        return
    zone = get_settings().zone
    box = waiting("month-so-far")

    def load() -> MonthSoFar:
        with session_scope(context.engine(), readonly=True) as session:
            return overview.month_so_far(session, principal, zone=zone)

    later(box, load, lambda found: _month(found, tr))


def _month(found: MonthSoFar, tr: Tr) -> None:
    link = f"/reports/fairness?month={found.month}" + (f"&team={found.team_id}" if found.team_id else "")
    with _card("my-month", tr("Your month so far"), link, tr("Fairness report")):
        line, before = found.line, found.previous
        if line is None:
            ui.label(tr("No leads this month yet.")).classes("text-grey-7")
        else:
            _month_figures(line, before, tr)
            _chart("my-month", _bars([tr("Received"), tr("Expected under the policy")],
                                     [(found.month, [line.leads, round(line.expected, 1)], THIS)], horizontal=True),
                   height=120)


def _month_figures(line: RepLine, before: RepLine | None, tr: Tr) -> None:
    """Counts beside last month's whole month (no arrow: a month so far is not comparable with it); the shares and
    the conversion with the arrow."""
    gap = None if line.actual_share is None or line.expected_share is None else line.actual_share - line.expected_share
    rows = ((tr("Leads received"), "leads", f"{line.leads} ({before.leads if before else '—'})"),
            (tr("Expected under the policy"), "expected", f"{line.expected:.1f}"),
            (tr("Your share / the policy's"), "share", f"{pct(line.actual_share)} / {pct(line.expected_share)}"),
            (tr("Won"), "won", f"{line.won} ({before.won if before else '—'})"),
            (tr("Conversion rate"), "conversion",
             f"{pct(line.conversion_rate)} ({pct(before.conversion_rate) if before else '—'})"))
    for name, key, text in rows:
        with ui.row().classes("items-center gap-2 no-wrap").props(f'data-figure="{key}"'):
            ui.label(name).classes("w-48 text-grey-8")
            ui.label(text).classes("text-weight-medium")
            if key == "share" and gap is not None:
                ui.label(tr("{points} points", points=f"{100 * gap:+.1f}")).classes("text-caption text-grey-7")
            if key == "conversion":
                _delta(_points(line.conversion_rate), _points(before.conversion_rate) if before else None,
                       unit=" pt", name=key)


# --- the counters ---------------------------------------------------------------------------------------------------


def tiles(principal: Principal, tr: Tr) -> None:
    """How many leads, opportunities and activities the reader may see: for admins and auditors."""
    if principal.role not in COUNTED_BY:
        return
    with session_scope(context.engine(), readonly=True) as session:
        counts = service.visible_counts(session, principal)
    with ui.row().classes("gap-4"):
        for name, value in counts.items():
            with ui.card().classes("w-48").props(f'data-tile="{name.lower()}"'):
                ui.label(tr(name)).classes("text-grey-7")
                ui.label(f"{value:,}").classes("text-h5")


def register() -> None:
    HOME.add(company, order=5)
    HOME.add(tiles, order=10)
    HOME.add(month_so_far, order=60)
