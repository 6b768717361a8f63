"""The stage standards editor (/process/standards) and the checklist under a lead's and a deal's page.

The editor validates the YAML as it is typed, previews compliance over the last 30 days under the draft beside the
active version (per team and overall), and saves a version with a note; admin and ops edit, everyone else reads.
The checklist shows the current stage's requirements, each done (by which activity, when) or missing, and the
deadline in the viewer's zone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import run, ui
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local
from evenhand.models import ActivityType, Stage
from evenhand.standards import service
from evenhand.standards.compliance import STATUS_LABELS, Status
from evenhand.standards.service import RecordCompliance
from evenhand.web import context
from evenhand.web.forms import show_problems
from evenhand.web.labels import label
from evenhand.web.layout import DEAL_WORK, LEAD_WORK, Tr, shell

PATH = "/process/standards"
DEBOUNCE_SECONDS = 0.4
CSS = ".eh-problem-line { background-color: rgba(193, 0, 21, 0.10); }"
FIRST_CONTACT = N_("First contact")
STATUS_COLOURS = {Status.MET: "positive", Status.LATE: "warning", Status.OPEN: "primary", Status.OVERDUE: "negative",
                  Status.MISSED: "negative"}


def problems(body: str) -> list[dict[str, Any]]:
    try:
        service.validate(body)
    except Invalid as exc:
        return list(exc.details or [])
    return []


def standards_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    tr = context.use_locale(request)
    with session_scope(context.engine()) as session:  # the first read on a new database installs version 1
        current = service.active(session)
        body, number = current.body, current.version
        history = [(row.version, row.name, row.note, author or "—", row.created_at, row.active)
                   for row, author in service.history(session)]
    ui.add_css(CSS)
    with shell(principal, tr, title=tr("Stage standards"), path=PATH):
        ui.label(tr("Active stage standards: version {version}", version=number)).classes("text-grey-7").props(
            'data-testid="active-version"')
        _Editor(principal, tr, body).build()
        _history(tr, history)
    return None


class _Editor:
    def __init__(self, principal: Principal, tr: Tr, active_body: str) -> None:
        self.principal, self.tr, self.active_body = principal, tr, active_body
        self.editable = principal.manages_org
        self.changed_at: float | None = None
        self.valid = True

    def build(self) -> None:
        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            self.editor = ui.codemirror(self.active_body, language="YAML").classes("w-1/2 h-[32rem] border").props(
                'data-testid="standards-editor"')
            self.editor.set_enabled(self.editable)
            with ui.column().classes("w-1/2 gap-2"):
                self.status = ui.label().props('data-testid="standards-status" role="status"')
                self.problem_list = ui.column().classes("gap-1").props('data-testid="standards-problems"')
                if self.editable:
                    self._actions()
        self.editor.on_value_change(self._changed)
        ui.timer(0.2, self._debounced)
        self.check()

    def _actions(self) -> None:
        tr = self.tr
        with ui.row().classes("items-center gap-2"):
            self.preview_button = ui.button(tr("Preview the last 30 days"), on_click=self.preview).props(
                'color=primary outline data-testid="run-preview"')
        self.result = ui.column().classes("w-full gap-1").props('data-testid="standards-preview"')
        self.note = ui.input(tr("What changed and why")).classes("w-full").props('data-testid="standards-note"')
        self.save_button = ui.button(tr("Save as new version"), on_click=self.save).props(
            'color=primary data-testid="save-standards"')

    def _changed(self) -> None:
        self.changed_at = time.monotonic()

    def _debounced(self) -> None:
        if self.changed_at is not None and time.monotonic() - self.changed_at >= DEBOUNCE_SECONDS:
            self.changed_at = None
            self.check()

    def check(self) -> bool:
        tr, found = self.tr, problems(self.editor.value)
        show_problems(self.editor, self.problem_list, found, tr)
        self.valid = not found
        counted = plural(len(found), N_("{count} problem"), N_("{count} problems"))
        self.status.text = tr("The standards are valid.") if not found else tr(counted, count=len(found))
        self.status.classes(replace="text-positive" if not found else "text-negative")
        if self.editable:
            self.preview_button.set_enabled(not found)
            self.save_button.set_enabled(not found and self.editor.value != self.active_body)
        return not found

    async def preview(self) -> None:
        if not self.check():
            return
        self.preview_button.set_enabled(False)
        try:
            result = await run.io_bound(_preview, self.principal, self.editor.value)
        finally:
            self.preview_button.set_enabled(True)
        if result is None:  # the server is shutting down
            return
        if isinstance(result, DomainError):
            ui.notify(self.tr(result.message, **result.params), type="negative")
            return
        _show_preview(self.result, result, self.tr)

    def save(self) -> None:
        text, tr = self.editor.value, self.tr
        if problems(text) or text == self.active_body:
            return
        try:
            with session_scope(context.engine()) as session:
                number = service.save(session, text, author=self.principal, note=self.note.value or "").version
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="negative")
            return
        ui.notify(tr("Saved as version {version}.", version=number), type="positive")
        ui.navigate.reload()


def _preview(principal: Principal, text: str) -> dict[str, Any] | DomainError:
    """Runs in a worker thread, reading in a read-only session."""
    try:
        with session_scope(context.engine(), readonly=True) as session:
            return service.preview(session, principal, text)
    except DomainError as exc:
        return exc


def share(tally: dict[str, Any] | None) -> str:
    value = (tally or {}).get("share_on_time")
    return f"{value:.1%}" if value is not None else "—"


def preview_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per team and overall: the share met on time (of entries judged) under the active version and the draft."""
    current = {row["team"]: row for row in result["current"]["teams"]}
    draft = {row["team"]: row for row in result["candidate"]["teams"]}
    rows = [{"team": team or "—", "judged": (draft.get(team) or current.get(team) or {}).get("judged", 0),
             "current": share(current.get(team)), "candidate": share(draft.get(team))}
            for team in sorted(set(current) | set(draft), key=lambda t: (t is None, t or ""))]
    overall = result["candidate"]["overall"]
    return [*rows, {"team": "Σ", "judged": overall["judged"], "current": share(result["current"]["overall"]),
                    "candidate": share(overall)}]


