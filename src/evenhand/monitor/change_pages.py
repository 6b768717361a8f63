"""The change registry (/monitor/changes) and one change (/monitor/changes/{id}).

The registry lists every change newest first (entered by hand, or recorded as evenhand's own configuration was
saved), narrowed by status, system and source; sales ops and admins enter a change there. A planned change's page is
its form: what changes, the metrics it may move, the KPIs watched for it (each with its own alert line if wanted)
and the impact checklist, checked as typed — the release button stays disabled and the list beside it says what is
missing. Releasing saves the form and releases in one step; a released change is rolled back with a reason. Each
change links to its before/after comparison. Reps do not read the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, current_locale, plural
from evenhand.kit.clock import local
from evenhand.models import ChangeStatus
from evenhand.monitor import changes
from evenhand.monitor.change_schemas import KINDS, QUESTIONS, ChangeCreate, ChangeRead, ChangeUpdate, Rollback
from evenhand.monitor.kpis import CompiledKpis
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.layout import Tr, shell

PATH = "/monitor/changes"
STATUS_COLOURS = {ChangeStatus.PLANNED: "warning", ChangeStatus.RELEASED: "positive",
                  ChangeStatus.ROLLED_BACK: "grey-7"}
LISTED = 200  # the registry shows the newest; the API pages through the rest


def _when(at: datetime | None) -> str:
    return local(at, get_settings().zone).strftime("%Y-%m-%d %H:%M") if at else "—"


def _system(tr: Tr, change: ChangeRead) -> str:
    known = changes.SYSTEM_LABELS.get(change.system) if change.source == "config" else None
    return tr(known) if known else change.system


def _moment(text: str) -> datetime:
    """A time as typed in the form: the company's local time."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=get_settings().zone)
    except ValueError:
        raise Invalid("effective_at: pick the date and time the change takes effect.", field="effective_at") from None


def _refused(tr: Tr, exc: ValidationError | DomainError) -> None:
    ui.notify(problem(exc, tr), type="negative")


# --- the registry -------------------------------------------------------------------------------------------------


def registry_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Change registry"), path=PATH):
        ui.label(tr("Every change to the systems the sales process runs on: releases, campaigns and integrations "
                    "entered by sales ops, and evenhand's own configuration as it is saved.")).classes("text-grey-7")
        try:
            with session_scope(context.engine(), readonly=True) as session:
                systems = changes.systems(session, principal)
        except DomainError as exc:
            ui.label(problem(exc, tr)).classes("text-negative").props('data-testid="changes-refused"')
            return None
        if principal.manages_org:
            _add_form(tr, principal)
        _registry(principal, tr, systems)
    return None


def _registry(principal: Principal, tr: Tr, systems: list[str]) -> None:
    state: dict[str, Any] = {"status": None, "source": None, "system": None}
    every = {None: tr("All")}
    with ui.row().classes("items-end gap-3"):
        for key, options, name in (
                ("status", {s: tr(changes.STATUS_LABELS[s]) for s in ChangeStatus}, N_("Status")),
                ("source", {s: tr(text) for s, text in changes.SOURCE_LABELS.items()}, N_("Source")),
                ("system", {s: tr(changes.SYSTEM_LABELS[s]) if s in changes.SYSTEM_LABELS else s for s in systems},
                 N_("System"))):
            ui.select({**every, **options}, value=None, label=tr(name),
                      on_change=lambda e, k=key: (state.update({k: e.value}), listing.refresh())).classes(
                "w-48").props(f'data-testid="filter-{key}"')

    @ui.refreshable
    def listing() -> None:
        _listing(principal, tr, state)

    listing()


def _listing(principal: Principal, tr: Tr, state: dict[str, Any]) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = changes.listed(session, principal, limit=LISTED, zone=get_settings().zone, **state)
        active = changes.active_kpi_ids(session)
        rows = [changes.view(e, active) for e in found]
    counted = plural(len(rows), N_("{count} change"), N_("{count} changes"))
    ui.label(tr(counted, count=len(rows))).classes("text-subtitle1").props('data-testid="change-count"')
    for row in rows:
        _row(tr, row)


