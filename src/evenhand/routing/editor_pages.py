"""The routing policy editor (/routing/policy): YAML with inline validation, the policy drawn as a diagram,
a what-if replay of recent leads before saving, and the version history with diffs.

Admin and ops edit; everyone else reads. Saving is possible only after the replay has run on exactly the
text being saved, so nobody changes how leads are routed without having seen what it would have done.
"""

from __future__ import annotations

import difflib
import time
from datetime import date, timedelta
from typing import Any

from nicegui import run, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local, utcnow
from evenhand.kit.figures import p_cell
from evenhand.routing import policy_versions, whatif
from evenhand.routing.diagram import flowchart
from evenhand.web import context
from evenhand.web.forms import show_problems
from evenhand.web.layout import Tr, shell

PATH = "/routing/policy"
DEBOUNCE_SECONDS = 0.4
MAX_DIFF_LINES = 400
CSS = ".eh-problem-line { background-color: rgba(193, 0, 21, 0.10); }"


def problems(body: str) -> list[dict[str, Any]]:
    """Every problem of the text with its path and line; empty when it is a valid policy."""
    try:
        policy_versions.validate(body)
    except Invalid as exc:
        return list(exc.details or [])
    return []


def diff(before: str, after: str, before_name: str, after_name: str) -> list[str]:
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""))


def _versions(session: Any) -> list[dict[str, Any]]:
    return [{"version": row.version, "name": row.name, "note": row.note, "author": author or "—",
             "created_at": row.created_at, "active": row.active, "body": row.body,
             "metrics": list(row.affected_metrics or [])} for row, author in policy_versions.history(session)]


def policy_page(request: Request) -> RedirectResponse | None:
    principal = context.principal(request)
    if principal is None:
        return RedirectResponse(f"/login?next={PATH}", status_code=303)
    tr = context.use_locale(request)
    with session_scope(context.engine()) as session:  # the first read on a new database installs version 1
        current = policy_versions.active(session)
        active_body, active_version = current.body, current.version
        versions = _versions(session)
    ui.add_css(CSS)
    with shell(principal, tr, title=tr("Routing policy"), path="/routing"):
        with ui.row().classes("items-center gap-4"):
            ui.label(tr("Active routing policy: version {version}", version=active_version)).classes(
                "text-grey-7").props('data-testid="active-version"')
            ui.link(tr("Live decisions"), "/routing")
        _Editor(principal, tr, active_body, active_version).build()
        _history(tr, versions, active_body)
    return None


