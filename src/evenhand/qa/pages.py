"""The call QA pages. ``/qa``: for a reviewer (the supervisor of the rep's team, sales ops, an admin) the queue of
the current samples' calls, each with its recording, the rep's open coaching items, and the rubric with its anchors;
for a rep their feedback to acknowledge and their coaching items; for everyone the trend of the average score per
criterion, and the samples with their seeds. ``/qa/rubric``: the rubric's editor (admin and ops edit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, current_locale, plural
from evenhand.kit.clock import local
from evenhand.models import ReviewStatus, Role
from evenhand.qa import service
from evenhand.qa.rubric import CompiledRubric
from evenhand.qa.schemas import CoachingItem, ReviewRead, ReviewSave
from evenhand.web import context, document_editor
from evenhand.web.forms import problem
from evenhand.web.labels import label
from evenhand.web.layout import Tr, shell

PATH = "/qa"
RUBRIC_PATH = "/qa/rubric"
STATUS_COLOURS = {ReviewStatus.PENDING: "grey", ReviewStatus.REVIEWED: "primary", ReviewStatus.ACKNOWLEDGED: "positive"}


def _when(value: Any) -> str:
    return local(value, get_settings().zone).strftime("%Y-%m-%d %H:%M") if value else "—"


def _duration(seconds: int | None) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds is not None else "—"


def qa_page(principal: Principal, tr: Tr, request: Request) -> None:
    locale = current_locale()
    with session_scope(context.engine()) as session:  # the first read on a new database installs rubric version 1
        compiled = service.rubric(session)
    with shell(principal, tr, title=tr("Call QA"), path=PATH):
        ui.label(tr("Each month a random share of the recorded outbound calls is reviewed against the rubric; the "
                    "rep reads the feedback, acknowledges it, and works on the coaching items.")).classes(
            "text-grey-7")
        ui.link(tr("The rubric"), RUBRIC_PATH).props('data-testid="rubric-link"')
        if service.reviews_anyone(principal):
            _queue(principal, tr, compiled, locale)
        if not principal.reads_everything:
            _feedback(principal, tr, compiled, locale)
        _trends(principal, tr, locale)
        _samples(principal, tr)
    return None


# --- the reviewer's queue ------------------------------------------------------------------------------------------


def _queue(principal: Principal, tr: Tr, compiled: CompiledRubric, locale: str) -> None:
    ui.label(tr("Calls to review")).classes("text-h6")

    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            waiting = service.queue(session, principal)
            carried = {rep: service.open_coaching(session, principal, rep) for rep in {r.rep_id for r in waiting}}
        if not waiting:
            ui.label(tr("No calls waiting for a review.")).classes("text-grey-7").props('data-testid="queue-empty"')
        for n, review in enumerate(waiting):  # the first is open; the others open one at a time
            _review_card(principal, tr, compiled, locale, review, carried.get(review.rep_id, []), render.refresh,
                         open=n == 0)

    render()


def _call_line(review: ReviewRead, tr: Tr) -> None:
    with ui.row().classes("items-center gap-3"):
        ui.label(review.rep).classes("text-subtitle1 text-weight-bold")
        ui.label(tr("Call at {when}, {duration}", when=_when(review.call_at), duration=_duration(
            review.duration_seconds))).classes("text-grey-8")
        ui.badge(tr(label(review.status)), color=STATUS_COLOURS[review.status]).props(
            f'data-testid="review-status" data-status="{review.status.value}"')
        if review.opportunity_id:
            ui.link(tr("Opportunity {id}", id=review.opportunity_id), f"/opportunities/{review.opportunity_id}")
        elif review.lead_id:
            ui.link(tr("Lead {id}", id=review.lead_id), f"/leads/{review.lead_id}")
    ui.audio(review.recording).props('preload="none" data-testid="recording"').classes("w-full max-w-xl")


def _review_card(principal: Principal, tr: Tr, compiled: CompiledRubric, locale: str, review: ReviewRead,
                 carried: list[CoachingItem], refresh: Callable[[], Any], *, open: bool) -> None:
    with ui.card().classes("w-full max-w-5xl").props(f'data-review="{review.id}"'):
        _call_line(review, tr)
        with ui.expansion(tr("Score this call"), value=open).classes("w-full").props('data-testid="review-form"'):
            _review_form(principal, tr, compiled, locale, review, carried, refresh)


def _review_form(principal: Principal, tr: Tr, compiled: CompiledRubric, locale: str, review: ReviewRead,
                 carried: list[CoachingItem], refresh: Callable[[], Any]) -> None:
    if carried:
        ui.label(tr("Open coaching from earlier reviews")).classes("text-subtitle2")
        _coaching(principal, tr, carried, refresh, test_id="carried-coaching")
    choices: dict[str, ui.radio] = {}
    with ui.row().classes("w-full gap-4 items-start"):
        for key, criterion in compiled.criteria.items():
            with ui.column().classes("gap-1 w-56").props(f'data-criterion="{key}"'):
                ui.label(criterion.label.says(locale)).classes("text-weight-bold")
                options = {n: f"{n} · {anchor.says(locale)}" for n, anchor in sorted(criterion.anchors.items())}
                choices[key] = ui.radio(options).props("dense").classes("text-caption")
    comment = ui.textarea(tr("Comment")).classes("w-full").props('data-testid="review-comment" outlined rows=2')
    coaching = ui.textarea(tr("Coaching items, one per line")).classes("w-full").props(
        'data-testid="review-coaching" outlined rows=2')

    def save() -> None:
        missing = [k for k, radio in choices.items() if radio.value is None]
        if missing:
            ui.notify(tr("Score {criterion} too: every criterion of the rubric gets a score.",
                         criterion=compiled.label(missing[0], locale)), type="negative")
            return
        items = [line.strip() for line in (coaching.value or "").splitlines() if line.strip()]
        try:
            data = ReviewSave.model_validate({"scores": {k: r.value for k, r in choices.items()},
                                              "comment": comment.value or "", "coaching": items})
            with session_scope(context.engine()) as session:
                service.save_review(session, review.id, data, actor=principal)
        except (DomainError, ValidationError) as exc:
            ui.notify(problem(exc, tr), type="negative")
            return
        ui.notify(tr("Review saved; {rep} has been told.", rep=review.rep), type="positive")
        refresh()

    ui.button(tr("Save the review"), on_click=save).props('color=primary data-testid="save-review"')


def _coaching(principal: Principal, tr: Tr, items: list[CoachingItem], refresh: Callable[[], Any], *,
              test_id: str) -> None:
    with ui.column().classes("gap-1").props(f'data-testid="{test_id}"'):
        for item in items:
            with ui.row().classes("items-center gap-2").props(f'data-coaching="{item.review_id}-{item.index}"'):
                ui.icon("check_circle" if item.done else "radio_button_unchecked",
                        color="positive" if item.done else "grey")
                ui.label(item.text)
                if item.period:
                    ui.label(item.period).classes("text-caption text-grey-7")
                if not item.done:
                    ui.button(tr("Done"), on_click=lambda _, i=item: _mark_done(principal, tr, i, refresh)).props(
                        'flat dense size=sm data-testid="coaching-done"')


def _mark_done(principal: Principal, tr: Tr, item: CoachingItem, refresh: Callable[[], Any]) -> None:
    try:
        with session_scope(context.engine()) as session:
            service.coaching_done(session, item.review_id, item.index, actor=principal)
    except DomainError as exc:
        ui.notify(problem(exc, tr), type="negative")
        return
    ui.notify(tr("Coaching item done."), type="positive")
    refresh()


# --- the rep's feedback --------------------------------------------------------------------------------------------


def _feedback(principal: Principal, tr: Tr, compiled: CompiledRubric, locale: str) -> None:
    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            mine = service.feedback(session, principal)
            carried = service.open_coaching(session, principal, principal.user_id)
        if not mine and service.reviews_anyone(principal):
            return  # a supervisor whose own calls nobody reviewed yet sees only the queue
        ui.label(tr("My feedback")).classes("text-h6")
        if carried:
            ui.label(tr("My open coaching items")).classes("text-subtitle2")
            _coaching(principal, tr, carried, render.refresh, test_id="my-coaching")
        if not mine:
            ui.label(tr("None of your calls has been reviewed yet.")).classes("text-grey-7").props(
                'data-testid="no-feedback"')
        for review in mine:
            _feedback_card(principal, tr, compiled, locale, review, render.refresh)

    render()


def _feedback_card(principal: Principal, tr: Tr, compiled: CompiledRubric, locale: str, review: ReviewRead,
                   refresh: Callable[[], Any]) -> None:
    with ui.card().classes("w-full max-w-5xl").props(f'data-feedback="{review.id}"'):
        _call_line(review, tr)
        ui.label(tr("Reviewed by {reviewer} at {when}", reviewer=review.reviewer or "—",
                    when=_when(review.reviewed_at))).classes("text-caption text-grey-7")
        rows = [{"criterion": compiled.label(k, locale), "score": v,
                 "anchor": _anchor(compiled, k, v, locale)} for k, v in review.scores.items()]
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
            ("criterion", N_("Criterion")), ("score", N_("Score")), ("anchor", N_("What the score means")))]
        ui.table(columns=columns, rows=rows, row_key="criterion").classes("w-full").props(
            'dense flat bordered data-testid="feedback-scores"')
        ui.label(review.comment or "—").classes("text-italic").props('data-testid="feedback-comment"')
        if review.coaching:
            _coaching(principal, tr, review.coaching, refresh, test_id="feedback-coaching")
        if review.status is ReviewStatus.REVIEWED and review.rep_id == principal.user_id:
            ui.button(tr("Acknowledge"), on_click=lambda: _acknowledge(principal, tr, review.id, refresh)).props(
                'color=primary data-testid="acknowledge"')


def _anchor(compiled: CompiledRubric, key: str, score: int, locale: str) -> str:
    criterion = compiled.criteria.get(key)
    anchor = criterion.anchors.get(score) if criterion else None
    return anchor.says(locale) if anchor else "—"


def _acknowledge(principal: Principal, tr: Tr, review_id: int, refresh: Callable[[], Any]) -> None:
    try:
        with session_scope(context.engine()) as session:
            service.acknowledge(session, review_id, actor=principal)
    except DomainError as exc:
        ui.notify(problem(exc, tr), type="negative")
        return
    ui.notify(tr("Feedback acknowledged."), type="positive")
    refresh()


# --- trends and samples --------------------------------------------------------------------------------------------


def _trends(principal: Principal, tr: Tr, locale: str) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = service.trends(session, principal, locale=locale)
    teams = found["teams"] if principal.role is not Role.REP else []  # a rep's only team line would be their own
    lines = [(tr("Team {name}", name=line["name"]), line) for line in teams]
    lines += [(line["name"], line) for line in found["reps"]]
    ui.label(tr("Trends")).classes("text-h6")
    if not lines:
        ui.label(tr("No reviews in the last months yet.")).classes("text-grey-7").props('data-testid="no-trends"')
        return
    choice = ui.select({i: name for i, (name, _) in enumerate(lines)}, value=0, label=tr("Whose trend")).classes(
        "w-64").props('data-testid="trend-choice"')
    chart = ui.echart(_chart(found, lines[0][1], tr)).classes("w-full max-w-4xl h-80").props(
        'data-testid="trend-chart"')

    def show() -> None:
        chart.options.clear()
        chart.options.update(_chart(found, lines[int(choice.value or 0)][1], tr))
        chart.update()

    choice.on_value_change(show)


def _chart(found: dict[str, Any], line: dict[str, Any], tr: Tr) -> dict[str, Any]:
    series = [{"name": found["labels"][key], "type": "line", "connectNulls": True,
               "data": [p["averages"].get(key) for p in line["periods"]]} for key in found["criteria"]]
    return {"tooltip": {"trigger": "axis"}, "legend": {"bottom": 0},
            "xAxis": {"type": "category", "data": found["periods"]},
            "yAxis": {"type": "value", "min": 1, "max": 5, "name": tr("Average score")}, "series": series}


def _samples(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        drawn = service.samples(session)[:12]
    ui.label(tr("Samples")).classes("text-h6")
    ui.label(tr("Each sample records its seed: `evenhand qa verify --period YYYY-MM` draws it again and compares."
                )).classes("text-caption text-grey-7")
    rows = [{"id": s.id, "period": s.period, "seed": str(s.seed), "share": f"{s.share:.0%}", "calls": s.calls,
             "drawn": s.drawn, "at": _when(s.drawn_at), "current": "✓" if s.current else ""} for s, _ in drawn]
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("period", N_("Month")), ("seed", N_("Seed")), ("share", N_("Share")), ("calls", N_("Recorded calls")),
        ("drawn", N_("Drawn")), ("at", N_("Drawn at")), ("current", N_("Current")))]
    ui.table(columns=columns, rows=rows, row_key="id").classes("w-full max-w-4xl").props(
        'dense flat bordered data-testid="qa-samples"')
    if principal.manages_org:
        _draw_controls(principal, tr)


def _draw_controls(principal: Principal, tr: Tr) -> None:
    with ui.row().classes("items-end gap-2"):
        period = ui.input(tr("Month (YYYY-MM)")).props('data-testid="draw-period"')

        def draw() -> None:
            try:
                with session_scope(context.engine()) as session:
                    drawn = service.draw(session, (period.value or "").strip(), actor_id=principal.user_id)
                    count, seed = len(drawn.ids), drawn.sample.seed
            except DomainError as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            ui.notify(tr(plural(count, N_("{count} call drawn with seed {seed}."),
                                N_("{count} calls drawn with seed {seed}.")), count=count, seed=seed), type="positive")
            ui.navigate.reload()

        ui.button(tr("Draw a new sample"), on_click=draw).props('outline data-testid="draw-sample"')


# --- the rubric editor ---------------------------------------------------------------------------------------------


RUBRIC = document_editor.Document(
    key="rubric", title=N_("QA rubric"), active_label=N_("Active QA rubric: version {version}"),
    valid=N_("The rubric is valid."), name_column=N_("Rubric name"), active=service.RUBRIC.active,
    history=service.RUBRIC.history, validate=service.RUBRIC.validate, save=service.save_rubric)


def rubric_page(principal: Principal, tr: Tr) -> None:
    document_editor.page(principal, tr, RUBRIC, nav=PATH)


def register() -> None:
    ui.page(PATH)(context.page(qa_page))
    ui.page(RUBRIC_PATH)(context.page(rubric_page))
