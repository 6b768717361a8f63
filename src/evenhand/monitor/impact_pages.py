"""``/monitor/changes/{id}/impact``: a change's before/after board — a row per metric with its value before and
after, the difference with its 95% confidence interval drawn as a bar around zero, and the verdict; the windows'
days stated; any KPI added to the board (``?kpi=``) and the windows' length chosen (``?days=``)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, current_locale
from evenhand.kit.clock import local
from evenhand.monitor import changes, impact
from evenhand.monitor.stats import Difference
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import Tr, shell

PATH = "/monitor/changes/{change_id}/impact"
INTERVAL = N_("95% confidence interval")
COLUMNS = (N_("Metric"), N_("Before"), N_("After"), N_("Difference"), INTERVAL, N_("Verdict"))
GRID = "minmax(12rem, 2fr) repeat(3, minmax(6rem, 1fr)) 15rem minmax(10rem, 1.5fr)"
COLOURS = {impact.BETTER: "#27ae60", impact.WORSE: "#c0392b", impact.UNCLEAR: "#90a4ae"}
BAR_WIDTH, BAR_HEIGHT = 220, 26


def url(change_id: int, days: int, added: list[str]) -> str:
    query = urlencode({"days": days, "kpi": added}, doseq=True)
    return f"/monitor/changes/{change_id}/impact?{query}"


def impact_page(principal: Principal, tr: Tr, request: Request, change_id: int, days: int = impact.DAYS) -> None:
    added = request.query_params.getlist("kpi")
    with shell(principal, tr, title=tr("Before and after"), path=PATH):
        try:
            with session_scope(context.engine(), readonly=True) as session:
                found = impact.board(session, principal, change_id, zone=get_settings().zone, days=days, added=added)
        except DomainError as exc:
            ui.label(problem(exc, tr)).classes("text-negative").props('role="alert" data-testid="impact-error"')
            return None
        _heading(found, tr)
        _controls(found, added, tr)
        _board(found, added, tr)
        _method(tr)
    return None


def _heading(found: impact.Impact, tr: Tr) -> None:
    c, w = found.change, found.windows
    when = local(c.effective_at, get_settings().zone).strftime("%Y-%m-%d %H:%M")
    ui.link(f"#{c.id} {c.title}", f"/monitor/changes/{c.id}").classes("text-h6").props('data-testid="impact-change"')
    ui.label(tr("{system}, took effect {when} ({status}).", system=c.system, when=when,
                status=tr(changes.STATUS_LABELS[c.status]))).classes("text-grey-8")
    ui.label(tr("Before: {before_first} to {before_last}. After: {after_first} to {after_last}. {days} days each; "
                "the change's own day, {day}, is in neither.", before_first=w.before[0], before_last=w.before[1],
                after_first=w.after[0], after_last=w.after[1], days=w.days, day=w.change_day)).props(
        'data-testid="impact-windows"')
    if w.gap:
        ui.label(tr("The before window ends {gap} days before the change's day, so that both windows hold each "
                    "weekday equally often.", gap=w.gap)).classes("text-grey-7")
    ui.label(tr("Figures up to {day}.", day=found.known)).classes("text-grey-7").props('data-testid="impact-known"')


def _controls(found: impact.Impact, added: list[str], tr: Tr) -> None:
    change_id, shown = found.change.id, {r.metric for r in found.rows}
    locale = current_locale()
    options = {k.id: k.label(locale) for k in found.available if k.id not in shown}
    with ui.row().classes("items-center gap-4"):
        length = ui.number(tr("Days in each window"), value=found.windows.days, min=impact.MIN_DAYS,
                           max=impact.MAX_DAYS, precision=0).classes("w-48").props('data-testid="impact-days"')
        ui.button(tr("Compare"), on_click=lambda: ui.navigate.to(url(change_id, int(length.value or impact.DAYS),
                                                                      added))).props('data-testid="impact-apply"')
        if options:
            ui.select(options, label=tr("Add a KPI"), on_change=lambda e: ui.navigate.to(
                url(change_id, found.windows.days, [*added, e.value]))).classes("w-64").props(
                'outlined dense data-testid="impact-add"')


def _board(found: impact.Impact, added: list[str], tr: Tr) -> None:
    if not found.rows:
        ui.label(tr("The change declared no metrics; add a KPI to compare.")).classes("text-grey-7").props(
            'data-testid="impact-empty"')
        return
    scale = reach(found.rows)
    with ui.grid().classes("w-full max-w-6xl gap-x-4 gap-y-2 items-center").style(
            f"grid-template-columns: {GRID}").props('data-testid="impact-board"'):
        for header in COLUMNS:
            with ui.column().classes("gap-0"):
                ui.label(tr(header)).classes("text-weight-bold")
                if header == INTERVAL:
                    ui.label(tr("Bars: relative to before, ±{reach} at the ends", reach=f"{100 * scale:.0f}%")
                             ).classes("text-caption text-grey-7").props('data-testid="impact-scale"')
        for row in found.rows:
            _row(found, row, added, scale, tr)


def _cell(row: impact.Row, field: str, text: str) -> ui.label:
    return ui.label(text).props(f'data-metric="{row.metric}" data-field="{field}"')


def _row(found: impact.Impact, row: impact.Row, added: list[str], scale: float, tr: Tr) -> None:
    unit = row.kpi.unit if row.kpi else ""
    _name(found, row, added, tr)
    d = row.difference
    _cell(row, "before", impact.figure(d.before if d else None, unit, tr)).classes("text-right")
    _cell(row, "after", impact.figure(d.after if d else None, unit, tr)).classes("text-right")
    _cell(row, "difference", impact.moved(d.estimate if d else None, row.relative, unit, tr)).classes("text-right")
    _interval(row, unit, scale, tr)
    colour = "text-grey-7" if row.verdict is None else ""
    _cell(row, "verdict", impact.status_text(row.status, row.verdict, row.ready_on, tr)).classes(colour).style(
        f"color: {COLOURS[row.verdict]}" if row.verdict else "").props(f'data-verdict="{row.verdict or row.status}"')


def _name(found: impact.Impact, row: impact.Row, added: list[str], tr: Tr) -> None:
    with ui.column().classes("gap-0").props(f'data-metric="{row.metric}" data-field="name"'):
        ui.label(row.kpi.label(current_locale()) if row.kpi else row.metric)
        if row.kpi is None:
            return
        with ui.row().classes("items-center gap-1 text-caption text-grey-7"):
            ui.label(row.metric if row.declared else tr("{metric}, added", metric=row.metric))
            if not row.declared:
                rest = [k for k in added if k != row.metric]
                ui.link(tr("Remove"), url(found.change.id, found.windows.days, rest)).props(
                    f'data-testid="impact-remove-{row.metric}"')


def _interval(row: impact.Row, unit: str, scale: float, tr: Tr) -> None:
    d = row.difference
    with ui.column().classes("gap-0").props(f'data-metric="{row.metric}" data-field="interval"'):
        if d is None:
            ui.label("—")
            return
        ui.html(bar(d, scale, COLOURS[row.verdict or impact.UNCLEAR], tr("No difference")), sanitize=False)
        ui.label(impact.interval(d.low, d.high, unit, tr)).classes("text-caption text-grey-8")


def relative_bounds(d: Difference) -> tuple[float, float, float]:
    """The interval's bounds and the estimate as shares of the before value (as they are when it is zero)."""
    base = abs(d.before) or 1.0
    return d.low / base, d.estimate / base, d.high / base


