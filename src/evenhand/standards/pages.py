"""The stage standards editor (/process/standards) and the checklist under a lead's and a deal's page.

The editor validates the YAML as it is typed, previews compliance over the last 30 days under the draft beside the
active version (per team and overall), and saves a version with a note; admin and ops edit, everyone else reads.
The checklist shows the current stage's requirements, each done (by which activity, when) or missing, and the
deadline in the viewer's zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import ActivityType, Stage
from evenhand.standards import service
from evenhand.standards.compliance import STATUS_LABELS, Status
from evenhand.standards.service import RecordCompliance
from evenhand.web import context, document_editor
from evenhand.web.labels import label
from evenhand.web.layout import DEAL_WORK, LEAD_WORK, Tr

PATH = "/process/standards"
FIRST_CONTACT = N_("First contact")
STATUS_COLOURS = {Status.MET: "positive", Status.LATE: "warning", Status.OPEN: "primary", Status.OVERDUE: "negative",
                  Status.MISSED: "negative"}
STANDARDS = document_editor.Document(
    key="standards", title=N_("Stage standards"), active_label=N_("Active stage standards: version {version}"),
    valid=N_("The standards are valid."), name_column=N_("Standards name"), active=service.STANDARDS.active,
    history=service.STANDARDS.history, validate=service.STANDARDS.validate, save=service.save)


def standards_page(principal: Principal, tr: Tr) -> None:
    preview = document_editor.Preview(N_("Preview the last 30 days"), service.preview, _show_preview,
                                      button_id="run-preview", area_id="standards-preview")
    document_editor.page(principal, tr, STANDARDS, nav=PATH, panel=preview)


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
    ui.page(PATH)(context.page(standards_page))
    LEAD_WORK.add(lead_checklist, order=10)
    DEAL_WORK.add(deal_checklist, order=10)