def _row(tr: Tr, change: ChangeRead) -> None:
    marks = f'data-change="{change.id}" data-status="{change.status.value}" data-source="{change.source}"'
    with ui.card().classes("w-full max-w-5xl").props(f"flat bordered {marks}"):
        with ui.row().classes("items-center gap-3"):
            ui.label(_when(change.effective_at)).classes("text-grey-8 font-mono")
            ui.badge(tr(changes.STATUS_LABELS[change.status]), color=STATUS_COLOURS[change.status])
            ui.badge(_system(tr, change), color="blue-grey").props("outline")
            ui.link(change.title, f"{PATH}/{change.id}").classes("text-subtitle1")
        if change.missing:
            counted = plural(len(change.missing), N_("{count} thing missing before the release"),
                             N_("{count} things missing before the release"))
            ui.label(tr(counted, count=len(change.missing))).classes("text-caption text-warning")


def _add_form(tr: Tr, principal: Principal) -> None:
    with ui.expansion(tr("Enter a change")).classes("w-full max-w-5xl").props('data-testid="add-change"'):
        with ui.row().classes("w-full items-end gap-3"):
            title = ui.input(tr("What changes")).classes("w-96").props('data-testid="new-title"')
            kind = ui.select({k: tr(changes.KIND_LABELS[k]) for k in KINDS}, value="release",
                             label=tr("Kind")).classes("w-40").props('data-testid="new-kind"')
            system = ui.input(tr("System")).classes("w-40").props('data-testid="new-system"')
            effective = ui.input(tr("Takes effect")).props('type=datetime-local data-testid="new-effective"')
        description = ui.textarea(tr("Description")).classes("w-full").props('data-testid="new-description"')

        def add() -> None:
            try:
                data = ChangeCreate(title=title.value or "", kind=kind.value, system=system.value or "",
                                    description=description.value or "",
                                    effective_at=_moment(effective.value) if effective.value else None)
                with session_scope(context.engine()) as session:
                    change_id = changes.add(session, data, actor=principal).id
            except (ValidationError, DomainError) as exc:
                _refused(tr, exc)
                return
            ui.navigate.to(f"{PATH}/{change_id}")

        ui.button(tr("Add"), on_click=add).props('color=primary data-testid="add"')


# --- one change ---------------------------------------------------------------------------------------------------


def change_page(principal: Principal, tr: Tr, request: Request, change_id: int) -> None:
    with shell(principal, tr, title=tr("Change {id}", id=change_id), path=PATH):

        @ui.refreshable
        def render() -> None:
            _one(principal, tr, change_id, render.refresh)

        render()
    return None


def _one(principal: Principal, tr: Tr, change_id: int, refresh: Any) -> None:
    try:
        with session_scope(context.engine(), readonly=True) as session:
            entry = changes.get(session, principal, change_id)
            shown = changes.detail(session, principal, entry)
            names = changes.people(session, [entry])
            kpis = changes.active_kpis(session)
    except DomainError as exc:
        ui.label(problem(exc, tr)).classes("text-negative").props('data-testid="change-refused"')
        return
    _heading(tr, shown, names)
    editable = principal.manages_org and shown.source == changes.MANUAL
    if editable and shown.status is ChangeStatus.PLANNED:
        _Form(principal, tr, shown, kpis, refresh).build()
    else:
        _said(tr, shown, kpis)
    if editable and shown.status is ChangeStatus.RELEASED:
        _roll_back(principal, tr, shown.id, refresh)
    _history(tr, shown)


def _heading(tr: Tr, shown: Any, names: dict[int, str]) -> None:
    with ui.row().classes("items-center gap-3"):
        ui.label(shown.title).classes("text-h6").props('data-testid="change-title"')
        ui.badge(tr(changes.STATUS_LABELS[shown.status]), color=STATUS_COLOURS[shown.status]).props(
            f'data-testid="change-status" data-status="{shown.status.value}"')
    facts = [tr(changes.KIND_LABELS.get(shown.kind, N_("Other"))), _system(tr, shown),
             tr(changes.SOURCE_LABELS.get(shown.source, N_("Other"))),
             tr("takes effect {when}", when=_when(shown.effective_at)),
             tr("entered by {who}", who=names.get(shown.author_id or 0, "—"))]
    if shown.released_at:
        facts.append(tr("released {when} by {who}", when=_when(shown.released_at),
                        who=names.get(shown.released_by_id or 0, "—")))
    ui.label(" · ".join(facts)).classes("text-grey-8").props('data-testid="change-facts"')
    if shown.description:
        ui.label(shown.description).classes("whitespace-pre-wrap")
    with ui.row().classes("gap-4"):
        ui.link(tr("Before and after"), f"{PATH}/{shown.id}/impact").props('data-testid="impact-link"')
        ui.link(tr("Change registry"), PATH)


