"""Appeal pages: the supervisor's queue with the evidence and the three rulings, a rep's own appeals, the
metrics, and the actions on a decision page (a rep appeals it; a supervisor reassigns the lead)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.appeals import reading, service
from evenhand.appeals.reading import QueueItem, Row
from evenhand.appeals.schemas import OUTCOME_STATUS, REASON_CODES, AppealCreate, Ruling
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local, utcnow
from evenhand.models import Appeal, AppealStatus, Role
from evenhand.routing import reassignment
from evenhand.routing import service as routing_service
from evenhand.routing.reasons import explain
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import DECISION_ACTIONS, Tr, shell

STATUSES: dict[AppealStatus, str] = {
    AppealStatus.OPEN: N_("Open"), AppealStatus.UPHELD: N_("Assignment upheld"),
    AppealStatus.RESCORED: N_("Re-scored and routed again"), AppealStatus.REASSIGNED: N_("Reassigned"),
    AppealStatus.WITHDRAWN: N_("Withdrawn"),
}
CORRECTED = {"industry": N_("Industry"), "region": N_("Region"), "company_size": N_("Employees"),
             "title": N_("Title"), "source": N_("Source"), "duplicate_of_id": N_("Duplicate of lead")}


def window() -> timedelta:
    return timedelta(minutes=get_settings().appeal_window_minutes)


# --- the page ----------------------------------------------------------------------------------------


def appeals_page(principal: Principal, tr: Tr, request: Request) -> None:
    oversees = principal.reads_everything or bool(principal.supervised_team_ids)
    with shell(principal, tr, title=tr("Appeals"), path="/appeals"):
        if oversees:
            _metrics(principal, tr)
            _queue(principal, tr)
            _decided(principal, tr)
        if principal.role in (Role.REP, Role.SUPERVISOR):
            _mine(principal, tr, always=not oversees)
    return None


def _metrics(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = reading.overview(session, principal, since=None, until=None, zone=get_settings().zone)
    overall = found.overall
    hours = "—" if overall.median_hours is None else f"{overall.median_hours:.1f}"
    share = {k: "—" if v is None else f"{100 * v:.0f}%" for k, v in overall.outcomes.items()}
    cards = ((N_("Appeals"), str(overall.count)), (N_("Open"), str(overall.open)),
             (N_("Median hours to decision"), hours), (N_("Assignment upheld"), share["upheld"]),
             (N_("Re-scored"), share["rescored"]), (N_("Reassigned"), share["reassigned"]))
    with ui.row().classes("gap-4").props('data-testid="appeal-metrics"'):
        for name, value in cards:
            with ui.card().classes("w-40"):
                ui.label(tr(name)).classes("text-grey-7 text-caption")
                ui.label(value).classes("text-h5")
    rows = [{"team": f.team or tr("No team"), "count": f.count, "open": f.open, "decided": f.decided,
             "median": "—" if f.median_hours is None else f"{f.median_hours:.1f}",
             **{k: "—" if v is None else f"{100 * v:.0f}%" for k, v in f.outcomes.items()}}
            for f in found.teams]
    if rows:
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
            ("team", N_("Team")), ("count", N_("Appeals")), ("open", N_("Open")), ("decided", N_("Ruled on")),
            ("median", N_("Median hours to decision")), ("upheld", N_("Assignment upheld")),
            ("rescored", N_("Re-scored")), ("reassigned", N_("Reassigned")))]
        ui.table(columns=columns, rows=rows, row_key="team").classes("w-full max-w-5xl")


def _queue(principal: Principal, tr: Tr) -> None:
    ui.label(tr("Open appeals")).classes("text-h6")

    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            items = reading.queue(session, principal)
        if not items:
            ui.label(tr("No open appeals.")).classes("text-grey-7").props('data-testid="no-open-appeals"')
        for item in items:
            _appeal_card(principal, item, tr, render.refresh)

    render()


def _appeal_card(principal: Principal, item: QueueItem, tr: Tr, refresh: Any) -> None:
    appeal = item.appeal
    filed = local(appeal.created_at, get_settings().zone).strftime("%m-%d %H:%M")
    with ui.card().classes("w-full max-w-5xl").props(f'data-appeal="{appeal.id}" id="appeal-{appeal.id}"'):
        with ui.row().classes("items-center gap-3"):
            ui.label(f"{item.company} · {tr('Score')} {item.score}").classes("text-subtitle1 text-weight-bold")
            ui.badge(tr(REASON_CODES.get(appeal.reason_code, appeal.reason_code)), color="warning")
            ui.label(tr("{rep} appealed at {when}", rep=item.appellant, when=filed)).classes("text-grey-7")
        if appeal.reason:
            ui.label(appeal.reason).classes("text-italic")
        for name, value in appeal.corrections.items():
            ui.chip(f"{tr(CORRECTED.get(name, name))}: {value}").props("outline dense")
        with ui.expansion(tr("Every rep considered"), value=True).classes("w-full"):
            for rep, verdict in item.verdicts:
                with ui.row().classes("gap-2"):
                    ui.label(rep).classes("text-weight-bold w-32")
                    ui.label(explain(verdict, tr)).classes("text-positive" if verdict.code == "chosen" else "")
        ui.link(tr("Why this rep"), f"/routing/decisions/{appeal.decision_id}")
        if item.may_rule:
            _ruling_controls(principal, appeal, item.reps, tr, refresh)


def _ruling_controls(principal: Principal, appeal: Appeal, reps: dict[int, str], tr: Tr, refresh: Any) -> None:
    with ui.row().classes("items-end gap-3 w-full"):
        note = ui.input(tr("Note to the rep")).classes("w-72").props('data-testid="ruling-note"')
        rep = ui.select(reps, label=tr("Reassign to (empty: route again)"), clearable=True,
                        with_input=True).classes("w-56").props('data-testid="ruling-rep"')

        def decide(outcome: str) -> None:
            try:
                data = Ruling.model_validate({"outcome": outcome, "note": note.value or "",
                                              "rep_id": rep.value if outcome == "reassign" else None})
                with session_scope(context.engine()) as session:
                    service.rule(session, appeal.id, data, actor=principal)
            except (DomainError, ValidationError) as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            ui.notify(tr("Ruled: {outcome}.", outcome=tr(STATUSES[OUTCOME_STATUS[outcome]])), type="positive")
            refresh()

        ui.button(tr("Uphold"), on_click=lambda: decide("uphold")).props('outline data-testid="uphold"')
        ui.button(tr("Re-score"), on_click=lambda: decide("rescore")).props('outline data-testid="rescore"')
        ui.button(tr("Reassign"), on_click=lambda: decide("reassign")).props('color=primary data-testid="reassign"')


def _table_rows(rows: list[Row], tr: Tr) -> list[dict[str, Any]]:
    zone = get_settings().zone
    return [{"id": r.appeal.id, "company": r.company, "appellant": r.appellant,
             "reason": tr(REASON_CODES.get(r.appeal.reason_code, r.appeal.reason_code)),
             "status": tr(STATUSES[r.appeal.status]), "ruling": r.appeal.ruling,
             "filed": local(r.appeal.created_at, zone).strftime("%Y-%m-%d %H:%M"),
             "decision": r.appeal.outcome_decision_id or r.appeal.decision_id} for r in rows]


def _appeal_table(rows: list[dict[str, Any]], tr: Tr, test_id: str) -> None:
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("filed", N_("Filed")), ("company", N_("Company")), ("appellant", N_("Rep")), ("reason", N_("Reason")),
        ("status", N_("Status")), ("ruling", N_("Supervisor's note")))]
    table = ui.table(columns=columns, rows=rows, row_key="id", pagination=20).classes("w-full max-w-5xl").props(
        f'data-testid="{test_id}"')
    table.add_slot("body-cell-company", """
        <q-td :props="props"><a :href="'/routing/decisions/' + props.row.decision" class="text-primary">
          {{ props.value }}</a></q-td>""")


def _decided(principal: Principal, tr: Tr) -> None:
    ui.label(tr("Decided recently")).classes("text-h6")
    with session_scope(context.engine(), readonly=True) as session:
        rows = reading.decided(session, principal)
    _appeal_table(_table_rows(rows, tr), tr, "decided-appeals")


def _mine(principal: Principal, tr: Tr, *, always: bool) -> None:
    """A rep's own appeals; a supervisor (who may carry leads too) sees the section only when there are some."""
    with session_scope(context.engine(), readonly=True) as session:
        own = reading.filed_by(session, principal)
    rows = _table_rows(own, tr)
    if not rows and not always:
        return
    ui.label(tr("My appeals")).classes("text-h6")
    if not rows:
        ui.label(tr("You have not appealed any assignment.")).classes("text-grey-7")
        return
    _appeal_table(rows, tr, "my-appeals")