class _Editor:
    """The editor, its problems and diagram, the replay preview and the save form, wired together."""

    def __init__(self, principal: Principal, tr: Tr, active_body: str, active_version: int) -> None:
        self.principal, self.tr = principal, tr
        self.active_body, self.active_version = active_body, active_version
        self.editable = principal.manages_org
        self.changed_at: float | None = None
        self.replayed: str | None = None  # the text the last replay ran on
        self.valid = True

    def build(self) -> None:
        tr = self.tr
        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            self.editor = ui.codemirror(self.active_body, language="YAML").classes("w-1/2 h-[36rem] border").props(
                'data-testid="policy-editor"')
            self.editor.set_enabled(self.editable)
            with ui.column().classes("w-1/2 gap-2"):
                self.status = ui.label().props('data-testid="policy-status" role="status"')
                self.problem_list = ui.column().classes("gap-1").props('data-testid="policy-problems"')
                ui.label(tr("Pools and tracks")).classes("text-subtitle1")
                self.diagram = ui.mermaid(flowchart(policy_versions.compiled_body(self.active_body), tr),
                                          config={"securityLevel": "strict"}).classes("w-full").props(
                    'data-testid="policy-diagram"')
        if self.editable:
            self._replay_card()
            self._save_card()
        self.editor.on_value_change(self._changed)
        ui.timer(0.2, self._debounced)
        self.check()

    # --- validation --------------------------------------------------------------------------------

    def _changed(self) -> None:
        self.changed_at = time.monotonic()
        if self.editable:
            self._refresh_save()

    def _debounced(self) -> None:
        if self.changed_at is not None and time.monotonic() - self.changed_at >= DEBOUNCE_SECONDS:
            self.changed_at = None
            self.check()

    def check(self) -> bool:
        tr, found = self.tr, problems(self.editor.value)
        show_problems(self.editor, self.problem_list, found, tr)
        self.valid = not found
        counted = plural(len(found), N_("{count} problem"), N_("{count} problems"))
        self.status.text = tr("The policy is valid.") if not found else tr(counted, count=len(found))
        self.status.classes(replace="text-positive" if not found else "text-negative")
        if not found:
            self.diagram.content = flowchart(policy_versions.compiled_body(self.editor.value), tr)
        if self.editable:
            self.run_button.set_enabled(not found)
            self._refresh_save()
            _show_diff(self.changes, diff(self.active_body, self.editor.value, f"v{self.active_version}",
                                          tr("this text")), tr)
        return not found

    # --- replay ------------------------------------------------------------------------------------

    def _replay_card(self) -> None:
        tr = self.tr
        today = utcnow().astimezone(get_settings().zone).date()
        with ui.card().classes("w-full"):
            ui.label(tr("Replay before saving")).classes("text-h6")
            ui.label(tr("The leads of the chosen days are routed again under this text and under the active "
                        "policy, side by side (at most {days} days).", days=whatif.MAX_DAYS)).classes("text-grey-7")
            with ui.row().classes("items-end gap-4"):
                first = today - timedelta(days=whatif.PREVIEW_DAYS - 1)
                self.start = ui.input(tr("From"), value=first.isoformat()).props(
                    'type=date outlined dense data-testid="replay-from"')
                self.end = ui.input(tr("To"), value=today.isoformat()).props(
                    'type=date outlined dense data-testid="replay-to"')
                self.run_button = ui.button(tr("Run replay"), on_click=self.replay).props(
                    'color=primary data-testid="run-replay"')
            self.progress = ui.linear_progress(value=0, show_value=False).props('data-testid="replay-progress"')
            self.progress.set_visibility(False)
            self.stage = ui.label().classes("text-caption text-grey-7").props('data-testid="replay-stage"')
            self.result = ui.column().classes("w-full gap-2").props('data-testid="replay-result"')

    async def replay(self) -> None:
        tr = self.tr
        if not self.check():
            return
        text = self.editor.value
        try:
            start, end = date.fromisoformat(self.start.value), date.fromisoformat(self.end.value)
        except (TypeError, ValueError):
            ui.notify(tr("Pick both days of the range."), type="negative")
            return
        shared: dict[str, Any] = {"stage": "read", "done": 0, "total": 1}
        ticker = ui.timer(0.2, lambda: self._show_progress(shared))
        self.run_button.set_enabled(False)
        self.progress.set_visibility(True)
        try:
            result = await run.io_bound(_replay, self.principal, text, start, end, shared)
        finally:
            ticker.cancel()
            self.run_button.set_enabled(True)
            self.progress.set_visibility(False)
        if isinstance(result, DomainError):
            self.stage.text = tr(result.message, **result.params)
            self.stage.classes(replace="text-negative text-caption")
            return
        if result is None:  # the server is shutting down
            return
        self.replayed = text
        self.stage.text = tr("Replayed {leads} leads in {seconds} s.", leads=result["leads"],
                             seconds=result["seconds"])
        self.stage.classes(replace="text-caption text-grey-7")
        _show_result(self.result, result, tr)
        self.metrics.value = whatif.suggested_metrics(result)
        self._refresh_save()

    def _show_progress(self, shared: dict[str, Any]) -> None:
        share = {"read": (0.0, 0.1), "current": (0.1, 0.45), "candidate": (0.55, 0.45)}[shared["stage"]]
        done = shared["done"] / shared["total"] if shared["total"] else 0.0
        self.progress.set_value(round(share[0] + share[1] * done, 3))
        self.stage.text = self.tr(whatif.STAGES[shared["stage"]])

    # --- saving ------------------------------------------------------------------------------------

    def _save_card(self) -> None:
        tr = self.tr
        with ui.card().classes("w-full"):
            ui.label(tr("Save as a new version")).classes("text-h6")
            self.note = ui.input(tr("What changed and why")).classes("w-full").props('data-testid="policy-note"')
            self.metrics = ui.select({k: tr(v) for k, v in whatif.METRICS.items()}, multiple=True, value=[],
                                     label=tr("Metrics this change may affect")).classes("w-full").props(
                'use-chips data-testid="policy-metrics"')
            with ui.row().classes("items-center gap-4"):
                self.save_button = ui.button(tr("Save as new version"), on_click=self.save).props(
                    'color=primary data-testid="save-policy"')
                self.save_hint = ui.label().classes("text-caption text-grey-7").props('data-testid="save-hint"')
            with ui.expansion(tr("Changes against the active version")).classes("w-full"):
                self.changes = ui.column().classes("w-full gap-0").props('data-testid="policy-changes"')

    def _refresh_save(self) -> None:
        text, tr = self.editor.value, self.tr
        if text == self.active_body:
            hint = tr("Nothing to save: the text is the active version.")
        elif self.replayed != text:
            hint = tr("Run the replay on this text before saving.")
        else:
            hint = ""
        self.save_button.set_enabled(not hint and self.changed_at is None and self.valid)
        self.save_hint.text = hint

    def save(self) -> None:
        text, tr = self.editor.value, self.tr
        if text != self.replayed or problems(text):
            return
        try:
            with session_scope(context.engine()) as session:
                row = policy_versions.save(session, text, author=self.principal, note=self.note.value or "",
                                   affected_metrics=list(self.metrics.value or []))
                version = row.version
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="negative")
            return
        ui.notify(tr("Saved as version {version}.", version=version), type="positive")
        ui.navigate.reload()


