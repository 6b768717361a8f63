"""Call QA on the home page: for a rep, the feedback waiting for their acknowledgement and the coaching items carried
over from earlier reviews (``qa.service.feedback``, ``open_coaching``); for a supervisor, the sampled calls waiting
for their review (``qa.service.queue``). Each leads to the QA page, where the call is played and acted on."""

from __future__ import annotations

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import ReviewStatus, Role
from evenhand.qa import service
from evenhand.qa.pages import PATH, _duration, _when
from evenhand.qa.schemas import ReviewRead
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

SHOWN = 5


def qa_work(principal: Principal, tr: Tr) -> None:
    if principal.role is Role.REP:
        _feedback(principal, tr)
    elif principal.role is Role.SUPERVISOR and service.reviews_anyone(principal):
        _reviews(principal, tr)


def _feedback(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        waiting = [r for r in service.feedback(session, principal) if r.status is ReviewStatus.REVIEWED]
        coaching = service.open_coaching(session, principal, principal.user_id)
    with home_tile(tr, "qa-feedback", tr("QA feedback to acknowledge"), len(waiting), see_all=PATH):
        if not waiting:
            home_empty(tr("No QA feedback waiting for you."))
        for review in waiting[:SHOWN]:
            _feedback_line(review, tr)
        if coaching:
            ui.label(tr("Coaching items carried over")).classes("text-subtitle2 q-mt-sm")
        for item in coaching[:SHOWN]:
            with ui.row().classes("items-center gap-2").props(
                    f'data-home-coaching="{item.review_id}-{item.index}"'):
                ui.icon("radio_button_unchecked", color="grey")
                ui.label(item.text)
                ui.label(item.period or "").classes("text-caption text-grey-7")


def _feedback_line(review: ReviewRead, tr: Tr) -> None:
    with ui.row().classes("w-full items-center gap-3").props(f'data-home-feedback="{review.id}"'):
        ui.link(tr("Call at {when}, {duration}", when=_when(review.call_at),
                   duration=_duration(review.duration_seconds)), PATH).classes("text-weight-bold")
        ui.label(tr("Reviewed by {reviewer} at {when}", reviewer=review.reviewer or "—",
                    when=_when(review.reviewed_at))).classes("text-grey-8")
        if review.average is not None:
            ui.label(tr("Average {score}", score=f"{review.average:.1f}")).classes("text-grey-8")


def _reviews(principal: Principal, tr: Tr) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        waiting = service.queue(session, principal)
    with home_tile(tr, "qa-reviews", tr("Calls to review"), len(waiting), see_all=PATH):
        if not waiting:
            home_empty(tr("No call waiting for your review."))
        for review in waiting[:SHOWN]:
            _review_line(review, tr)


def _review_line(review: ReviewRead, tr: Tr) -> None:
    with ui.row().classes("w-full items-center gap-3").props(f'data-home-review="{review.id}"'):
        ui.link(review.rep, PATH).classes("text-weight-bold")
        ui.label(tr("Call at {when}, {duration}", when=_when(review.call_at),
                    duration=_duration(review.duration_seconds))).classes("text-grey-8")
        ui.label(review.period).classes("text-caption text-grey-7")


def register() -> None:
    HOME.add(qa_work, order=50)
