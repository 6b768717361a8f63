"""``/performance/peer``: peer review. A rep writes the reviews drawn for them (a form each) and reads their own
aggregate; a supervisor reads their teams' aggregates, staff everyone's; admins and sales ops open, raise the
threshold of and close cycles, and read completion as counts. Nothing on the page names who wrote a review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural
from evenhand.performance import peer_service as service
from evenhand.performance.peer_schemas import Aggregate, AssignmentRead, CycleOpen, CycleRead, ReviewSubmit
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import Tr, shell

PATH = "/performance/peer"
STATUS = {"open": N_("taking reviews"), "closed": N_("closed to reviews")}
RATINGS = {n: str(n) for n in range(1, 6)}


def peer_page(principal: Principal, tr: Tr, request: Request) -> None:
    # the page's own path: the language switch comes back here (the menu then marks no item)
    with shell(principal, tr, title=tr("Peer review"), path=PATH):
        ui.label(tr("Each month every rep is reviewed on professionalism and collaboration by peers from other "
                    "teams. Reviews are anonymous: nobody, the system included, can tell who wrote one.")).classes(
            "text-grey-7")
        cycles, period = _cycles(principal, request.query_params.get("period"))
        if principal.manages_org:
            _controls(principal, tr, cycles)
        if period is None:
            ui.label(tr("No peer review cycle yet.")).classes("text-grey-7").props('data-testid="peer-none"')
            return None
        _choose(tr, cycles, period)
        _to_write(principal, tr, period)
        _aggregates(principal, tr, period)
    return None


def _cycles(principal: Principal, asked: str | None) -> tuple[list[CycleRead], str | None]:
    with session_scope(context.engine(), readonly=True) as session:
        cycles = service.cycles(session, principal)
    keys = [c.period for c in cycles]
    return cycles, asked if asked in keys else (keys[0] if keys else None)


def _choose(tr: Tr, cycles: list[CycleRead], period: str) -> None:
    options = {c.period: f"{c.period} · {tr(STATUS[c.status])}" for c in cycles}
    ui.select(options, value=period, label=tr("Month"),
              on_change=lambda e: ui.navigate.to(f"{PATH}?period={e.value}")).props(
        'data-testid="peer-period"').classes("w-64")


# --- reviews to write ----------------------------------------------------------------------------------------------


def _to_write(principal: Principal, tr: Tr, period: str) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        mine = service.assignments(session, principal, period)
    if not mine:
        return
    ui.label(tr("Your reviews to write")).classes("text-h6")
    ui.label(tr("Rate each colleague 1 (poor) to 5 (excellent). Your name is never stored with a review; a review "
                "cannot be changed once submitted.")).classes("text-grey-7")
    for assignment in mine:
        with ui.card().classes("w-full max-w-3xl").props(f'data-assignment="{assignment.id}"'):
            _review_form(principal, tr, assignment)


def _review_form(principal: Principal, tr: Tr, assignment: AssignmentRead) -> None:
    title = assignment.reviewee + (f" · {assignment.team}" if assignment.team else "")
    ui.label(title).classes("text-subtitle1 text-weight-bold")
    if assignment.done:
        ui.label(tr("Submitted. Thank you.")).classes("text-positive").props('data-testid="peer-done"')
        return
    if not assignment.open:
        ui.label(tr("The cycle is closed.")).classes("text-grey-7")
        return
    with ui.row().classes("items-center gap-4"):
        ui.label(tr("Professionalism")).classes("w-32")
        professionalism = ui.radio(RATINGS).props('inline dense data-testid="peer-professionalism"')
    with ui.row().classes("items-center gap-4"):
        ui.label(tr("Collaboration")).classes("w-32")
        collaboration = ui.radio(RATINGS).props('inline dense data-testid="peer-collaboration"')
    comment = ui.textarea(tr("Comment (optional, shown to them without your name)")).classes("w-full").props(
        'outlined rows=2 data-testid="peer-comment"')

    def submit() -> None:
        if professionalism.value is None or collaboration.value is None:
            ui.notify(tr("Rate both professionalism and collaboration."), type="negative")
            return
        if _submitted(principal, tr, assignment.id, professionalism.value, collaboration.value, comment.value):
            ui.navigate.reload()

    ui.button(tr("Submit review"), on_click=submit).props('data-testid="peer-submit"')


def _submitted(principal: Principal, tr: Tr, assignment_id: int, prof: Any, collab: Any, comment: Any) -> bool:
    try:
        data = ReviewSubmit.model_validate({"assignment_id": assignment_id, "professionalism": int(prof),
                                            "collaboration": int(collab), "comment": comment or ""})
        with session_scope(context.engine()) as session:
            service.submit(session, data, actor=principal)
    except (DomainError, ValidationError) as exc:
        ui.notify(problem(exc, tr), type="negative")
        return False
    ui.notify(tr("Review submitted."), type="positive")
    return True


# --- aggregates ----------------------------------------------------------------------------------------------------


def _aggregates(principal: Principal, tr: Tr, period: str) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = service.aggregates(session, principal, period)
    own = [a for a in found if a.user_id == principal.user_id]
    others = [a for a in found if a.user_id != principal.user_id]
    if own:
        ui.label(tr("Your peer reviews")).classes("text-h6")
        _aggregate_card(tr, own[0])
    if others:
        ui.label(tr("Peer reviews of your teams") if not principal.reads_everything else tr("Peer reviews")).classes(
            "text-h6")
        for aggregate in others:
            _aggregate_card(tr, aggregate)


def _aggregate_card(tr: Tr, aggregate: Aggregate) -> None:
    with ui.card().classes("w-full max-w-3xl").props(
            f'data-reviewee="{aggregate.user_id}" data-testid="peer-aggregate"'):
        ui.label(aggregate.name + (f" · {aggregate.team}" if aggregate.team else "")).classes("text-subtitle1")
        if not aggregate.enough:
            ui.label(tr("Not enough reviews yet: the aggregate shows from {threshold} reviews.",
                        threshold=aggregate.threshold)).classes("text-grey-7").props('data-testid="peer-not-enough"')
            return
        with ui.row().classes("gap-6").props('data-testid="peer-figures"'):
            ui.label(tr("Professionalism {value}", value=f"{aggregate.professionalism:.2f}"))
            ui.label(tr("Collaboration {value}", value=f"{aggregate.collaboration:.2f}"))
            ui.label(tr(plural(aggregate.reviews or 0, N_("{count} review"), N_("{count} reviews")),
                        count=aggregate.reviews)).classes("text-grey-7")
        if aggregate.trimmed:
            ui.label(tr("The highest and the lowest rating of each were left out.")).classes("text-caption")
        for text in aggregate.comments:
            ui.label(f"“{text}”").classes("text-body2").props('data-testid="peer-comment-shown"')


# --- cycles (admins, sales ops) ------------------------------------------------------------------------------------


def _controls(principal: Principal, tr: Tr, cycles: list[CycleRead]) -> None:
    ui.label(tr("Cycles")).classes("text-h6")
    for cycle in cycles:
        _cycle_row(principal, tr, cycle)
    with ui.row().classes("items-end gap-2"):
        month = ui.input(tr("Month (YYYY-MM)")).props('data-testid="peer-open-period"')
        per = ui.number(tr("Reviews per rep"), value=3, min=1, max=20, precision=0).classes("w-32")
        threshold = ui.number(tr("Threshold"), value=3, min=3, max=20, precision=0).classes("w-32")

        def open_cycle() -> None:
            _act(tr, lambda session: service.open_cycle(session, CycleOpen.model_validate(
                {"period": (month.value or "").strip(), "per_reviewer": int(per.value or 0),
                 "threshold": int(threshold.value or 0)}), actor=principal), N_("Cycle opened."))

        ui.button(tr("Open a cycle"), on_click=open_cycle).props('outline data-testid="peer-open"')


def _cycle_row(principal: Principal, tr: Tr, cycle: CycleRead) -> None:
    with ui.row().classes("items-center gap-3").props(f'data-cycle="{cycle.period}"'):
        ui.label(cycle.period).classes("text-weight-bold")
        ui.label(tr(STATUS[cycle.status]))
        ui.label(tr("{done} of {assignments} reviews written; {reps} reps reviewed.", done=cycle.done,
                    assignments=cycle.assignments, reps=cycle.reps)).props('data-testid="peer-completion"')
        ui.label(tr("aggregates from {threshold} reviews, seed {seed}", threshold=cycle.threshold, seed=cycle.seed))
        if cycle.status == "open":
            ui.button(tr("Close"), on_click=lambda: _act(tr, lambda session: service.close_cycle(
                session, cycle.period, actor=principal), N_("Cycle closed."))).props("flat dense")


def _act(tr: Tr, work: Callable[[Any], Any], done: str) -> None:
    try:
        with session_scope(context.engine()) as session:
            work(session)
    except (DomainError, ValidationError) as exc:
        ui.notify(problem(exc, tr), type="negative")
        return
    ui.notify(tr(done), type="positive")
    ui.navigate.reload()


def register() -> None:
    ui.page(PATH)(context.page(peer_page))
