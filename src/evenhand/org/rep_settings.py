"""A rep's routing settings, opened from a roster: what routing reads of them (level, team, caps, quota,
skills, product lines, time zone, working hours), their leave, and their departure.

Sales ops and admins change everything; a supervisor records and cancels leave for their own team and
sees the rest. Every change goes through ``org.service`` (audited); a refused change names the field or
the day and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from nicegui import ui
from pydantic import ValidationError
from sqlalchemy import select

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.kit.clock import utcnow
from evenhand.models import Level, ProductLine, Team, User
from evenhand.org import service
from evenhand.org.schemas import DAYS, LeaveCreate, LeaveRead, UserUpdate, span_ok
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import WEEKDAYS, label
from evenhand.web.layout import Tr


def hours_text(spans: list[list[str]] | list[tuple[str, str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in spans)


def parse_hours(texts: dict[str, str], tr: Tr) -> tuple[dict[str, list[list[str]]], str | None]:
    """The week as typed ("09:00-12:00, 13:00-18:00" per day; empty: not working that day) → the stored
    schedule, or the first problem naming its day. Every day empty keeps no schedule at all (always inside
    working hours), which is what an empty schedule means to routing."""
    week: dict[str, list[list[str]]] = {}
    for day in DAYS:
        spans = []
        for part in texts.get(day, "").replace("，", ",").split(","):
            if not part.strip():
                continue
            start, _, end = (x.strip() for x in part.strip().replace("–", "-").partition("-"))
            if not span_ok(start, end):
                return {}, tr("{day}: “{span}” is not a span like 09:00-18:00.", day=tr(WEEKDAYS[day]),
                              span=part.strip())
            spans.append([start, end])
        week[day] = spans
    return (week if any(week.values()) else {}), None


def known_zone(name: str | None) -> bool:
    try:
        ZoneInfo(name or "")
    except (KeyError, ValueError):
        return False
    return True


class Choices(NamedTuple):
    teams: dict[int, str]
    lines: dict[str, str]  # product lines by code
    selling: list[str]  # the codes of those the rep sells


class RepSettings:
    """One dialog per page; ``open(user_id)`` fills it with that rep as stored now."""

    def __init__(self, principal: Principal, tr: Tr, on_change: Callable[[], Any]) -> None:
        self.principal, self.tr = principal, tr
        with ui.dialog() as self.dialog, ui.card().classes("w-[46rem] max-w-full"):
            self.content = ui.column().classes("w-full gap-3").props('data-testid="rep-settings"')
        self.dialog.on("hide", on_change)

    def open(self, user_id: int) -> None:
        with session_scope(context.engine(), readonly=True) as session:
            user = session.get(User, user_id)
            if user is None or not service.may_act_for(session, self.principal, user):
                ui.notify(self.tr("You may change only your own team."), type="negative")
                return
            leaves = service.leaves(session, user_id, viewer=self.principal)  # reasons as the viewer may read
            session.expunge_all()  # read after the session closes
            lines = select(ProductLine.code, ProductLine.name).order_by(ProductLine.code)
            choices = Choices(teams=dict(session.execute(select(Team.id, Team.name).order_by(Team.name)).all()),
                              lines=dict(session.execute(lines).all()),
                              selling=service.product_lines(session, user_id))
        self.content.clear()
        with self.content:
            self._render(user, leaves, choices)
        self.dialog.open()

    def _render(self, user: User, leaves: list[LeaveRead], choices: Choices) -> None:
        tr = self.tr
        with ui.row().classes("w-full items-baseline justify-between"):
            ui.label(tr("Routing settings: {name}", name=f"{user.display_name} ({user.username})")).classes("text-h6")
            if not user.active:
                ui.badge(tr("Departed {day}", day=user.left_on.isoformat() if user.left_on else "—"),
                         color="grey").props('data-testid="rep-departed"')
        self._settings(user, choices)
        ui.separator()
        self._leave(user, leaves)
        if self.principal.manages_org and user.active and user.id != self.principal.user_id:  # never oneself
            ui.separator()
            self._departure(user)
        with ui.row().classes("w-full justify-end"):
            ui.button(tr("Close"), on_click=self.dialog.close).props("flat")

    # --- what routing reads ------------------------------------------------------------------------

    def _settings(self, user: User, choices: Choices) -> None:
        tr, editable = self.tr, self.principal.manages_org
        ui.label(tr("What routing reads")).classes("text-subtitle1")
        with ui.row().classes("w-full gap-3"):
            level = ui.select({lv.value: tr(label(lv)) for lv in Level}, value=user.level.value,
                              label=tr("Level")).classes("w-32")
            team = ui.select(choices.teams, value=user.team_id, label=tr("Team"), clearable=True).classes("w-48")
            zone = ui.input(tr("Time zone"), value=user.timezone).classes("w-48").props('data-field="timezone"')
        with ui.row().classes("w-full gap-3"):
            open_cap = ui.number(tr("Open leads at most"), value=user.max_open_leads, min=0, precision=0).classes(
                "w-40").props('data-field="max_open_leads"')
            day_cap = ui.number(tr("New leads per day at most"), value=user.daily_lead_cap, min=0,
                                precision=0).classes("w-48").props('data-field="daily_lead_cap"')
            quota = ui.number(tr("Monthly quota"), value=float(user.monthly_quota), min=0, precision=2).classes(
                "w-40").props('data-field="monthly_quota"')
        with ui.row().classes("w-full gap-3 no-wrap"):
            skills = ui.input_chips(tr("Skills"), value=list(user.skills or [])).classes("w-1/2").props(
                'data-field="skills"')
            lines = ui.select(choices.lines, value=choices.selling, multiple=True, label=tr("Product lines")).classes(
                "w-1/2").props('use-chips data-field="product_lines"')
        ui.label(tr("Working hours, in the rep's time zone: spans like 09:00-12:00, 13:00-18:00; a day left "
                    "empty is a day off. With every day empty no schedule is kept.")).classes(
            "text-caption text-grey-7")
        stored = user.working_hours or {}
        with ui.grid(columns=4).classes("w-full gap-x-3 gap-y-1"):
            hours = {day: ui.input(tr(WEEKDAYS[day]), value=hours_text(stored.get(day, [])),
                                   placeholder="09:00-18:00").props(f'dense data-day="{day}"') for day in DAYS}
        fields: list[Any] = [level, team, zone, open_cap, day_cap, quota, skills, lines, *hours.values()]
        alert = ui.label().classes("text-negative").props('role="alert" data-testid="rep-problem"')

        def save() -> None:
            week, wrong = parse_hours({day: box.value or "" for day, box in hours.items()}, tr)
            if not known_zone(zone.value):
                wrong = tr("“{zone}” is not a time zone; use a name like Asia/Shanghai.", zone=zone.value or "")
            if wrong:
                alert.text = wrong
                return
            try:
                data = UserUpdate(level=level.value, team_id=team.value, timezone=zone.value,
                                  max_open_leads=_whole(open_cap.value), daily_lead_cap=_whole(day_cap.value),
                                  monthly_quota=_money(quota.value), skills=list(skills.value or []),
                                  working_hours=week)
                with session_scope(context.engine()) as session:  # both or neither
                    service.update_user(session, user.id, data, actor=self.principal)
                    service.set_product_lines(session, user.id, list(lines.value or []), actor=self.principal)
            except (ValidationError, DomainError) as exc:
                alert.text = problem(exc, tr)
                return
            alert.text = ""
            ui.notify(tr("Saved {name}'s routing settings.", name=user.display_name), type="positive")

        if editable:
            ui.button(tr("Save settings"), on_click=save).props('color=primary data-testid="save-rep"')
        else:
            for field in fields:
                field.disable()
            ui.label(tr("Only sales operations change these.")).classes("text-caption text-grey-7")

    # --- leave -------------------------------------------------------------------------------------

    def _leave(self, user: User, leaves: list[LeaveRead]) -> None:
        tr = self.tr
        ui.label(tr("Leave")).classes("text-subtitle1")
        ui.label(tr("A rep on leave is never a candidate: routing skips them for every day of it.")).classes(
            "text-caption text-grey-7")
        today = utcnow().astimezone(get_settings().zone).date()
        ahead = [leave for leave in leaves if leave.ends_on >= today]
        with ui.column().classes("w-full gap-0").props('data-testid="rep-leaves"'):
            if not ahead:
                ui.label(tr("No leave now or ahead.")).classes("text-grey-7")
            for leave in ahead:
                with ui.row().classes("items-center gap-2").props(f'data-leave="{leave.id}"'):
                    ui.label(f"{leave.starts_on.isoformat()} – {leave.ends_on.isoformat()}")
                    ui.label(leave.reason or "").classes("text-grey-7")
                    ui.button(icon="delete", on_click=lambda _, lid=leave.id: self._cancel(user.id, lid)).props(
                        f'flat dense round aria-label="{tr("Cancel this leave")}"')
        if past := [leave for leave in leaves if leave.ends_on < today]:
            with ui.expansion(tr("Earlier leave ({count})", count=len(past))).classes("w-full text-grey-7"):
                for leave in reversed(past):
                    ui.label(f"{leave.starts_on.isoformat()} – {leave.ends_on.isoformat()}  {leave.reason or ''}")
        with ui.row().classes("w-full items-end gap-3"):
            starts = ui.input(tr("From")).props('type=date dense data-field="starts_on"')
            ends = ui.input(tr("To")).props('type=date dense data-field="ends_on"')
            reason = ui.input(tr("Reason")).classes("grow").props('dense data-field="reason"')
            add = ui.button(tr("Add leave")).props('data-testid="add-leave"')
        alert = ui.label().classes("text-negative").props('role="alert" data-testid="leave-problem"')
        add.on_click(lambda: self._add(user.id, starts.value, ends.value, reason.value, alert))

    def _add(self, user_id: int, starts: str, ends: str, reason: str, alert: ui.label) -> None:
        try:
            data = LeaveCreate(starts_on=_day(starts, "starts_on"), ends_on=_day(ends, "ends_on"),
                               reason=reason or None)
            with session_scope(context.engine()) as session:
                service.add_leave(session, user_id, data, actor=self.principal)
        except (ValidationError, DomainError) as exc:
            alert.text = problem(exc, self.tr)
            return
        self.open(user_id)

    def _cancel(self, user_id: int, leave_id: int) -> None:
        try:
            with session_scope(context.engine()) as session:
                service.cancel_leave(session, user_id, leave_id, actor=self.principal)
        except DomainError as exc:
            ui.notify(self.tr(exc.message, **exc.params), type="negative")
            return
        self.open(user_id)

    # --- departure ---------------------------------------------------------------------------------

    def _departure(self, user: User) -> None:
        tr = self.tr
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(tr("A rep who leaves the company keeps their history and is never routed to again."))\
                .classes("text-caption text-grey-7 grow")
            confirm = ui.button(tr("Mark as departed"), color="negative").props('outline data-testid="depart"')

        def depart() -> None:
            if confirm.text != tr("Click again to confirm"):
                confirm.text = tr("Click again to confirm")
                return
            try:
                with session_scope(context.engine()) as session:
                    service.deactivate_user(session, user.id, actor=self.principal)
            except DomainError as exc:
                ui.notify(tr(exc.message, **exc.params), type="negative")
                return
            self.open(user.id)

        confirm.on_click(depart)


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def _money(value: float | None) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _day(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise Invalid("Pick the first and the last day of the leave.", field=field) from None
