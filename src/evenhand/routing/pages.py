"""Routing pages: the live decision feed, the holding queue, and one decision explained ("why this rep, why
not me")."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import NotFound
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.org import service as org_service
from evenhand.routing import holds, policy_versions, service
from evenhand.routing.reasons import explain, explain_hold
from evenhand.routing.values import Verdict
from evenhand.web import context
from evenhand.web.layout import DECISION_ACTIONS, LEAD_SIDE, Tr, shell

REFRESH_SECONDS = 5.0
TRACKS = {"round_robin": N_("Round robin"), "weighted": N_("Weighted (high-value)"),
          "manual": N_("Manual (named by a supervisor)")}
KINDS = {"intake": N_("Routed on intake"), "release": N_("Released from the holding queue"),
         "reassign": N_("Routed again by a supervisor"), "manual": N_("Assigned by hand"),
         "appeal": N_("Decided on an appeal"),
         "unacknowledged": N_("Routed again: the rep did not acknowledge it in time")}
OUTCOMES = {"assigned": N_("Assigned"), "held": N_("Waiting for a rep")}


def _feed_rows(principal: Principal, tr: Tr, pools: dict[str, str]) -> list[dict[str, Any]]:
    """The latest decisions the principal may see; ``pools`` names pools by id (the active policy's labels)."""
    with session_scope(context.engine(), readonly=True) as session:
        lines = service.feed_lines(session, principal, limit=100)
    return [_feed_row(line, tr, pools, get_settings().zone) for line in lines]


def _feed_row(line: service.FeedLine, tr: Tr, pools: dict[str, str], zone: ZoneInfo) -> dict[str, Any]:
    r = line.decision
    return {"id": r.id, "at": local(r.created_at, zone).strftime("%m-%d %H:%M:%S"), "company": line.company,
            "score": line.score, "pool": pools.get(r.pool_id or "", r.pool_id),
            "track": tr(TRACKS.get(r.track or "", r.track or "")), "outcome": tr(OUTCOMES.get(r.outcome, r.outcome)),
            "rep": line.rep or "—", "ms": round(r.latency_us / 1000, 1)}


def routing_page(principal: Principal, tr: Tr, request: Request) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        policy = policy_versions.active(session)
        version, pools = policy.version, policy_versions.compiled_body(policy.body).policy.pools
    labels = {pool.id: pool.label or pool.id for pool in pools}
    with shell(principal, tr, title=tr("Routing"), path="/routing"):
        with ui.row().classes("items-center gap-4"):
            ui.label(tr("Active routing policy: version {version}", version=version)).classes("text-grey-7")
            ui.link(tr("Routing policy"), "/routing/policy").props('data-testid="policy-link"')
        with ui.row().classes("gap-2"):
            for pool in pools:
                ui.chip(f"{pool.label or pool.id}" + (f" · {pool.condition}" if pool.condition else "")).props(
                    "outline")
        if principal.reads_everything:
            _holding_queue(principal, tr)
        ui.label(tr("Live decisions")).classes("text-h6")
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
            ("at", N_("Time")), ("company", N_("Company")), ("score", N_("Score")), ("pool", N_("Pool")),
            ("track", N_("Track")), ("outcome", N_("Outcome")), ("rep", N_("Rep")), ("ms", N_("ms")))]
        table = ui.table(columns=columns, rows=_feed_rows(principal, tr, labels), row_key="id", pagination=20).classes(
            "w-full").props('data-testid="decision-feed"')
        table.add_slot("body-cell-company", """
            <q-td :props="props"><a :href="'/routing/decisions/' + props.row.id" class="text-primary">
              {{ props.value }}</a></q-td>""")

        def refresh() -> None:
            # redraw only when the feed moved: a redraw under the pointer swallows a click on a company
            rows = _feed_rows(principal, tr, labels)
            if rows != table.rows:
                table.rows = rows
                table.update()

        ui.timer(REFRESH_SECONDS, refresh)
    return None