def _kpi_name(kpis: CompiledKpis, kpi_id: str) -> str:
    kpi = kpis.get(kpi_id)
    return f"{kpi.label(current_locale())} ({kpi_id})" if kpi else kpi_id


def _line_text(tr: Tr, monitor: dict[str, Any]) -> str:
    sides = [tr("alert above {value}", value=monitor["above"]) if monitor.get("above") is not None else "",
             tr("alert below {value}", value=monitor["below"]) if monitor.get("below") is not None else ""]
    return ", ".join(s for s in sides if s)


def _said(tr: Tr, shown: ChangeRead, kpis: CompiledKpis) -> None:
    """What a change says, read-only: for a released change, or for whoever may not edit it."""
    with ui.card().classes("w-full max-w-5xl").props('flat bordered data-testid="change-said"'):
        ui.label(tr("May affect: {metrics}", metrics=", ".join(shown.affected_metrics) or "—"))
        watched = [f"{_kpi_name(kpis, m['kpi'])} {_line_text(tr, m)}".strip() for m in shown.monitors]
        ui.label(tr("Monitors: {monitors}", monitors="; ".join(watched) or "—"))
        if shown.source == changes.MANUAL:
            for key, question in QUESTIONS.items():
                ui.label(f"{tr(question)} {shown.checklist.get(key) or '—'}").props(f'data-answer="{key}"')


class _Form:
    """A planned change's form, checked as typed: the release button stays disabled while anything is missing, and
    the list beside it says what."""

    def __init__(self, principal: Principal, tr: Tr, shown: ChangeRead, kpis: CompiledKpis, refresh: Any) -> None:
        self.principal, self.tr, self.shown, self.kpis, self.refresh = principal, tr, shown, kpis, refresh
        self.active = frozenset(k.id for k in kpis.kpis)
        self.lines = {m["kpi"]: {"above": m.get("above"), "below": m.get("below")} for m in shown.monitors}

    def build(self) -> None:
        tr, shown = self.tr, self.shown
        with ui.card().classes("w-full max-w-5xl").props('flat bordered data-testid="change-form"'):
            self._fields()
            ids = list(dict.fromkeys([*(k.id for k in self.kpis.kpis), *self.lines]))
            self.metrics = ui.select(list(dict.fromkeys([*ids, *shown.affected_metrics])), multiple=True,
                                     value=list(shown.affected_metrics), new_value_mode="add-unique",
                                     label=tr("Metrics it may move")).classes("w-full").props(
                'use-chips data-testid="change-metrics"')
            self.monitors = ui.select({k: _kpi_name(self.kpis, k) for k in ids}, multiple=True,
                                      value=list(self.lines), label=tr("KPIs watched for it")).classes(
                "w-full").props('use-chips data-testid="change-monitors"')
            self.alert_lines = ui.column().classes("w-full gap-1")
            self.answers = {key: ui.textarea(tr(question), value=shown.checklist.get(key, "")).classes(
                "w-full").props(f'autogrow data-testid="answer-{key}"') for key, question in QUESTIONS.items()}
            self._actions()
        for element in (self.metrics, self.monitors, *self.answers.values()):
            element.on_value_change(self.check)
        self.monitors.on_value_change(self._draw_lines)
        self._draw_lines()
        self.check()

    def _fields(self) -> None:
        tr, shown = self.tr, self.shown
        with ui.row().classes("w-full items-end gap-3"):
            self.title = ui.input(tr("What changes"), value=shown.title).classes("w-96").props(
                'data-testid="change-title-input"')
            self.kind = ui.select({k: tr(changes.KIND_LABELS[k]) for k in KINDS}, value=shown.kind,
                                  label=tr("Kind")).classes("w-40")
            self.system = ui.input(tr("System"), value=shown.system).classes("w-40")
            self.effective = ui.input(tr("Takes effect"), value=local(
                shown.effective_at, get_settings().zone).strftime("%Y-%m-%dT%H:%M")).props("type=datetime-local")
        self.description = ui.textarea(tr("Description"), value=shown.description).classes("w-full").props("autogrow")

    def _actions(self) -> None:
        tr = self.tr
        self.missing = ui.column().classes("gap-0").props('data-testid="release-missing"')
        with ui.row().classes("items-center gap-3"):
            ui.button(tr("Save"), on_click=lambda: self.save(release=False)).props(
                'outline data-testid="save-change"')
            self.release_button = ui.button(tr("Release"), on_click=lambda: self.save(release=True)).props(
                'color=positive data-testid="release-change"')

    def _draw_lines(self) -> None:
        """An alert line of its own for each KPI watched (empty: the KPI's own line)."""
        tr = self.tr
        self.alert_lines.clear()
        with self.alert_lines:
            for kpi_id in self.monitors.value or []:
                line = self.lines.setdefault(kpi_id, {"above": None, "below": None})
                with ui.row().classes("items-center gap-3").props(f'data-monitor="{kpi_id}"'):
                    ui.label(_kpi_name(self.kpis, kpi_id)).classes("w-72")
                    for side, name in (("above", N_("Alert above")), ("below", N_("Alert below"))):
                        ui.number(tr(name), value=line[side], on_change=lambda e, ln=line, s=side: ln.update(
                            {s: e.value})).classes("w-36").props(f'data-testid="line-{side}"')

    def _monitors(self) -> list[dict[str, Any]]:
        return [{"kpi": k, **self.lines.get(k, {})} for k in self.monitors.value or []]

    def check(self) -> None:
        found = changes.lacking({k: a.value for k, a in self.answers.items()}, self._monitors(),
                                list(self.metrics.value or []), self.active)
        self.missing.clear()
        with self.missing:
            if found:
                ui.label(self.tr("Before its release it needs:")).classes("text-caption text-grey-8")
            for item in found:
                ui.label(self._text(item)).classes("text-caption text-warning")
        self.release_button.set_enabled(not found)

    def _text(self, item: changes.Missing) -> str:
        key = item.field.removeprefix("checklist.")
        if key in QUESTIONS:
            return self.tr("Not answered: {question}", question=self.tr(QUESTIONS[key]))
        return self.tr(item.message, **item.params)

    def _update(self) -> ChangeUpdate:
        return ChangeUpdate(title=self.title.value or "", kind=self.kind.value, system=self.system.value or "",
                            description=self.description.value or "", effective_at=_moment(self.effective.value or ""),
                            affected_metrics=list(self.metrics.value or []), monitors=self._monitors(),
                            checklist={k: a.value or "" for k, a in self.answers.items()})

    def save(self, *, release: bool) -> None:
        """Save the form; with ``release``, release in the same transaction (a refusal saves nothing)."""
        change_id, tr = self.shown.id, self.tr
        try:
            data = self._update()
            with session_scope(context.engine()) as session:
                changes.edit(session, change_id, data, actor=self.principal)
                if release:
                    changes.release(session, change_id, actor=self.principal)
        except (ValidationError, DomainError) as exc:
            _refused(tr, exc)
            return
        ui.notify(tr("Change released.") if release else tr("Change saved."), type="positive")
        self.refresh()


