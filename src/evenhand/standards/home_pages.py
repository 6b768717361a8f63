"""The rep's follow-ups due today on the home page: their open leads and deals whose stage standard still misses an
action with a deadline before the end of the day, or past already (``standards.service.follow_ups``), each with
what is missing and the deadline, linking to the lead or deal."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local, utcnow
from evenhand.models import ActivityType, Role, Stage
from evenhand.standards import service
from evenhand.standards.compliance import Status
from evenhand.standards.document import Requirement
from evenhand.standards.pages import FIRST_CONTACT
from evenhand.standards.service import FollowUp
from evenhand.web import context
from evenhand.web.labels import label
from evenhand.web.layout import HOME, Tr, home_empty, home_tile

SHOWN = 6
LINKS = {"lead": "/leads/{id}", "deal": "/opportunities/{id}"}


def follow_ups(principal: Principal, tr: Tr) -> None:
    if principal.role is not Role.REP:
        return
    # Read-only: on SQLite a home page must not hold the write lock while it judges (a deferred BEGIN; the first
    # read on a new database still installs version 1, taking the lock then).
    with session_scope(context.engine(), readonly=True) as session:
        due = service.follow_ups(session, principal)
        zone = service.viewer_zone(session, principal)
    with home_tile(tr, "follow-ups", tr("Follow-ups due today"), len(due)):
        if not due:
            home_empty(tr("No follow-up due today: every standard is on track."))
        for item in due[:SHOWN]:
            _line(item, tr, zone)
        if len(due) > SHOWN:
            rest = len(due) - SHOWN
            with ui.expansion(tr(plural(rest, N_("{count} more"), N_("{count} more")), count=rest)).classes(
                    "w-full").props('dense data-testid="more-follow-ups"'):
                for item in due[SHOWN:]:
                    _line(item, tr, zone)


def _line(item: FollowUp, tr: Tr, zone: ZoneInfo) -> None:
    result = item.result
    overdue = result.status is Status.OVERDUE
    deadline = local(result.deadline, zone)
    shown = deadline.strftime("%H:%M") if deadline.date() == local(utcnow(), zone).date() else deadline.strftime(
        "%m-%d %H:%M")
    with ui.row().classes("w-full items-center gap-3").props(
            f'data-follow-up="{item.kind}-{item.record_id}" data-status="{result.status.value}"'):
        ui.link(item.name, LINKS[item.kind].format(id=item.record_id)).classes("text-weight-bold")
        ui.label(_stage_name(result.stage, tr)).classes("text-grey-8")
        ui.label(tr("Missing: {actions}", actions=" · ".join(_wanted(r, tr) for r in item.missing))).classes(
            "text-grey-8")
        ui.space()
        ui.label(tr("Overdue since {when}", when=shown) if overdue else tr("Due by {when}", when=shown)).classes(
            "text-negative text-weight-bold" if overdue else "text-primary").props('data-testid="follow-up-deadline"')


def _stage_name(stage: str, tr: Tr) -> str:
    return tr(FIRST_CONTACT) if stage == "first_contact" else tr(label(Stage(stage)))


def _wanted(requirement: Requirement, tr: Tr) -> str:
    """The requirement as the checklist names it: its own label, else the kinds of activity that meet it."""
    return requirement.label or " / ".join(tr(label(ActivityType(a.type))) for a in requirement.actions)


def register() -> None:
    HOME.add(follow_ups, order=35)