# --- actions on a decision page ------------------------------------------------------------------------


def decision_actions(principal: Principal, tr: Tr, decision_id: int) -> None:
    """Under a decision: the chosen rep may appeal it while the window is open; whoever may reassign the
    lead may do so here."""
    with session_scope(context.engine(), readonly=True) as session:
        options = reading.decision_options(session, principal, decision_id, window=window())
    if options is None:
        return
    with ui.row().classes("items-center gap-4").props('data-testid="decision-actions"'):
        if options.own_appeal is not None and options.own_appeal is not AppealStatus.WITHDRAWN:
            ui.label(tr("Your appeal: {status}", status=tr(STATUSES[options.own_appeal]))).props(
                'data-testid="my-appeal"')
            ui.link(tr("My appeals"), "/appeals")
        if options.appeal_closes is not None:
            minutes = max(1, math.ceil((options.appeal_closes - utcnow()).total_seconds() / 60))
            dialog = _appeal_dialog(principal, decision_id, options.regions, tr)
            ui.button(tr("Appeal"), icon="gavel", on_click=dialog.open).props('color=warning data-testid="appeal"')
            ui.label(tr("You can appeal for {minutes} more minutes.", minutes=minutes)).classes(
                "text-grey-7").props('data-testid="appeal-window"')
        if options.lead_id is not None:
            dialog = _reassign_dialog(principal, options.lead_id, options.reps, tr)
            ui.button(tr("Reassign"), icon="swap_horiz", on_click=dialog.open).props(
                'outline data-testid="reassign-lead"')