def _show_preview(area: ui.column, result: dict[str, Any], tr: Tr) -> None:
    area.clear()
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k == "team" else "right"} for k, v in (
        ("team", N_("Team")), ("judged", N_("Judged")), ("current", N_("Active: met on time")),
        ("candidate", N_("Draft: met on time")))]
    with area:
        ui.label(tr("First contacts and stage entries of the last {days} days.", days=result["days"])).classes(
            "text-caption text-grey-7")
        ui.table(columns=columns, rows=preview_rows(result), row_key="team").classes("w-full").props(
            'dense flat bordered data-testid="preview-teams"')


def _history(tr: Tr, history: list[tuple[Any, ...]]) -> None:
    zone = get_settings().zone
    ui.label(tr("Versions")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("version", N_("Version")), ("name", N_("Standards name")), ("note", N_("Note")), ("author", N_("Author")),
        ("created", N_("Saved")), ("active", N_("In use")))]
    rows = [{"version": n, "name": name, "note": note, "author": author,
             "created": local(at, zone).strftime("%Y-%m-%d %H:%M"), "active": "✓" if active else ""}
            for n, name, note, author, at, active in history]
    ui.table(columns=columns, rows=rows, row_key="version").classes("w-full").props(
        'dense flat bordered data-testid="standards-versions"')


# --- the checklist ------------------------------------------------------------------------------------------------


def lead_checklist(principal: Principal, tr: Tr, lead_id: int) -> None:
    _checklist(principal, tr, lambda session: service.for_lead(session, principal, lead_id))


def deal_checklist(principal: Principal, tr: Tr, opportunity_id: int) -> None:
    _checklist(principal, tr, lambda session: service.for_opportunity(session, principal, opportunity_id))


def _checklist(principal: Principal, tr: Tr, read: Callable[[Session], RecordCompliance]) -> None:
    try:
        with session_scope(context.engine()) as session:  # the first read on a new database installs version 1
            record = read(session)
            zone = service.viewer_zone(session, principal)
    except DomainError:
        return  # the page itself says the record is not there
    entry = record.current
    with ui.card().classes("w-full").props('data-testid="stage-checklist"'):
        ui.label(tr("Stage standard")).classes("text-h6")
        if entry is None:
            ui.label(tr("No standard applies here yet.")).classes("text-grey-7")
            return
        _entry(entry, record, tr, zone)


def _stage_name(stage: str, tr: Tr) -> str:
    return tr(FIRST_CONTACT) if stage == "first_contact" else tr(label(Stage(stage)))


def _entry(entry: service.Judged, record: RecordCompliance, tr: Tr, zone: ZoneInfo) -> None:
    result = entry.result
    when = local(result.deadline, zone).strftime("%Y-%m-%d %H:%M")
    with ui.row().classes("items-center gap-3"):
        ui.label(_stage_name(result.stage, tr)).classes("text-subtitle1")
        ui.badge(tr(STATUS_LABELS[result.status]), color=STATUS_COLOURS[result.status]).props(
            f'data-testid="checklist-status" data-status="{result.status.value}"')
        overdue = result.status in (Status.OVERDUE, Status.MISSED)
        ui.label(tr("Deadline {when} ({zone})", when=when, zone=str(zone))).classes(
            "text-negative text-weight-bold" if overdue else "text-grey-8").props('data-testid="checklist-deadline"')
    for line in result.lines:
        _line(line, record.names, tr, zone)


def _line(line: Any, names: dict[int, str], tr: Tr, zone: ZoneInfo) -> None:
    wanted = line.requirement.label or " / ".join(tr(label(ActivityType(a.type))) for a in line.requirement.actions)
    act = line.activity
    with ui.row().classes("items-center gap-2").props(f'data-testid="checklist-line" data-done="{act is not None}"'):
        ui.icon("check_circle" if act else "radio_button_unchecked",
                color=("positive" if line.on_time else "warning") if act else "grey")
        ui.label(wanted)
        if act is not None:
            kind, when = tr(label(ActivityType(act.type))), local(act.at, zone).strftime("%Y-%m-%d %H:%M")
            rep = names.get(act.rep_id, "—")
            alone = len(line.requirement.actions) == 1 and not line.requirement.label  # the line names its type
            done = tr("by {rep}, {when}", rep=rep, when=when) if alone else tr(
                "{type} by {rep}, {when}", type=kind, rep=rep, when=when)
            ui.label(done).classes("text-caption text-grey-7")
            if not line.on_time:
                ui.label(tr("after the deadline")).classes("text-caption text-warning")
        else:
            ui.label(tr("missing")).classes("text-caption text-negative")


def register() -> None:
    ui.page(PATH)(standards_page)
    LEAD_WORK.add(lead_checklist, order=10)
    DEAL_WORK.add(deal_checklist, order=10)