def _replay(principal: Principal, text: str, start: date, end: date,
            shared: dict[str, Any]) -> dict[str, Any] | DomainError:
    """Runs in a worker thread; progress goes through ``shared``, read by the page's timer."""
    def progress(stage: str, done: int, total: int) -> None:
        shared.update(stage=stage, done=done, total=total)

    try:
        with session_scope(context.engine(), readonly=True) as session:
            return whatif.replay(session, text, start=start, end=end, principal=principal, progress=progress)
    except DomainError as exc:
        return exc


REP_COLUMNS = (("rep", N_("Rep")), ("team", N_("Team")), ("actual", N_("Owns today")), ("current", N_("Active policy")),
               ("candidate", N_("This text")), ("change", N_("Change")), ("conversions", N_("Expected conversions")))
TEAM_COLUMNS = (("team", N_("Team")), ("current_p", N_("Active: chi-square p")), ("current_gini", N_("Active: Gini")),
                ("candidate_p", N_("This text: chi-square p")), ("candidate_gini", N_("This text: Gini")))


def rep_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Leads per rep with high-value ones in brackets, under each policy, and the change."""
    rows = []
    for r in result["reps"]:
        a, b, d = r["current"], r["candidate"], r["difference"]
        rows.append({"rep_id": r["rep_id"], "rep": r["name"], "team": r["team"], "actual": r["actual"],
                     "current": f"{a['leads']} ({a['high_value']})", "candidate": f"{b['leads']} ({b['high_value']})",
                     "change": f"{d['leads']:+d} ({d['high_value']:+d})", "delta": d["leads"] or d["high_value"],
                     "conversions": f"{a['expected_conversions']:.1f} → {b['expected_conversions']:.1f}"})
    return rows


def team_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    def p(side: dict[str, Any] | None) -> str:
        chi = (side or {}).get("chi_square")
        return p_cell(chi['p_value']) if chi else "—"

    def g(side: dict[str, Any] | None) -> str:
        return f"{side['gini']:.3f}" if side else "—"

    return [{"team": row["team"] or "—", "current_p": p(row["current"]), "current_gini": g(row["current"]),
             "candidate_p": p(row["candidate"]), "candidate_gini": g(row["candidate"])} for row in result["teams"]]


def _show_result(area: ui.column, result: dict[str, Any], tr: Tr) -> None:
    area.clear()
    a, b, d = result["current"], result["candidate"], result["difference"]
    with area:
        ui.label(tr("{leads} leads from {start} to {end}. Leads that change hands: {moved}. Still held at the end: "
                    "{held_a} → {held_b}. High-value leads assigned: {hv_a} → {hv_b}. Expected conversions: "
                    "{conv_a} → {conv_b}. Gini of lead value: {gini_a} → {gini_b}.", leads=result["leads"],
                    start=result["from"], end=result["to"], moved=d["moved"], held_a=a["held"], held_b=b["held"],
                    hv_a=a["high_value"], hv_b=b["high_value"], conv_a=a["expected_conversions"],
                    conv_b=b["expected_conversions"], gini_a=a["gini"], gini_b=b["gini"])).props(
            'data-testid="replay-summary"')
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k in ("rep", "team") else "right",
                    "sortable": True} for k, v in REP_COLUMNS]
        table = ui.table(columns=columns, rows=rep_rows(result), row_key="rep_id", pagination=25).classes(
            "w-full").props('dense flat bordered data-testid="replay-reps"')
        table.add_slot("body-cell-change", """
            <q-td :props="props" :class="props.row.delta > 0 ? 'text-positive' : (props.row.delta < 0
                ? 'text-negative' : '')">{{ props.value }}</q-td>""")
        ui.label(tr("Fairness per team: chi-square of actual against the policy's expected shares (a small p "
                    "means the distribution strays from the policy's intent), Gini of lead value.")).classes(
            "text-caption text-grey-7")
        ui.table(columns=[{"name": k, "label": tr(v), "field": k, "align": "left" if k == "team" else "right"}
                          for k, v in TEAM_COLUMNS], rows=team_rows(result), row_key="team").classes("w-full").props(
            'dense flat bordered data-testid="replay-teams"')
        estimator = result["estimator"]
        ui.label(tr(whatif.ESTIMATOR, days=estimator["window_days"], prior=int(estimator["prior_leads"]))).classes(
            "text-caption text-grey-7")


