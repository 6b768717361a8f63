"""``/monitor/canary``: the running canary (or one chosen from the past) with its board — each declared metric in
both arms, the difference with its 95% interval as a bar, the fixed and the always-valid p-value and the verdict —
the rollback button for admin and ops, and the canaries that ran before. For sales ops, supervisors and auditors."""

from __future__ import annotations

from html import escape

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.kit.figures import p_cell
from evenhand.models import Canary
from evenhand.monitor import canary
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import Tr, shell

PATH = "/monitor/canary"
COLOURS = {canary.BETTER: "positive", canary.WORSE: "negative", canary.UNCLEAR: "grey"}
BAR_COLOURS = {canary.BETTER: "#2e7d32", canary.WORSE: "#c62828", canary.UNCLEAR: "#78909c"}
BAR_WIDTH, BAR_HEIGHT = 180, 20
COLUMNS = ((N_("Metric"), "w-52"), (N_("Control"), "w-40"), (N_("Canary"), "w-40"),
           (N_("Difference (95% interval)"), "w-64"), (N_("p"), "w-16"), (N_("Always-valid p"), "w-24"),
           (N_("Verdict"), "w-28"))
PAST = (("id", N_("Canary no.")), ("version", N_("Candidate version")), ("control", N_("Control version")),
        ("share", N_("Share")), ("status", N_("Status")), ("started", N_("Started")), ("ended", N_("Ended")))


def canary_page(principal: Principal, tr: Tr, request: Request, id: int | None = None) -> None:
    with shell(principal, tr, title=tr("Canary rollout"), path=PATH):
        if not principal.sees_team_figures:
            ui.label(tr("Only sales operations, supervisors and auditors may read canaries.")).classes(
                "text-grey-7").props('data-testid="canary-refused"')
            return None
        try:
            with session_scope(context.engine(), readonly=True) as session:
                shown = canary.get(session, id) if id else canary.latest(session)
                board = canary.board(session, shown.id, principal=principal) if shown else None
                past = canary.history(session, principal)
        except DomainError as exc:  # a canary id that does not exist
            ui.label(problem(exc, tr)).classes("text-negative").props('role="alert"')
            return None
        _current(principal, tr, board)
        _past(tr, past)
    return None


def _current(principal: Principal, tr: Tr, board: canary.Board | None) -> None:
    if board is None:
        ui.label(tr("No canary has run yet. Start one with “evenhand canary start POLICY.yaml --share 0.1” or "
                    "through the API.")).classes("text-grey-7").props('data-testid="no-canary"')
        return
    with ui.card().classes("w-full max-w-6xl gap-2").props(f'flat bordered data-testid="canary" '
                                                            f'data-status="{board.status}"'):
        _heading(tr, board)
        if board.status == "running" and principal.manages_org:
            _rollback(principal, tr, board.canary_id)
        _board(tr, board)


def _heading(tr: Tr, board: canary.Board) -> None:
    zone = get_settings().zone
    with ui.row().classes("items-center gap-2"):
        ui.label(tr("Canary {id}", id=board.canary_id)).classes("text-h6")
        ui.badge(tr(canary.STATUSES[board.status]), color="primary" if board.status == "running" else "grey").props(
            'data-testid="canary-status"')
    ui.label(tr("Policy version {version} routes {share} of new leads, version {control} the rest; since {started}.",
                version=board.version, share=f"{board.share:.0%}", control=board.control_version,
                started=local(board.started_at, zone).strftime("%Y-%m-%d %H:%M"))).props('data-testid="canary-arms"')
    ui.label(tr("Leads: {control} control, {canary} canary.", control=board.leads["control"],
                canary=board.leads["canary"])).classes("text-grey-8")


def _rollback(principal: Principal, tr: Tr, canary_id: int) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96").props('data-testid="rollback-dialog"'):
        ui.label(tr("Roll back canary {id}?", id=canary_id)).classes("text-h6")
        ui.label(tr("From the next lead on, the active policy routes every lead. The candidate version stays stored."))
        reason = ui.input(tr("Why")).props('data-field="reason"')
        alert = ui.label().classes("text-negative").props('role="alert"')

        def confirm() -> None:
            try:
                with session_scope(context.engine()) as session:
                    canary.rollback(session, actor=principal, reason=reason.value or "", canary_id=canary_id)
            except DomainError as exc:
                alert.text = problem(exc, tr)
                return
            ui.navigate.to(f"{PATH}?id={canary_id}")

        with ui.row().classes("w-full justify-end"):
            ui.button(tr("Cancel"), on_click=dialog.close).props("flat")
            ui.button(tr("Roll back"), on_click=confirm, color="negative").props('data-testid="confirm-rollback"')
    ui.button(tr("Roll back"), icon="undo", on_click=dialog.open, color="negative").props(
        'outline data-testid="rollback"')