def _appeal_dialog(principal: Principal, decision_id: int, regions: dict[str, str], tr: Tr) -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-[28rem]").props('data-testid="appeal-dialog"'):
        ui.label(tr("Appeal this assignment")).classes("text-h6")
        code = ui.select({k: tr(v) for k, v in REASON_CODES.items()}, value="wrong_industry",
                         label=tr("Reason")).classes("w-full").props('data-testid="appeal-reason-code"')
        reason = ui.textarea(tr("What is wrong")).classes("w-full").props('data-testid="appeal-reason"')
        ui.label(tr("Corrected facts (leave empty what is right)")).classes("text-caption text-grey-7")
        industry = ui.input(tr("Industry")).classes("w-full").props('data-testid="correct-industry"')
        region = ui.select(regions, label=tr("Region"), clearable=True).classes("w-full")
        size = ui.number(tr("Employees"), min=0, precision=0).classes("w-full")
        duplicate = ui.number(tr("Duplicate of lead"), min=1, precision=0).classes("w-full")

        def submit() -> None:
            corrections = {"industry": industry.value or None, "region": region.value or None,
                           "company_size": None if size.value is None else int(size.value),
                           "duplicate_of_id": None if duplicate.value is None else int(duplicate.value)}
            try:
                data = AppealCreate.model_validate({"decision_id": decision_id, "reason_code": code.value,
                                                    "reason": reason.value or "", "corrections": {
                                                        k: v for k, v in corrections.items() if v is not None}})
                with session_scope(context.engine()) as session:
                    service.file(session, data, actor=principal, window=window())
            except (DomainError, ValidationError) as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            dialog.close()
            ui.notify(tr("Appeal filed; your supervisor has been told."), type="positive")
            ui.navigate.reload()

        with ui.row().classes("justify-end w-full"):
            ui.button(tr("Cancel"), on_click=dialog.close).props("flat")
            ui.button(tr("File the appeal"), on_click=submit).props('color=primary data-testid="file-appeal"')
    return dialog


def _reassign_dialog(principal: Principal, lead_id: int, reps: dict[int, str], tr: Tr) -> ui.dialog:
    with ui.dialog() as dialog, ui.card().classes("w-[28rem]").props('data-testid="reassign-dialog"'):
        ui.label(tr("Reassign the lead")).classes("text-h6")
        rep = ui.select(reps, label=tr("Reassign to (empty: route again)"), clearable=True,
                        with_input=True).classes("w-full")
        reason = ui.input(tr("Why")).classes("w-full").props('data-testid="reassign-reason"')

        def submit() -> None:
            if not (reason.value or "").strip():
                ui.notify(tr("Say why the lead is reassigned."), type="negative")
                return
            try:
                with session_scope(context.engine()) as session:
                    lead = routing_service.reassignable(session, principal, lead_id)
                    row = reassignment.reassign(session, lead, actor=principal, to_rep_id=rep.value,
                                                note=reason.value.strip(),
                                                   kind="manual" if rep.value else "reassign")
                    new_id = row.id
            except DomainError as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            ui.navigate.to(f"/routing/decisions/{new_id}")

        with ui.row().classes("justify-end w-full"):
            ui.button(tr("Cancel"), on_click=dialog.close).props("flat")
            ui.button(tr("Reassign"), on_click=submit).props('color=primary data-testid="confirm-reassign"')
    return dialog


def register() -> None:
    DECISION_ACTIONS.add(decision_actions, order=10)
    ui.page("/appeals")(context.page(appeals_page))
