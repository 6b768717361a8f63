"""Opportunity and account pages: the deals a person may see, filterable by stage and owner, one deal with its
stage history (derived steps marked), the accounts, and one account with its deals."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import Stage
from evenhand.opportunities import reading
from evenhand.opportunities.reading import DealLine
from evenhand.web import context
from evenhand.web.labels import label
from evenhand.web.layout import DEAL_WORK, Tr, shell

PATH = "/opportunities"  # the navigation entry both lists stand under
PAGE_SIZE = 500
STAGE_COLOURS = {Stage.WON: "positive", Stage.LOST: "negative"}
DEAL_COLUMNS = (("name", N_("Opportunity")), ("account", N_("Account")), ("owner", N_("Owner")),
                ("amount", N_("Amount")), ("stage", N_("Stage")), ("created", N_("Created")), ("closed", N_("Closed")))
ACCOUNT_COLUMNS = (("name", N_("Account")), ("industry", N_("Industry")), ("region", N_("Region")),
                   ("owner", N_("Owner")), ("source", N_("Source")))


def _day(at: datetime | None, zone: ZoneInfo) -> str:
    return local(at, zone).strftime("%Y-%m-%d") if at else ""


def _deal_row(line: DealLine, tr: Tr, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": line.id, "name": line.name, "account": line.account or "", "owner": line.owner or "",
            "amount": f"{line.amount:,.2f}", "stage": tr(label(line.stage)),
            "colour": STAGE_COLOURS.get(line.stage, "primary"), "created": _day(line.created_at, zone),
            "closed": _day(line.closed_at, zone)}


def _tabs(tr: Tr, current: str) -> None:
    with ui.row().classes("gap-4"):
        for path, text in ((PATH, N_("Opportunities")), ("/accounts", N_("Accounts"))):
            link = ui.link(tr(text), path).props(f'data-tab="{path}"')
            link.classes("text-weight-bold" if path == current else "text-grey-8")


# --- opportunities ------------------------------------------------------------------------------------------------


def opportunity_list(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        owners = reading.owners(session, principal)
    with shell(principal, tr, title=tr("Opportunities"), path=PATH):
        _tabs(tr, PATH)
        state: dict[str, Any] = {"stage": None, "owner": None}
        with ui.row().classes("items-end gap-3"):
            ui.select({s.value: tr(label(s)) for s in Stage}, label=tr("Stage"), clearable=True,
                      on_change=lambda e: _set(state, "stage", e.value, refresh)).classes("w-40").props(
                'data-testid="stage-filter"')
            ui.select(owners, label=tr("Owner"), clearable=True,
                      on_change=lambda e: _set(state, "owner", e.value, refresh)).classes("w-48").props(
                'data-testid="owner-filter"')

        @ui.refreshable
        def refresh() -> None:
            stage = Stage(state["stage"]) if state["stage"] else None
            with session_scope(context.engine(), readonly=True) as session:
                lines, total = reading.deals(session, principal, stage=stage, owner_id=state["owner"],
                                             limit=PAGE_SIZE)
            ui.label(tr("{shown} most recent of {total} deals you can see.", shown=len(lines), total=total)).props(
                'data-testid="deal-count"')
            _deal_table([_deal_row(line, tr, get_settings().zone) for line in lines], tr)

        refresh()
    return None


def _set(state: dict[str, Any], key: str, value: Any, refresh: Any) -> None:
    state[key] = value or None
    refresh.refresh()


def _deal_table(rows: list[dict[str, Any]], tr: Tr) -> None:
    columns = [{"name": k, "label": tr(text), "field": k, "sortable": True, "align": "right" if k == "amount"
                else "left"} for k, text in DEAL_COLUMNS]
    table = ui.table(columns=columns, rows=rows, row_key="id", pagination=25).classes("w-full").props(
        'data-testid="deal-table"')
    table.add_slot("body-cell-name", """
        <q-td :props="props"><a :href="'/opportunities/' + props.row.id" class="text-primary">{{ props.value }}</a>
        </q-td>""")
    table.add_slot("body-cell-stage", """
        <q-td :props="props"><q-badge :color="props.row.colour" :label="props.value" outline /></q-td>""")


def opportunity_detail(principal: Principal, tr: Tr, opportunity_id: int) -> None:
    zone = get_settings().zone
    with session_scope(context.engine(), readonly=True) as session:
        view = reading.deal(session, principal, opportunity_id)
    with shell(principal, tr, title=view.line.name if view else tr("Opportunity not found"), path=PATH):
        _tabs(tr, PATH)
        if view is None:
            ui.label(tr("This opportunity does not exist or is not yours to see.")).classes("text-grey-7")
            return None
        with ui.row().classes("w-full gap-6 items-start"):
            _deal_facts(view, tr, zone)
            _history(view, tr, zone)
        with ui.row().classes("w-full gap-6 items-start"):
            DEAL_WORK.draw(principal, tr, opportunity_id)
    return None


def _deal_facts(view: reading.DealView, tr: Tr, zone: ZoneInfo) -> None:
    line, deal = view.line, view.deal
    facts = ((N_("Stage"), tr(label(line.stage))), (N_("Owner"), line.owner), (N_("Product line"), view.product),
             (N_("Amount"), f"{line.amount:,.2f}"), (N_("Discount"), f"{deal.discount_pct:g}%"),
             (N_("Created"), _day(line.created_at, zone)), (N_("Engaged"), _day(deal.engaged_at, zone)),
             (N_("Closed"), _day(line.closed_at, zone)), (N_("Source"), deal.source),
             (N_("External id"), deal.external_id))
    with ui.card().classes("w-80").props('data-testid="deal-facts"'):
        if line.account and view.account_id:
            ui.link(line.account, f"/accounts/{view.account_id}").classes("text-subtitle1")
        for name, value in facts:
            with ui.row().classes("w-full justify-between"):
                ui.label(tr(name)).classes("text-grey-7")
                ui.label(value or "—")


def _history(view: reading.DealView, tr: Tr, zone: ZoneInfo) -> None:
    with ui.card().classes("grow").props('data-testid="stage-history"'):
        ui.label(tr("Stage history")).classes("text-h6")
        if not view.steps:
            ui.label(tr("No stage changes recorded.")).classes("text-grey-7")
            return
        if any(s.derived for s in view.steps):
            ui.label(tr("Steps marked as derived were rebuilt from the deal's dates: the export had no stage "
                        "history.")).classes("text-caption text-grey-7")
        with ui.timeline(side="right"):
            for step in view.steps:
                title = tr(label(step.to_stage)) + (f" ({tr('derived')})" if step.derived else "")
                body = tr("by {name}", name=step.by) if step.by else ""
                ui.timeline_entry(body, title=title, color="grey" if step.derived else None,
                                  subtitle=local(step.changed_at, zone).strftime("%Y-%m-%d %H:%M")).props(
                    f'data-step="{step.to_stage.value}" data-derived="{step.derived}"')


# --- accounts -----------------------------------------------------------------------------------------------------


def account_list(principal: Principal, tr: Tr) -> None:
    with shell(principal, tr, title=tr("Accounts"), path=PATH):
        _tabs(tr, "/accounts")
        state: dict[str, Any] = {"q": None}
        ui.input(tr("Account name"), on_change=lambda e: _set(state, "q", e.value, refresh)).props(
            'clearable dense debounce=400 data-testid="account-search"')

        @ui.refreshable
        def refresh() -> None:
            with session_scope(context.engine(), readonly=True) as session:
                lines, total = reading.account_list(session, principal, q=state["q"], limit=PAGE_SIZE)
            ui.label(tr("{shown} of {total} accounts you can see.", shown=len(lines), total=total)).props(
                'data-testid="account-count"')
            columns = [{"name": k, "label": tr(text), "field": k, "sortable": True, "align": "left"}
                       for k, text in ACCOUNT_COLUMNS]
            rows = [{"id": a.id, "name": a.name, "industry": a.industry or "", "region": a.region or "",
                     "owner": a.owner or "", "source": a.source or ""} for a in lines]
            table = ui.table(columns=columns, rows=rows, row_key="id", pagination=25).classes("w-full")
            table.add_slot("body-cell-name", """
                <q-td :props="props"><a :href="'/accounts/' + props.row.id" class="text-primary">{{ props.value }}</a>
                </q-td>""")

        refresh()
    return None


def account_detail(principal: Principal, tr: Tr, account_id: int) -> None:
    zone = get_settings().zone
    with session_scope(context.engine(), readonly=True) as session:
        view = reading.account(session, principal, account_id)
    with shell(principal, tr, title=view.line.name if view else tr("Account not found"), path=PATH):
        _tabs(tr, "/accounts")
        if view is None:
            ui.label(tr("This account does not exist or is not yours to see.")).classes("text-grey-7")
            return None
        line = view.line
        with ui.card().classes("w-full").props('data-testid="account-facts"'), ui.row().classes("gap-6"):
            for name, value in ((N_("Industry"), line.industry), (N_("Region"), line.region),
                                (N_("Owner"), line.owner), (N_("Source"), line.source)):
                ui.label(f"{tr(name)}: {value or '—'}")
        ui.label(tr("Opportunities")).classes("text-h6")
        _deal_table([_deal_row(d, tr, zone) for d in view.deals], tr)
    return None


def register() -> None:
    ui.page(PATH)(context.page(opportunity_list))
    ui.page(f"{PATH}/{{opportunity_id}}")(context.page(opportunity_detail))
    ui.page("/accounts")(context.page(account_list))
    ui.page("/accounts/{account_id}")(context.page(account_detail))