def _roll_back(principal: Principal, tr: Tr, change_id: int, refresh: Any) -> None:
    with ui.row().classes("items-end gap-3"):
        reason = ui.input(tr("Why it is rolled back")).classes("w-96").props('data-testid="rollback-reason"')

        def roll_back() -> None:
            try:
                data = Rollback(reason=reason.value or "")
                with session_scope(context.engine()) as session:
                    changes.roll_back(session, change_id, reason=data.reason, actor=principal)
            except (ValidationError, DomainError) as exc:
                _refused(tr, exc)
                return
            ui.notify(tr("Change rolled back."), type="positive")
            refresh()

        ui.button(tr("Roll back"), on_click=roll_back).props('color=negative outline data-testid="rollback"')


def _history(tr: Tr, shown: Any) -> None:
    """What was done with a change entered by hand (a configuration change's history is its document's)."""
    if not shown.history:
        return
    ui.label(tr("What was done")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("at", N_("When")), ("action", N_("Action")), ("actor", N_("By")), ("reason", N_("Reason")))]
    rows = [{"i": i, "at": _when(d.at), "action": tr(changes.DONE_LABELS[d.action]), "actor": d.actor or "—",
             "reason": d.reason or ""} for i, d in enumerate(shown.history)]
    ui.table(columns=columns, rows=rows, row_key="i").classes("w-full max-w-5xl").props(
        'dense flat bordered data-testid="change-history"')


def register() -> None:
    ui.page(PATH)(context.page(registry_page))
    ui.page(PATH + "/{change_id}")(context.page(change_page))
