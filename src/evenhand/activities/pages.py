"""Activity pages: the activities a person may see (a rep their own, a supervisor their teams'), and the
reconciliation list where activities that matched no rep, lead or deal wait to be linked by hand or tried again."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.activities import service
from evenhand.activities.schemas import NO_LINK, NO_REP, LinkRequest
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local
from evenhand.models import ActivityType, Direction, UnmatchedActivity
from evenhand.web import context, forms
from evenhand.web.labels import label
from evenhand.web.layout import HOME, Tr, shell

LIST_SIZE = 500
WAITING_SHOWN = 100
REASONS: dict[str, str] = {NO_REP: N_("No known rep"), NO_LINK: N_("No known lead or deal")}
COLUMNS = (("at", N_("Time")), ("type", N_("Type")), ("direction", N_("Direction")), ("rep", N_("Rep")),
           ("company", N_("Lead")), ("deal", N_("Deal")), ("duration", N_("Duration")), ("subject", N_("Subject")))
# What a waiting activity names, as the reconciliation list shows it.
NAMED = (("rep", N_("Rep")), ("opportunity", N_("Deal")), ("lead", N_("Lead")), ("email", N_("Email")),
         ("phone", N_("Phone")), ("subject", N_("Subject")))


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _row(line: service.Line, tr: Tr, zone: ZoneInfo) -> dict[str, Any]:
    a = line.activity
    return {"id": a.id, "at": local(a.occurred_at, zone).strftime("%Y-%m-%d %H:%M"), "type": tr(label(a.type)),
            "direction": tr(label(a.direction)), "rep": line.rep or "", "company": line.company or "",
            "lead_id": a.lead_id, "deal": line.deal or "", "duration": _duration(a.duration_seconds),
            "subject": a.subject or ""}


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def activities_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse("/login?next=/activities", status_code=303)
    tr = context.use_locale(request)
    zone = get_settings().zone
    with session_scope(context.engine(), readonly=True) as session:
        reps = service.rep_choices(session, principal)
    with shell(principal, tr, title=tr("Activities"), path="/activities"):
        _waiting_link(principal, tr)
        state: dict[str, Any] = {"rep_id": None, "type": None, "since": None, "until": None}

        def pick(key: str, value: Any) -> None:
            state[key] = value or None
            listing.refresh()

        with ui.row().classes("items-end gap-3 w-full"):
            ui.select(reps, label=tr("Rep"), clearable=True, on_change=lambda e: pick("rep_id", e.value)).classes(
                "w-48").props('data-testid="activity-rep"')
            ui.select({k.value: tr(label(k)) for k in ActivityType}, label=tr("Type"), clearable=True,
                      on_change=lambda e: pick("type", e.value)).classes("w-32")
            ui.input(tr("From"), on_change=lambda e: pick("since", _day(e.value))).props("type=date dense")
            ui.input(tr("To"), on_change=lambda e: pick("until", _day(e.value))).props("type=date dense")

        @ui.refreshable
        def listing() -> None:
            with session_scope(context.engine(), readonly=True) as session:
                found, total = service.lines(session, principal, limit=LIST_SIZE, zone=zone, **state)
            ui.label(tr("{shown} most recent of {total} activities you can see.", shown=len(found),
                        total=total)).props('data-testid="activity-count"')
            _table([_row(line, tr, zone) for line in found], tr)

        listing()
    return None


def _table(rows: list[dict[str, Any]], tr: Tr) -> None:
    columns = [{"name": k, "label": tr(text), "field": k, "sortable": True, "align": "left"} for k, text in COLUMNS]
    table = ui.table(columns=columns, rows=rows, row_key="id", pagination=25).classes("w-full").props(
        'data-testid="activities"')
    table.add_slot("body-cell-company", """
        <q-td :props="props">
          <a v-if="props.row.lead_id" :href="'/leads/' + props.row.lead_id" class="text-primary">{{ props.value }}</a>
        </q-td>""")


def _waiting_link(principal: Principal, tr: Tr) -> None:
    """For those who work the reconciliation list: how many activities wait there, and the way to it."""
    with session_scope(context.engine(), readonly=True) as session:
        counts = service.waiting_counts(session, principal)
    if counts is None:
        return
    n = sum(counts.values())
    ui.link(tr(plural(n, N_("{count} activity waits to be matched"), N_("{count} activities wait to be matched")),
               count=n), "/activities/unmatched").props('data-testid="waiting-link"')


def reconciliation_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse("/login?next=/activities/unmatched", status_code=303)
    tr = context.use_locale(request)
    if not service.may_reconcile(principal):
        return RedirectResponse("/activities", status_code=303)
    with session_scope(context.engine(), readonly=True) as session:
        reps = service.linkable_reps(session, principal) if principal.can_write else {}
    with shell(principal, tr, title=tr("Activities waiting to be matched"), path="/activities"):
        ui.label(tr("Each activity here names a rep, lead or deal evenhand does not know. Link it by hand, or try "
                    "again once what it names has been imported.")).classes("text-grey-7")
        state: dict[str, Any] = {"reason": None}
        with ui.row().classes("items-center gap-4"):
            ui.toggle({"all": tr("All"), **{k: tr(v) for k, v in REASONS.items()}}, value="all",
                      on_change=lambda e: (state.update(reason=None if e.value == "all" else e.value),
                                           waiting.refresh()))
            if principal.can_write:
                ui.button(tr("Try again"), icon="refresh", on_click=lambda: _try_again(principal, tr, waiting)).props(
                    'data-testid="reconcile"')

        @ui.refreshable
        def waiting() -> None:
            with session_scope(context.engine(), readonly=True) as session:
                entries, total = service.waiting_entries(session, principal, reason=state["reason"],
                                                         limit=WAITING_SHOWN)
            ui.label(tr("{shown} of {total} waiting, longest waiting first.", shown=len(entries),
                        total=total)).props('data-testid="waiting-count"')
            for entry in entries:
                _entry(principal, tr, entry, reps, waiting)

        waiting()
    return None


def _entry(principal: Principal, tr: Tr, entry: UnmatchedActivity, reps: dict[int, str],
           waiting: ui.refreshable) -> None:
    fields = entry.fields
    zone = get_settings().zone
    with ui.card().classes("w-full").props(f'data-entry="{entry.external_id}"'):
        with ui.row().classes("items-center gap-3"):
            ui.badge(tr(REASONS.get(entry.reason, entry.reason)), color="warning").props(
                f'outline data-reason="{entry.reason}"')
            ui.label(f"{tr(label(entry.source_system))} · {entry.external_id}").classes("text-weight-bold")
            ui.label(local(entry.occurred_at, zone).strftime("%Y-%m-%d %H:%M")).classes("text-grey-7")
            ui.label(f"{tr(label(ActivityType(fields['type'])))} · {tr(label(Direction(fields['direction'])))}")
        with ui.row().classes("gap-6 text-body2"):
            for name, caption in NAMED:
                if fields.get(name):
                    ui.label(tr("{field}: {value}", field=tr(caption), value=fields[name]))
        if principal.can_write:
            _link_form(principal, tr, entry.id, reps, waiting)


def _link_form(principal: Principal, tr: Tr, entry_id: int, reps: dict[int, str], waiting: ui.refreshable) -> None:
    with ui.row().classes("items-end gap-3"):
        rep = ui.select(reps, label=tr("Rep"), with_input=True).classes("w-48").props('data-field="rep_id"')
        lead = ui.number(tr("Lead id"), min=1, precision=0).classes("w-32").props('data-field="lead_id"')
        deal = ui.number(tr("Deal id"), min=1, precision=0).classes("w-32").props('data-field="opportunity_id"')
        alert = ui.label().classes("text-negative").props('role="alert"')

        def save() -> None:
            try:
                data = LinkRequest(rep_id=rep.value, lead_id=_whole(lead.value), opportunity_id=_whole(deal.value))
                with session_scope(context.engine()) as session:
                    act = service.link(session, entry_id, data, actor=principal)
            except (ValidationError, DomainError) as exc:
                alert.text = forms.problem(exc, tr)
                return
            ui.notify(tr("Linked: activity {id}.", id=act.id), type="positive")
            waiting.refresh()

        ui.button(tr("Link"), icon="link", on_click=save).props('color=primary data-testid="link"')


def _whole(value: float | None) -> int | None:
    return int(value) if value else None


def _try_again(principal: Principal, tr: Tr, waiting: ui.refreshable) -> None:
    try:
        with session_scope(context.engine()) as session:
            tried, linked, left = service.reconcile(session, actor=principal)
    except DomainError as exc:
        ui.notify(tr(exc.message, **exc.params), type="negative")
        return
    ui.notify(tr("Tried {tried}: {linked} matched now, {waiting} still waiting.",
                 tried=tr(plural(tried, N_("{count} waiting activity"), N_("{count} waiting activities")),
                          count=tried), linked=linked, waiting=left), type="positive")
    waiting.refresh()


def home_links(principal: Principal, tr: Tr) -> None:
    with ui.row().classes("items-center gap-4").props('data-testid="activity-links"'):
        ui.link(tr("Activities"), "/activities")
        _waiting_link(principal, tr)


def register() -> None:
    HOME.add(home_links, order=15)
    ui.page("/activities")(activities_page)
    ui.page("/activities/unmatched")(reconciliation_page)