def _history(tr: Tr, versions: list[dict[str, Any]], active_body: str) -> None:
    zone = get_settings().zone
    ui.label(tr("Versions")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("version", N_("Version")), ("name", N_("Policy name")), ("note", N_("Note")), ("author", N_("Author")),
        ("created", N_("Saved")), ("metrics", N_("May affect")), ("active", N_("In use")))]
    rows = [{"version": v["version"], "name": v["name"], "note": v["note"], "author": v["author"],
             "created": local(v["created_at"], zone).strftime("%Y-%m-%d %H:%M"),
             "metrics": ", ".join(tr(whatif.METRICS[m]) if m in whatif.METRICS else m for m in v["metrics"]),
             "active": "✓" if v["active"] else ""} for v in versions]
    ui.table(columns=columns, rows=rows, row_key="version").classes("w-full").props(
        'dense flat bordered data-testid="policy-versions"')
    bodies = {v["version"]: v["body"] for v in versions}
    active = next((v["version"] for v in versions if v["active"]), None)
    options = {v["version"]: tr("Version {version}", version=v["version"]) for v in versions if not v["active"]}
    if not options or active is None:
        return
    with ui.row().classes("items-center gap-2"):
        ui.label(tr("Compare with the active version:"))
        chosen = ui.select(options, value=next(iter(options))).props('dense outlined data-testid="diff-version"')
    area = ui.column().classes("w-full gap-0").props('data-testid="policy-diff"')

    def show() -> None:
        _show_diff(area, diff(bodies[chosen.value], active_body, f"v{chosen.value}", f"v{active}"), tr)

    chosen.on_value_change(lambda _: show())
    show()


def _show_diff(area: ui.column, lines: list[str], tr: Tr) -> None:
    """A unified diff, one label per line (text, never markup), additions green and removals red."""
    area.clear()
    with area:
        if not lines:
            ui.label(tr("No difference.")).classes("text-grey-7")
        for line in lines[:MAX_DIFF_LINES]:
            colour = "text-positive" if line.startswith("+") else "text-negative" if line.startswith("-") else ""
            ui.label(line or " ").classes(f"whitespace-pre font-mono text-caption {colour}")


def register() -> None:
    ui.page(PATH)(policy_page)
