"""``/performance/incentives``: per closed period, who holds which grant its scorecards earned (the key-account lead
pool, training priority, the promotion recommendation list), until when and why; for sales ops, supervisors and
auditors, the what-if of changed tiers on the key-account pool's recent leads."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, current_locale
from evenhand.performance import incentives
from evenhand.performance.period import parse
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import Tr, shell

PATH = "/performance/incentives"
STATUS_COLOURS = {incentives.HELD: "positive", incentives.BY_HAND: "primary", incentives.LAPSED: "grey"}
COLUMNS = (("name", N_("Rep")), ("team", N_("Team")), ("tier", N_("Tier")), ("total", N_("Score")),
           ("status", N_("Status")), ("until", N_("Until")))
WHATIF_COLUMNS = (("name", N_("Rep")), ("before", N_("Holds now")), ("after", N_("Would hold")),
                  ("before_leads", N_("Leads now")), ("after_leads", N_("Leads then")),
                  ("before_share", N_("Share now")), ("after_share", N_("Share then")))


def incentives_page(principal: Principal, tr: Tr, request: Request, period: str = "") -> None:
    with session_scope(context.engine(), readonly=True) as session:
        keys = incentives.closed_periods(session)
    chosen = period if period in keys else (keys[0] if keys else None)
    with shell(principal, tr, title=tr("Incentives"), path=PATH):
        ui.label(tr("A closed period's tiers earn grants until the end of the following period: the key-account "
                    "lead pool, priority for training places, the promotion recommendation list. A grant given by "
                    "hand is left as it is.")).classes("text-grey-7")
        if chosen is None:
            ui.label(tr("No period has been closed yet.")).classes("text-grey-7").props('data-testid="no-period"')
            return None
        ui.select(keys, value=chosen, label=tr("Period"), on_change=lambda e: ui.navigate.to(
            f"{PATH}?period={e.value}")).classes("w-40").props('outlined dense data-testid="incentives-period"')
        _lists(principal, tr, chosen)
        if principal.sees_team_figures:
            _whatif(principal, tr, chosen)
    return None


def _lists(principal: Principal, tr: Tr, key: str) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = incentives.lists(session, parse(key), principal=principal)
    locale = current_locale()
    for grant, title in incentives.GRANT_LABELS.items():
        rows = [_row(h, tr, locale) for h in found if h.grant == grant]
        with ui.column().classes("w-full max-w-5xl gap-1").props(f'data-grant="{grant}"'):
            ui.label(tr(title)).classes("text-h6")
            if not rows:
                ui.label(tr("Nobody earned it in {period}.", period=key)).classes("text-grey-7")
                continue
            columns = [{"name": k, "label": tr(text), "field": k, "align": "left"} for k, text in COLUMNS]
            table = ui.table(columns=columns, rows=rows, row_key="user_id").classes("w-full").props("flat dense")
            table.add_slot("body-cell-status", """<q-td :props="props"><q-badge :color="props.row.colour"
                :label="props.value" :data-status="props.row.code" /></q-td>""")


def _row(h: incentives.Holding, tr: Tr, locale: str) -> dict[str, Any]:
    zone = get_settings().zone
    until = incentives.last_day(h.expires_at, zone).isoformat() if h.expires_at else "—"
    return {"user_id": h.user_id, "name": h.name, "team": h.team or "—",
            "tier": h.tier_label.get(locale) or h.tier, "total": "—" if h.total is None else f"{h.total:.1f}",
            "status": tr(incentives.STATUS_LABELS[h.status]), "code": h.status, "colour": STATUS_COLOURS[h.status],
            "until": until}


def _whatif(principal: Principal, tr: Tr, key: str) -> None:
    with session_scope(context.engine()) as session:  # a new database installs the shipped templates here
        body = incentives.active_text(session)
    ui.label(tr("What if the tiers changed")).classes("text-h6 q-mt-md")
    ui.label(tr("Edit the templates' tiers (or anything else), then replay: who would hold the key-account grant "
                "for {period}, and how the key-account pool's leads of the recent days would have been shared.",
                period=key)).classes("text-grey-7")
    text = ui.textarea(value=body).classes("w-full max-w-5xl font-mono").props(
        'outlined rows=12 data-testid="whatif-body"')
    days = ui.number(tr("Days replayed"), value=incentives.WHATIF_DAYS, min=1, max=92, precision=0).classes("w-40")
    result = ui.column().classes("w-full max-w-5xl")

    async def replay() -> None:
        result.clear()
        with result:  # a replay of weeks of leads takes seconds
            ui.linear_progress(show_value=False).props('indeterminate data-testid="whatif-progress"')
        button.disable()
        try:
            found = await run.io_bound(_replay, principal, text.value or "", key, int(days.value or 30))
        except DomainError as exc:
            result.clear()
            with result:
                ui.label(problem(exc, tr)).classes("text-negative").props('role="alert" data-testid="whatif-error"')
            return
        finally:
            button.enable()
        result.clear()
        if found is not None:  # None only when the server is shutting down
            with result:
                _figures(found, tr)

    button = ui.button(tr("Replay"), on_click=replay).props('data-testid="whatif-run"')


def _replay(principal: Principal, body: str, key: str, days: int) -> dict[str, Any]:
    with session_scope(context.engine(), readonly=True) as session:
        return incentives.whatif(session, body, period=parse(key), days=days, principal=principal)


def _figures(found: dict[str, Any], tr: Tr) -> None:
    if not found["pools"]:
        ui.label(tr(incentives.NO_POOL)).classes("text-orange-9").props('data-testid="whatif-no-pool"')
        return
    ui.label(tr("{leads} key-account leads from {start} to {end}; left waiting in the holding queue: {held_before} "
                "now, {held_after} then.", leads=found["leads"], start=found["from"], end=found["to"],
                held_before=found["held"]["before"], held_after=found["held"]["after"])).props(
        'data-testid="whatif-summary"')
    yes, no = tr("yes"), tr("no")
    rows = [{"user_id": r["user_id"], "name": r["name"], "before": yes if r["before"]["holds"] else no,
             "after": yes if r["after"]["holds"] else no, "before_leads": r["before"]["leads"],
             "after_leads": r["after"]["leads"], "before_share": f"{r['before']['share']:.0%}",
             "after_share": f"{r['after']['share']:.0%}"} for r in found["reps"]]
    columns = [{"name": k, "label": tr(text), "field": k, "align": "left"} for k, text in WHATIF_COLUMNS]
    ui.table(columns=columns, rows=rows, row_key="user_id").classes("w-full").props(
        'flat dense data-testid="whatif-table"')


def register() -> None:
    ui.page(PATH)(context.page(incentives_page))
