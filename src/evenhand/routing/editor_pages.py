"""The routing policy editor (/routing/policy): YAML with inline validation, the policy drawn as a diagram,
a what-if replay of recent leads before saving, and the version history with diffs.

Admin and ops edit; everyone else reads. Saving is possible only after the replay has run on exactly the
text being saved, so nobody changes how leads are routed without having seen what it would have done.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from nicegui import run, ui

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.kit.figures import p_cell
from evenhand.routing import policy_versions, whatif
from evenhand.routing.diagram import flowchart
from evenhand.web import context, document_editor
from evenhand.web.layout import Tr

PATH = "/routing/policy"
POLICY = document_editor.Document(
    key="policy", title=N_("Routing policy"), active_label=N_("Active routing policy: version {version}"),
    valid=N_("The policy is valid."), name_column=N_("Policy name"), active=policy_versions.active,
    history=policy_versions.history, validate=policy_versions.validate, save=policy_versions.save,
    columns=(("metrics", N_("May affect"), lambda row, tr: ", ".join(
        tr(whatif.METRICS[m]) if m in whatif.METRICS else m for m in row.affected_metrics or [])),),
    height="h-[36rem]")


def policy_page(principal: Principal, tr: Tr) -> None:
    document_editor.page(principal, tr, POLICY, nav="/routing", panel=Replay(),
                         links=[(N_("Live decisions"), "/routing")])


class Replay(document_editor.Panel):
    """The policy drawn as a diagram beside its problems, and the what-if replay: saving waits until the replay has
    run on exactly the text being saved, and the metrics it moved are offered as what the change may affect."""

    replayed: str | None = None  # the text the last replay ran on

    def aside(self) -> None:
        tr = self.editor.tr
        ui.label(tr("Pools and tracks")).classes("text-subtitle1")
        self.diagram = ui.mermaid(flowchart(policy_versions.compiled_body(self.editor.active.body), tr),
                                  config={"securityLevel": "strict"}).classes("w-full").props(
            'data-testid="policy-diagram"')

    def checked(self, text: str, valid: bool) -> None:
        if valid:
            self.diagram.content = flowchart(policy_versions.compiled_body(text), self.editor.tr)
        if self.editor.editable:
            self.run_button.set_enabled(valid)

    def hint(self, text: str) -> str:
        return self.editor.tr("Run the replay on this text before saving.") if self.replayed != text else ""

    def fields(self) -> None:
        tr = self.editor.tr
        self.metrics = ui.select({k: tr(v) for k, v in whatif.METRICS.items()}, multiple=True, value=[],
                                 label=tr("Metrics this change may affect")).classes("w-full").props(
            'use-chips data-testid="policy-metrics"')

    def extras(self) -> dict[str, Any]:
        return {"affected_metrics": list(self.metrics.value or [])}

    def build(self) -> None:
        tr = self.editor.tr
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
        tr = self.editor.tr
        if not self.editor.check():
            return
        text = self.editor.text
        try:
            start, end = date.fromisoformat(self.start.value), date.fromisoformat(self.end.value)
        except (TypeError, ValueError):
            ui.notify(tr("Pick both days of the range."), type="negative")
            return
        result = await self._run(text, start, end)
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
        self.editor.refresh_save()

    async def _run(self, text: str, start: date, end: date) -> dict[str, Any] | DomainError | None:
        shared: dict[str, Any] = {"stage": "read", "done": 0, "total": 1}
        ticker = ui.timer(0.2, lambda: self._show_progress(shared))
        self.run_button.set_enabled(False)
        self.progress.set_visibility(True)
        try:
            return await run.io_bound(_replay, self.editor.principal, text, start, end, shared)
        finally:
            ticker.cancel()
            self.run_button.set_enabled(True)
            self.progress.set_visibility(False)

    def _show_progress(self, shared: dict[str, Any]) -> None:
        share = {"read": (0.0, 0.1), "current": (0.1, 0.45), "candidate": (0.55, 0.45)}[shared["stage"]]
        done = shared["done"] / shared["total"] if shared["total"] else 0.0
        self.progress.set_value(round(share[0] + share[1] * done, 3))
        self.stage.text = self.editor.tr(whatif.STAGES[shared["stage"]])


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


def register() -> None:
    ui.page(PATH)(context.page(policy_page))