def _holding_queue(principal: Principal, tr: Tr) -> None:
    """The leads nobody could take yet, oldest first; sales ops may route them again at once (the worker
    does so by itself, and whenever a rep comes online)."""

    @ui.refreshable
    def render() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            waiting = holds.waiting(session)
        with ui.row().classes("items-center gap-4"):
            ui.label(tr("Holding queue: {count} leads waiting", count=len(waiting))).classes("text-h6")
            if waiting and principal.manages_org:
                ui.button(tr("Route them now"), icon="redo", on_click=release).props(
                    'outline dense data-testid="release-held"')
        if not waiting:
            return
        rows = [{"id": w.lead_id, "company": w.company, "pool": w.pool, "since": w.held_since.strftime("%m-%d %H:%M"),
                 "minutes": w.minutes, "escalated": w.escalated_at.strftime("%m-%d %H:%M") if w.escalated_at else "—"}
                for w in waiting]
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
            ("company", N_("Company")), ("pool", N_("Pool")), ("since", N_("Waiting since")),
            ("minutes", N_("Minutes")), ("escalated", N_("Escalated")))]
        table = ui.table(columns=columns, rows=rows, row_key="id", pagination=10).classes("w-full").props(
            'dense data-testid="holding-queue"')
        table.add_slot("body-cell-company", """
            <q-td :props="props">
              <a :href="'/leads/' + props.row.id" class="text-primary">{{ props.value }}</a>
            </q-td>""")

    def release() -> None:
        with session_scope(context.engine()) as session:
            routed = len(holds.release_held(session))
            left = len(holds.waiting(session))
        ui.notify(tr("{routed} held leads found a rep; {left} still waiting.", routed=routed, left=left),
                  type="positive" if routed else "info")
        render.refresh()

    render()


def decision_page(principal: Principal, tr: Tr, request: Request, decision_id: int) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        try:
            view = service.visible_decision(session, principal, decision_id)
        except NotFound:
            view = None
        ids: set[int] = set()
        if view is not None:
            ids = {v["rep_id"] for v in view["verdicts"]} | ({view["row"].rep_id} if view["row"].rep_id else set())
        names = org_service.display_names(session, ids)
    with shell(principal, tr, title=tr("Why this rep"), path="/routing"):
        if view is None:
            ui.label(tr("This decision does not exist or is not yours to see.")).classes("text-grey-7")
            return None
        _summary(view, names, tr)
        DECISION_ACTIONS.draw(principal, tr, decision_id)
        _verdicts(view, names, tr)
    return None


def _summary(view: dict[str, Any], names: dict[int, str], tr: Tr) -> None:
    row, lead = view["row"], view["record"]["lead"]
    zone = get_settings().zone
    with ui.card().classes("w-full").props('data-testid="decision-summary"'):
        ui.label(f"{lead.get('company') or ''} · {tr('Score')} {lead.get('score')}").classes("text-h6")
        ui.label(tr("{when}: {outcome} on the {track} track in pool {pool}, policy version {version}.",
                    when=local(row.created_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                    outcome=tr(OUTCOMES.get(row.outcome, row.outcome)),
                    track=tr(TRACKS.get(row.track or "", row.track or "")), pool=view["pool_label"],
                    version=row.policy_version))
        ui.label(tr(KINDS.get(row.kind, row.kind))).classes("text-grey-7").props('data-testid="decision-kind"')
        if row.rep_id:
            ui.label(tr("Went to {name}.", name=names.get(row.rep_id, row.rep_id))).classes("text-weight-bold")
        held = explain_hold(view["record"], view["pool_label"] or row.pool_id or "", tr)
        if held:
            ui.label(held).classes("text-weight-bold text-warning").props('data-testid="hold-reason"')
        ui.link(tr("Lead page"), f"/leads/{row.lead_id}")


def _verdicts(view: dict[str, Any], names: dict[int, str], tr: Tr) -> None:
    weights = {w["rep_id"]: w for w in view["record"]["weights"]}
    ui.label(tr("Every rep considered")).classes("text-h6")
    with ui.grid(columns=3).classes("w-full gap-y-1").props('data-testid="verdicts"'):
        for header in (N_("Rep"), N_("Verdict"), N_("Weight")):
            ui.label(tr(header)).classes("text-weight-bold")
        for data in view["verdicts"]:
            verdict = Verdict.from_dict(data)
            ui.label(names.get(verdict.rep_id, str(verdict.rep_id)))
            ui.label(explain(verdict, tr)).classes("text-positive" if verdict.code == "chosen" else "")
            weight = weights.get(verdict.rep_id)
            ui.label(f"{weight['weight']:.3f}" if weight else "—")


def lead_decision(principal: Principal, tr: Tr, lead_id: int) -> None:
    """On a lead's page: why its rep got it, and what may be done about that decision."""
    with session_scope(context.engine(), readonly=True) as session:
        routed = service.feed(session, principal, lead_id=lead_id, limit=1)
    if not routed:
        return
    ui.link(tr("Why this rep"), f"/routing/decisions/{routed[0].id}").props('data-testid="why-this-rep"')
    DECISION_ACTIONS.draw(principal, tr, routed[0].id)  # its rep may appeal here, whoever may reassign do so


def register() -> None:
    LEAD_SIDE.add(lead_decision, order=10)
    ui.page("/routing")(context.page(routing_page))
    ui.page("/routing/decisions/{decision_id}")(context.page(decision_page))
