"""Activity pages: the activities a person may see (a rep their own, a supervisor their teams'), the
reconciliation list where activities that matched no rep, lead or deal wait to be linked by hand or tried again, and
the timeline drawn below a lead's and a deal's page (``LEAD_WORK``, ``DEAL_WORK``)."""

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
from evenhand.models import Activity, ActivityType, Direction, SourceSystem, UnmatchedActivity
from evenhand.web import context, forms
from evenhand.web.labels import label
from evenhand.web.layout import DEAL_WORK, HOME, LEAD_WORK, Tr, shell

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


def activities_page(principal: Principal, tr: Tr, request: Request) -> None:
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


def reconciliation_page(principal: Principal, tr: Tr, request: Request) -> RedirectResponse | None:
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


# --- the timeline below a lead's and a deal's page ------------------------------------------------------------

SOURCE_ICONS = {SourceSystem.WECOM: "forum", SourceSystem.DINGTALK: "chat", SourceSystem.OUTLOOK: "mail",
                SourceSystem.TELEPHONY: "phone_in_talk", SourceSystem.CRM: "edit_note"}
BODY_SHOWN = 160  # characters of a note shown before "Show all"
ALL = "all"


def lead_work(principal: Principal, tr: Tr, lead_id: int) -> None:
    _timeline_card(tr, lambda session, source: service.lead_timeline(session, principal, lead_id, source=source),
                   caption=N_("Activities on this lead and on the deals it became."))


def deal_work(principal: Principal, tr: Tr, opportunity_id: int) -> None:
    _timeline_card(tr, lambda session, source: service.deal_timeline(session, principal, opportunity_id,
                                                                      source=source),
                   caption=N_("Activities on this deal, and on its lead before the deal was made."))


def _timeline_card(tr: Tr, read: Any, *, caption: str) -> None:
    """The activities newest first, with a filter by source system (each with its count)."""
    with session_scope(context.engine(), readonly=True) as session:
        first = read(session, None)
    if first is None:
        return
    with ui.card().classes("gap-2").style("flex: 2 1 36rem").props('data-testid="activity-timeline"'):
        ui.label(tr("Activity timeline")).classes("text-h6")
        ui.label(tr(caption)).classes("text-caption text-grey-7")
        total = sum(first.by_source.values())
        options = {ALL: f"{tr('All')} ({total})"} | {
            s.value: f"{tr(label(s))} ({first.by_source[s]})" for s in SourceSystem if s in first.by_source}

        @ui.refreshable
        def lines(source: str = ALL) -> None:
            shown = first
            if source != ALL:
                with session_scope(context.engine(), readonly=True) as session:
                    shown = read(session, SourceSystem(source)) or first
            if not shown.lines:
                ui.label(tr("No activities recorded yet.")).classes("text-grey-7")
            for line in shown.lines:
                _timeline_line(line, tr, shown.zone)

        ui.toggle(options, value=ALL, on_change=lambda e: lines.refresh(e.value)).props(
            'dense no-caps data-testid="timeline-sources"')
        lines()


def _timeline_line(line: service.Line, tr: Tr, zone: ZoneInfo) -> None:
    a = line.activity
    with ui.row().classes("w-full items-start gap-3 no-wrap q-py-xs").props(
            f'data-activity="{a.external_id}" data-source="{a.source_system.value}"'):
        ui.icon(SOURCE_ICONS[a.source_system], size="sm").classes("text-blue-grey-7").props(
            f'aria-label="{tr(label(a.source_system))}"')
        with ui.column().classes("gap-0"):
            head = [local(a.occurred_at, zone).strftime("%Y-%m-%d %H:%M"), tr(label(a.source_system)),
                    tr(label(a.type)), tr(label(a.direction)), line.rep or ""]
            ui.label(" · ".join(part for part in head if part)).classes("text-weight-medium")
            details = _details(a, tr)
            if details:
                ui.label(" · ".join(details)).classes("text-body2").props('data-part="details"')
            if a.subject:
                ui.label(a.subject).classes("text-body2")
            if a.type is ActivityType.NOTE:
                _note(a, tr)


def _details(a: Activity, tr: Tr) -> list[str]:
    """What kind of activity it was, in facts: a call's length and whether it was answered, a conversation's
    messages, an e-mail's attachments and whether it was replied to, where the recording is."""
    parts = []
    if a.duration_seconds is not None:
        parts.append(_duration(a.duration_seconds))
    if a.answered is not None:
        parts.append(tr("Answered") if a.answered else tr("Not answered"))
    if a.message_count is not None:
        parts.append(tr(plural(a.message_count, N_("{count} message"), N_("{count} messages")), count=a.message_count))
    if a.type is ActivityType.EMAIL or a.attachment_count:
        parts.append(tr(plural(a.attachment_count, N_("{count} attachment"), N_("{count} attachments")),
                        count=a.attachment_count))
    if a.replied is not None:
        parts.append(tr("Replied") if a.replied else tr("Not replied"))
    if a.recording_ref:
        parts.append(tr("Recording: {ref}", ref=a.recording_ref))
    return parts


def _note(a: Activity, tr: Tr) -> None:
    """A CRM note: the activity it says it records, and its text (long text cut, with a way to read it all)."""
    if a.declared_type is not None:
        ui.badge(tr("Says it records: {type}", type=tr(label(a.declared_type))), color="blue-grey").props(
            f'outline data-declared="{a.declared_type.value}"')
    body = a.body or ""
    if not body:
        return
    cut = len(body) > BODY_SHOWN
    text = ui.label(body[:BODY_SHOWN] + "…" if cut else body).classes("text-body2").style(
        "white-space: pre-wrap").props('data-part="body"')
    if cut:
        def show_all() -> None:
            text.set_text(body)
            more.delete()

        more = ui.button(tr("Show all"), on_click=show_all).props('flat dense no-caps size=sm data-testid="show-body"')


def register() -> None:
    HOME.add(home_links, order=15)
    LEAD_WORK.add(lead_work, order=20)
    DEAL_WORK.add(deal_work, order=20)
    ui.page("/activities")(context.page(activities_page))
    ui.page("/activities/unmatched")(context.page(reconciliation_page))
