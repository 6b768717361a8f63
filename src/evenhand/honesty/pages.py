"""The honesty checks page: a supervisor's open flags on their teams' notes, each with its evidence laid out (the
note, the window searched, the nearest captured contacts, the similar notes) and confirm or dismiss with a note;
what was decided recently; and a rep's own flags, read only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.honesty import service
from evenhand.honesty.schemas import FlagDecision, FlagDetail
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.models import ActivityType, FlagKind, FlagStatus, Role
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import label
from evenhand.web.layout import Tr, shell

PATH = "/process/honesty"
CLOSED = {"backed": N_("Closed by a later scan: a captured contact now backs the note."),
          "not_similar": N_("Closed by a later scan: the note is no longer a near-copy.")}
KIND_COLOURS = {FlagKind.UNBACKED: "negative", FlagKind.DUPLICATE: "warning"}


def _when(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return local(at, get_settings().zone).strftime("%Y-%m-%d %H:%M")


def _kind(value: str | None, tr: Tr) -> str:
    return tr(label(ActivityType(value))) if value in set(ActivityType) else "—"


def honesty_page(principal: Principal, tr: Tr, request: Request) -> None:
    oversees = principal.reads_everything or bool(principal.supervised_team_ids)
    with shell(principal, tr, title=tr("Honesty checks"), path=PATH):
        ui.label(tr("CRM notes that claim a call, meeting or visit nothing captured backs, and notes copied across "
                    "customers. Confirm what is so, dismiss what is not.")).classes("text-grey-7")
        if oversees:
            others: list[Callable[[], Any]] = []  # what else redraws once a flag is decided
            _queue(principal, tr, others)
            others.append(_decided(principal, tr).refresh)
        if principal.role in (Role.REP, Role.SUPERVISOR):
            _mine(principal, tr, always=not oversees)
    return None


def _queue(principal: Principal, tr: Tr, others: list[Callable[[], Any]]) -> None:
    ui.label(tr("Open flags")).classes("text-h6")

    def redraw() -> None:
        render.refresh()
        for other in others:
            other()

    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            flags = service.reviewed(session, principal, status=FlagStatus.OPEN)
        if not flags:
            ui.label(tr("No open flags.")).classes("text-grey-7").props('data-testid="no-open-flags"')
        for flag in flags:
            _flag_card(principal, flag, tr, redraw)

    render()


def _flag_card(principal: Principal, flag: FlagDetail, tr: Tr, refresh: Any) -> None:
    note = flag.evidence.get("note", {})
    with ui.card().classes("w-full max-w-5xl").props(f'data-flag="{flag.id}"'):
        with ui.row().classes("items-center gap-3"):
            ui.badge(tr(label(flag.kind)), color=KIND_COLOURS[flag.kind])
            ui.label(tr("{rep} wrote at {when}", rep=flag.rep_name, when=_when(note.get("at")))).classes(
                "text-subtitle1 text-weight-bold")
            ui.label(tr("declares: {kind}", kind=_kind(note.get("declared_type"), tr))).classes("text-grey-7")
            _customer_link(note, tr)
        ui.label(note.get("text") or "—").classes("text-italic").props('data-testid="flag-note"')
        if flag.kind is FlagKind.UNBACKED:
            _unbacked(flag.evidence, tr)
        else:
            _similar(flag.evidence, tr)
        if flag.may_decide:
            _decision_controls(principal, flag, tr, refresh)


def _customer_link(facts: dict[str, Any], tr: Tr) -> None:
    if facts.get("opportunity_id"):
        ui.link(tr("Opportunity {id}", id=facts["opportunity_id"]), f"/opportunities/{facts['opportunity_id']}")
    if facts.get("lead_id"):
        ui.link(tr("Lead {id}", id=facts["lead_id"]), f"/leads/{facts['lead_id']}")


def _unbacked(evidence: dict[str, Any], tr: Tr) -> None:
    window = evidence.get("window", {})
    claims = ", ".join(_kind(k, tr) for k in evidence.get("claims", []))
    ui.label(tr("Claims {claims}; no captured contact with this customer from {start} to {end}.", claims=claims,
                start=_when(window.get("from")), end=_when(window.get("to")))).props('data-testid="flag-window"')
    rows = [{"id": c["id"], "side": tr(side), "kind": _kind(c["kind"], tr), "start": _when(c["start"]),
             "end": _when(c["end"]), "connected": tr("yes") if c.get("connected") else tr("no")}
            for side, key in ((N_("Before"), "nearest_before"), (N_("After"), "nearest_after"))
            for c in evidence.get(key, [])]
    if not rows:
        ui.label(tr("Nothing captured with this customer near the note.")).classes("text-grey-7")
        return
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("side", N_("When")), ("kind", N_("Kind")), ("start", N_("Started")), ("end", N_("Ended")),
        ("connected", N_("Connected")))]
    ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props('dense data-testid="flag-nearest"')


def _similar(evidence: dict[str, Any], tr: Tr) -> None:
    ui.label(tr("Near-copies of notes about other customers (similarity {threshold} or more):",
                threshold=evidence.get("threshold", "—"))).props('data-testid="flag-window"')
    rows = [{"id": copy["id"], "similarity": f"{100 * copy['similarity']:.0f}%", "at": _when(copy.get("at")),
             "customer": tr("Opportunity {id}", id=copy["opportunity_id"]) if copy.get("opportunity_id")
             else tr("Lead {id}", id=copy.get("lead_id"))} for copy in evidence.get("similar", [])]
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("id", N_("Note")), ("similarity", N_("Similarity")), ("at", N_("Written")), ("customer", N_("Customer")))]
    ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props('dense data-testid="flag-similar"')


def _decision_controls(principal: Principal, flag: FlagDetail, tr: Tr, refresh: Any) -> None:
    with ui.row().classes("items-end gap-3 w-full"):
        note = ui.input(tr("Note")).classes("w-96").props('data-testid="decision-note"')

        def decide(decision: str) -> None:
            try:
                data = FlagDecision.model_validate({"decision": decision, "note": note.value or ""})
                with session_scope(context.engine()) as session:
                    service.decide(session, flag.id, data.decision, note=data.note, actor=principal)
            except (DomainError, ValidationError) as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            ui.notify(tr("Flag confirmed.") if decision == "confirm" else tr("Flag dismissed."), type="positive")
            refresh()

        ui.button(tr("Confirm"), on_click=lambda: decide("confirm")).props('color=negative data-testid="confirm"')
        ui.button(tr("Dismiss"), on_click=lambda: decide("dismiss")).props('outline data-testid="dismiss"')


def _rows(flags: list[FlagDetail], tr: Tr) -> list[dict[str, Any]]:
    return [{"id": f.id, "kind": tr(label(f.kind)), "status": tr(label(f.status)), "rep": f.rep_name,
             "written": _when(f.evidence.get("note", {}).get("at")), "text": f.evidence.get("note", {}).get("text", ""),
             "decided": _when(f.decided_at), "reason": _reason(f, tr)} for f in flags]


def _reason(flag: FlagDetail, tr: Tr) -> str:
    closed = flag.evidence.get("closed")
    return tr(CLOSED[closed["reason"]]) if closed and closed.get("reason") in CLOSED else flag.decision_note


def _table(rows: list[dict[str, Any]], tr: Tr, test_id: str) -> None:
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("written", N_("Written")), ("rep", N_("Rep")), ("kind", N_("Kind")), ("text", N_("Note")),
        ("status", N_("Status")), ("decided", N_("Decided")), ("reason", N_("Supervisor's note")))]
    ui.table(columns=columns, rows=rows, row_key="id", pagination=20).classes("w-full max-w-5xl").props(
        f'data-testid="{test_id}"')


def _decided(principal: Principal, tr: Tr) -> Any:
    """The decided flags, as a section that can be redrawn."""
    @ui.refreshable
    def render() -> None:
        ui.label(tr("Decided recently")).classes("text-h6")
        with session_scope(context.engine(), readonly=True) as session:
            flags = [f for status in (FlagStatus.CONFIRMED, FlagStatus.DISMISSED)
                     for f in service.reviewed(session, principal, status=status, limit=50)]
        _table(_rows(sorted(flags, key=lambda f: -f.id), tr), tr, "decided-flags")

    render()
    return render


def _mine(principal: Principal, tr: Tr, *, always: bool) -> None:
    """A rep's flags, whatever their status; a supervisor sees the section only when there are some."""
    with session_scope(context.engine(), readonly=True) as session:
        flags = service.reviewed(session, principal, status=None, mine=True)
    if not flags and not always:
        return
    ui.label(tr("Flags on my notes")).classes("text-h6")
    if not flags:
        ui.label(tr("The honesty checks have not flagged any of your notes.")).classes("text-grey-7").props(
            'data-testid="no-own-flags"')
        return
    _table(_rows(flags, tr), tr, "my-flags")


def register() -> None:
    ui.page(PATH)(context.page(honesty_page))
