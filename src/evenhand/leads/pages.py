"""Lead pages: the filterable list with score badges, and one lead with its score explained."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local
from evenhand.leads import outcomes, repository, service
from evenhand.leads.schemas import LeadFilter, LeadOutcomeSet
from evenhand.models import BehaviourEvent, Lead, LeadStatus
from evenhand.notify import service as notify
from evenhand.org import service as org_service
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import feature_text, label, source_label
from evenhand.web.layout import LEAD_SIDE, LEAD_WORK, Tr, shell

PAGE_SIZE = 500
BANDS = {"all": (None, None), "high": (80, None), "medium": (40, 79), "low": (None, 39)}
BAND_LABELS = {"all": N_("All scores"), "high": N_("High (80+)"), "medium": N_("Medium (40–79)"),
               "low": N_("Low (<40)")}
COLUMNS = (("score", N_("Score")), ("company", N_("Company")), ("source", N_("Source")),
           ("industry", N_("Industry")), ("region", N_("Region")), ("status", N_("Status")), ("owner", N_("Owner")),
           ("created", N_("Created")))


def score_colour(score: int | None) -> str:
    if score is None:
        return "grey"
    return "positive" if score >= 80 else "warning" if score >= 40 else "blue-grey"


def _row(lead: Lead, owner: str | None, regions: dict[str, str], tr: Tr, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": lead.id, "company": lead.company, "source": tr(source_label(lead.source)),
            "industry": lead.industry or "", "region": regions.get(lead.region or "", lead.region or ""),
            "score": lead.score, "colour": score_colour(lead.score), "status": tr(label(lead.status)),
            "owner": owner or "", "created": local(lead.created_at, zone).strftime("%Y-%m-%d %H:%M")}


def _query(principal: Principal, f: LeadFilter, tr: Tr) -> tuple[list[dict[str, Any]], int]:
    zone = get_settings().zone
    with session_scope(context.engine(), readonly=True) as session:
        stmt = repository.listing(principal, f, zone)
        total = repository.count(session, stmt)
        regions = org_service.region_names(session)
        rows = [_row(lead, owner, regions, tr, zone)
                for lead, owner in repository.with_owner_names(session, stmt, limit=PAGE_SIZE)]
    return rows, total


def _choices() -> tuple[list[str], dict[str, str]]:
    with session_scope(context.engine(), readonly=True) as session:
        return repository.sources(session), org_service.region_names(session)


def leads_list(principal: Principal, tr: Tr, request: Request) -> None:
    sources, regions = _choices()
    with shell(principal, tr, title=tr("Leads"), path="/leads"):
        state: dict[str, Any] = {"q": None, "source": None, "region": None, "status": None, "band": "all"}
        with ui.row().classes("items-end gap-3 w-full"):
            ui.input(tr("Company or contact"), on_change=lambda e: _set(state, "q", e.value, refresh)).props(
                'clearable dense debounce=400 data-testid="lead-search"')
            ui.select({s: tr(source_label(s)) for s in sources}, label=tr("Source"), clearable=True,
                      on_change=lambda e: _set(state, "source", e.value, refresh)).classes("w-40")
            ui.select(regions, label=tr("Region"), clearable=True,
                      on_change=lambda e: _set(state, "region", e.value, refresh)).classes("w-32")
            ui.select({s.value: tr(label(s)) for s in LeadStatus}, label=tr("Status"), clearable=True,
                      on_change=lambda e: _set(state, "status", e.value, refresh)).classes("w-32")
            ui.toggle({k: tr(v) for k, v in BAND_LABELS.items()}, value="all",
                      on_change=lambda e: _set(state, "band", e.value, refresh)).props('data-testid="score-band"')

        @ui.refreshable
        def refresh() -> None:
            low, high = BANDS[state["band"]]
            try:
                f = LeadFilter(q=state["q"], source=state["source"], region=state["region"], status=state["status"],
                               score_min=low, score_max=high)
            except ValidationError:
                return
            rows, total = _query(principal, f, tr)
            ui.label(tr("{shown} most recent of {total} leads you can see.", shown=len(rows), total=total)).props(
                'data-testid="lead-count"')
            _table(rows, tr)

        refresh()
    return None


def _set(state: dict[str, Any], key: str, value: Any, refresh: Any) -> None:
    state[key] = value or None if key != "band" else value
    refresh.refresh()


def _table(rows: list[dict[str, Any]], tr: Tr) -> None:
    columns = [{"name": k, "label": tr(text), "field": k, "sortable": True, "align": "left"} for k, text in COLUMNS]
    table = ui.table(columns=columns, rows=rows, row_key="id", pagination=25).classes("w-full")
    table.add_slot("body-cell-score", """
        <q-td :props="props">
          <q-badge :color="props.row.colour" :label="props.value ?? '—'" class="text-bold" />
        </q-td>""")
    table.add_slot("body-cell-company", """
        <q-td :props="props"><a :href="'/leads/' + props.row.id" class="text-primary">{{ props.value }}</a></q-td>""")


def lead_detail(principal: Principal, tr: Tr, request: Request, lead_id: int) -> None:
    zone = get_settings().zone
    with session_scope(context.engine(), readonly=True) as session:
        view = service.lead_view(session, principal, lead_id)
        regions = org_service.region_names(session)
        if view is not None:
            notify.acknowledge_lead(session, lead_id, principal.user_id)  # the owner has seen it
    with shell(principal, tr, title=view.lead.company if view else tr("Lead not found"), path="/leads"):
        if view is None:
            ui.label(tr("This lead does not exist or is not yours to see.")).classes("text-grey-7")
            return None
        with ui.row().classes("w-full gap-6 items-start"):
            with ui.column().classes("gap-2 w-80"):
                _facts(view.lead, view.owner, regions, tr, zone)
                _outcome(principal, view.lead, tr, zone)
                LEAD_SIDE.draw(principal, tr, lead_id)
            with ui.column().classes("gap-4"):
                _explanation(view.lead, view.explanation, tr)
                _predictive(view.predictive, tr)
            _timeline(view.events, tr, zone)
        with ui.row().classes("w-full gap-6 items-start"):
            LEAD_WORK.draw(principal, tr, lead_id)
    return None


def _facts(lead: Lead, owner: str | None, regions: dict[str, str], tr: Tr, zone: ZoneInfo) -> None:
    when = lambda at: local(at, zone).strftime("%Y-%m-%d %H:%M") if at else "—"  # noqa: E731
    facts = ((N_("Contact"), lead.contact_name), (N_("Title"), lead.title), (N_("Email"), lead.email),
             (N_("Phone"), lead.phone), (N_("Industry"), lead.industry),
             (N_("Region"), regions.get(lead.region or "", lead.region)),
             (N_("Employees"), lead.company_size), (N_("Source"), tr(source_label(lead.source))),
             (N_("Status"), tr(label(lead.status))), (N_("Owner"), owner),
             (N_("Created"), when(lead.created_at)), (N_("Assigned"), when(lead.assigned_at)),
             (N_("First response"), when(lead.first_response_at)))
    with ui.card().classes("w-80").props('data-testid="lead-facts"'):
        with ui.row().classes("items-center gap-3"):
            ui.badge(str(lead.score if lead.score is not None else "—"), color=score_colour(lead.score)).classes(
                "text-h5 q-pa-sm").props('data-testid="lead-score"')
            ui.label(tr("Lead score")).classes("text-grey-7")
        for name, value in facts:
            with ui.row().classes("w-full justify-between"):
                ui.label(tr(name)).classes("text-grey-7")
                ui.label("—" if value in (None, "") else str(value))
        if lead.duplicate_of_id:
            ui.link(tr("Possible duplicate of lead {id}", id=lead.duplicate_of_id), f"/leads/{lead.duplicate_of_id}")
        if lead.backfilled:
            ui.label(tr("Imported from history: not routed, nobody was notified.")).classes("text-grey-7").props(
                'data-testid="backfilled"')


def _outcome(principal: Principal, lead: Lead, tr: Tr, zone: ZoneInfo) -> None:
    """What became of the lead, and (for whoever may write) the buttons that record it."""
    with ui.card().classes("w-80").props('data-testid="lead-outcome"'):
        ui.label(tr("Outcome")).classes("text-subtitle1")
        if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
            when = local(lead.closed_at, zone).strftime("%Y-%m-%d %H:%M") if lead.closed_at else "—"
            ui.label(tr("{outcome} on {when}", outcome=tr(label(lead.status)), when=when)).props(
                'data-testid="outcome-text"')
            if lead.disqualify_reason:
                ui.label(tr("Reason: {reason}", reason=lead.disqualify_reason)).classes("text-grey-7")
        else:
            ui.label(tr("Still open.")).classes("text-grey-7")
        if not principal.can_write:
            return
        with ui.row().classes("gap-2"):
            ui.button(tr("Converted"), on_click=lambda: _record(principal, lead.id, "converted", None, tr)).props(
                'flat color=positive data-testid="mark-converted"')
            reason = ui.input(tr("Reason")).props('dense data-testid="disqualify-reason"').classes("w-40")
            ui.button(tr("Disqualify"), on_click=lambda: _record(principal, lead.id, "disqualified",
                                                                 reason.value.strip() or None, tr)).props(
                'flat color=negative data-testid="mark-disqualified"')


def _record(principal: Principal, lead_id: int, outcome: str, reason: str | None, tr: Tr) -> None:
    try:
        data = LeadOutcomeSet.model_validate({"outcome": outcome, "reason": reason})
        with session_scope(context.engine()) as session:
            outcomes.set_outcome(session, principal, lead_id, data)
    except (ValidationError, DomainError) as exc:
        ui.notify(problem(exc, tr), type="negative")
        return
    ui.navigate.reload()


def _explanation(lead: Lead, lines: list[dict[str, Any]], tr: Tr) -> None:
    """Line by line, as the rep reads it: each rule that fired and its points; caps and the clamp shown too."""
    with ui.card().classes("w-96").props('data-testid="score-explanation"'):
        ui.label(tr("Why this score")).classes("text-h6")
        if not lines:
            ui.label(tr("Not scored yet.")).classes("text-grey-7")
            return
        ui.label(tr("Model version {version}", version=lead.score_model_version)).classes("text-caption text-grey-7")
        for line in lines:
            points = float(line["points"])
            with ui.row().classes("w-full justify-between no-wrap").props(f'data-rule="{line["rule_id"]}"'):
                ui.label(tr(line["label"])).classes("text-italic" if line["kind"] != "rule" else "")
                ui.label(f"{points:+.1f}").classes("text-positive" if points >= 0 else "text-negative")
        with ui.row().classes("w-full justify-between text-weight-bold"):
            ui.label(tr("Score"))
            ui.label(str(lead.score))


def _predictive(view: dict[str, Any] | None, tr: Tr) -> None:
    """The predictive model's opinion beside the rule score: its probability and what moved it."""
    if view is None:
        return
    with ui.card().classes("w-96").props('data-testid="predictive-view"'):
        ui.label(tr("Predictive model: {p}% likely to convert", p=round(100 * view["probability"]))).classes(
            "text-subtitle1")
        for title, items in ((N_("Pushed up by"), view["up"]), (N_("Pushed down by"), view["down"])):
            if not items:
                continue
            ui.label(tr(title)).classes("text-caption text-grey-7")
            for item in items:
                with ui.row().classes("w-full justify-between no-wrap"):
                    ui.label(feature_text(item["feature"], item["value"], tr))
                    ui.label(f"{100 * item['delta']:+.1f}").classes(
                        "text-positive" if item["delta"] > 0 else "text-negative")


def _timeline(events: list[BehaviourEvent], tr: Tr, zone: ZoneInfo) -> None:
    with ui.card().classes("grow").props('data-testid="behaviour-timeline"'):
        ui.label(tr("Behaviour")).classes("text-h6")
        if not events:
            ui.label(tr("No behaviour recorded.")).classes("text-grey-7")
            return
        with ui.timeline(side="right"):
            for event in events:
                dwell = tr("{seconds} s on page", seconds=event.dwell_seconds) if event.dwell_seconds else ""
                ui.timeline_entry(" ".join(x for x in (event.detail or "", dwell) if x),
                                  title=tr(label(event.kind)),
                                  subtitle=local(event.occurred_at, zone).strftime("%Y-%m-%d %H:%M"))


def register() -> None:
    ui.page("/leads")(context.page(leads_list))
    ui.page("/leads/{lead_id}")(context.page(lead_detail))