def reach(rows: tuple[impact.Row, ...]) -> float:
    """One scale for every bar of a board: the widest relative bound of a row compared from a non-zero value, at
    least 5%."""
    bounds = [abs(v) for r in rows if r.difference and r.difference.before for v in relative_bounds(r.difference)]
    return max([0.05, *bounds])


def bar(d: Difference, scale: float, colour: str, zero: str) -> str:
    """The interval as a bar on an axis centred on zero (a tick) reaching ``scale`` either side, the estimate as a
    dot; relative to the before value, so the bars of one board compare (from zero, a bar takes its own scale)."""
    half = BAR_WIDTH / 2
    low, estimate, high = relative_bounds(d)
    ends = scale if d.before else max(abs(low), abs(high)) or 1.0

    def x(value: float) -> float:
        return min(max(half + value / ends * (half - 8), 4.0), BAR_WIDTH - 4.0)

    y = BAR_HEIGHT / 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" role="img" '
            f'data-low="{d.low:.6g}" data-high="{d.high:.6g}" data-estimate="{d.estimate:.6g}">'
            f'<line x1="4" y1="{y}" x2="{BAR_WIDTH - 4}" y2="{y}" stroke="#cfd8dc"/>'
            f'<line x1="{half}" y1="2" x2="{half}" y2="{BAR_HEIGHT - 2}" stroke="#546e7a" stroke-width="1.5">'
            f'<title>{escape(zero)}</title></line>'
            f'<rect x="{x(low):.1f}" y="{y - 4}" width="{max(x(high) - x(low), 1):.1f}" height="8" rx="2" '
            f'fill="{colour}" fill-opacity="0.55"/>'
            f'<circle cx="{x(estimate):.1f}" cy="{y}" r="4" fill="{colour}"/></svg>')


def _method(tr: Tr) -> None:
    with ui.expansion(tr("How the figures are computed")).classes("w-full max-w-6xl text-grey-8"):
        for line in METHOD:
            ui.label(tr(line)).classes("text-caption")


METHOD = (
    N_("Each window is as many days long; with whole weeks both hold each weekday equally often. The change's own "
       "day is in neither."),
    N_("A rate is pooled over each window's rows; its interval is Newcombe's hybrid score interval for a difference "
       "of two proportions."),
    N_("A mean is pooled over each window's rows; its interval is Welch's, which allows the two windows different "
       "spreads."),
    N_("The rows of one day share that day: when a window's days scatter more than its rows would, its rows count "
       "for that much less, so a rate's or a mean's interval carries the day-to-day swing."),
    N_("A quantile (the median, p90) is kept per day: each window's value is its days' values weighted by the "
       "day's rows, and its interval a bootstrap over days (4,000 draws, a fixed seed)."),
    N_("A count is a mean per day, with Welch's interval over days."),
    N_("A rate with a horizon (conversion within 21 days) waits until the after window's youngest cohort is that "
       "old; the before window's last cohorts are counted over their whole horizon, part of which falls after "
       "the change."),
    N_("Better or worse: the whole interval lies on the KPI's good or bad side of zero. No clear change: it "
       "includes zero, which does not prove the change did nothing."),
)


def register() -> None:
    ui.page(PATH)(context.page(impact_page))