def _board(tr: Tr, board: canary.Board) -> None:
    with ui.column().classes("w-full gap-1").props('data-testid="canary-board"'):
        with ui.row().classes("w-full no-wrap text-weight-medium text-grey-8 gap-2"):
            for title, width in COLUMNS:
                ui.label(tr(title)).classes(width)
        for row in board.rows:
            _metric(tr, row)
    ui.label(tr("A verdict needs the always-valid p below 0.05: it may be read at any time without raising false "
                "alarms.")).classes("text-caption text-grey-7")


def _metric(tr: Tr, row: canary.Row) -> None:
    widths = [width for _, width in COLUMNS]
    with ui.row().classes("w-full no-wrap items-center gap-2").props(f'data-metric="{row.metric}"'):
        ui.label(tr(row.label)).classes(widths[0])
        for side, width, field in ((row.control, widths[1], "control"), (row.canary, widths[2], "canary")):
            ui.label(tr("{value} (n = {n})", value=canary.figure(side.value, row.unit, tr), n=side.n)).classes(
                width).props(f'data-field="{field}"')
        with ui.column().classes(f"{widths[3]} gap-0").props('data-field="difference"'):
            if row.diff is not None and row.low is not None and row.high is not None:
                ui.html(_bar(row, tr("No difference")), sanitize=False)
            ui.label(canary.interval(row, tr)).classes("text-caption")
        ui.label("—" if row.p is None else p_cell(row.p)).classes(widths[4]).props('data-field="p"')
        ui.label("—" if row.p_always is None else p_cell(row.p_always)).classes(widths[5]).props(
            'data-field="p-always"')
        with ui.element("div").classes(widths[6]):
            ui.badge(tr(canary.VERDICTS[row.verdict]), color=COLOURS[row.verdict]).props(
                f'data-field="verdict" data-verdict="{row.verdict}"')


def _bar(row: canary.Row, zero: str) -> str:
    """The interval as a bar on an axis centred on zero (a tick), the estimate as a dot, scaled to its own widest
    bound: what each bar shows is whether the interval crosses zero, and on which side it lies."""
    assert row.diff is not None and row.low is not None and row.high is not None
    half, y, colour = BAR_WIDTH / 2, BAR_HEIGHT / 2, BAR_COLOURS[row.verdict]
    reach = max(abs(row.low), abs(row.high), abs(row.diff)) or 1.0

    def x(value: float) -> float:
        return half + value / reach * (half - 6)

    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" role="img" '
            f'data-low="{row.low:.6g}" data-high="{row.high:.6g}">'
            f'<line x1="2" y1="{y}" x2="{BAR_WIDTH - 2}" y2="{y}" stroke="#cfd8dc"/>'
            f'<line x1="{half}" y1="2" x2="{half}" y2="{BAR_HEIGHT - 2}" stroke="#546e7a" stroke-width="1.5">'
            f'<title>{escape(zero)}</title></line>'
            f'<rect x="{x(row.low):.1f}" y="{y - 4}" width="{max(x(row.high) - x(row.low), 1):.1f}" height="8" '
            f'rx="2" fill="{colour}" fill-opacity="0.55"/>'
            f'<circle cx="{x(row.diff):.1f}" cy="{y}" r="4" fill="{colour}"/></svg>')


def _past(tr: Tr, past: list[Canary]) -> None:
    if not past:
        return
    zone = get_settings().zone
    ui.label(tr("All canaries")).classes("text-h6 q-mt-md")
    rows = [{"id": c.id, "version": c.version, "control": c.control_version, "share": f"{c.share:.0%}",
             "status": tr(canary.STATUSES[c.status.value]), "code": c.status.value,
             "started": local(c.started_at, zone).strftime("%Y-%m-%d %H:%M"),
             "ended": local(c.ended_at, zone).strftime("%Y-%m-%d %H:%M") if c.ended_at else "—"} for c in past]
    columns = [{"name": k, "label": tr(text), "field": k, "align": "left"} for k, text in PAST]
    table = ui.table(columns=columns, rows=rows, row_key="id").classes("w-full max-w-6xl").props(
        'flat dense data-testid="canary-history"')
    table.on("rowClick", lambda e: ui.navigate.to(f"{PATH}?id={e.args[1]['id']}"))


def register() -> None:
    ui.page(PATH)(context.page(canary_page))
