"""The alert inbox (/alerts), one alert with its evidence and what was done with it (/alerts/{id}), and the rules
editor (/alerts/rules).

The inbox lists the live alerts the viewer reads (a rep their own, a supervisor their teams', staff everyone's),
narrowed to "mine" or "my teams"; snoozed alerts stay out of it until their time. Each alert can be acknowledged
and commented on, and, by the supervisor of the rep's team, sales ops or an admin, snoozed with a reason until a
time or resolved. The editor validates the YAML as it is typed (each problem with its line; a CEL error names the
rule's ``when``) and saves a version with a note; admin and ops edit, everyone else reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request

from evenhand.alerts import service
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local
from evenhand.models import AlertStatus, Stage
from evenhand.web import context, document_editor
from evenhand.web.forms import problem
from evenhand.web.labels import label
from evenhand.web.layout import Tr, shell

PATH = "/alerts"
RULES_PATH = "/alerts/rules"
SEVERITIES = {"info": N_("Info"), "warning": N_("Warning"), "critical": N_("Critical")}
SEVERITY_COLOURS = {"info": "primary", "warning": "warning", "critical": "negative"}
ENTITIES = {"opportunity": N_("Opportunity"), "lead": N_("Lead"), "rep": N_("Rep")}
ACTIONS = {"acknowledged": N_("Acknowledged"), "commented": N_("Commented"), "snoozed": N_("Snoozed"),
           "resolved": N_("Resolved"), "returned": N_("Back from snooze")}
WHY = {"condition": N_("Resolved by itself: the condition no longer holds."),
       "closed": N_("Resolved by itself: the record is closed."),
       "rule_removed": N_("Resolved by itself: the rule was removed.")}
FACTS = {"stage": N_("Stage"), "amount": N_("Amount"), "days_in_stage": N_("Days in stage"),
         "days_since_update": N_("Days since the last update"),
         "consecutive_unanswered_outbound": N_("Contacts in a row without an answer"),
         "standard_missed": N_("Stage standard missed"), "unbacked_flags": N_("Unbacked notes flagged"),
         "duplicate_flags": N_("Near-duplicate notes flagged"), "status": N_("Status"), "score": N_("Score"),
         "first_response_minutes": N_("Minutes to first response"), "responded": N_("Responded")}
SCOPES = {"all": N_("All I read"), "teams": N_("My teams"), "mine": N_("Mine")}


def _zone() -> ZoneInfo:
    return get_settings().zone


def _when(at: datetime | None) -> str:
    return local(at, _zone()).strftime("%Y-%m-%d %H:%M") if at else "—"


def _subject_link(entity: str, entity_id: int) -> str | None:
    return {"opportunity": f"/opportunities/{entity_id}", "lead": f"/leads/{entity_id}"}.get(entity)


def _row(alert: Any, names: dict[int, str]) -> dict[str, Any]:
    """What a card shows, read inside the session."""
    return {"id": alert.id, "rule": alert.rule, "label": alert.evidence.get("rule", {}).get("label", alert.rule),
            "severity": alert.evidence.get("severity", "warning"), "entity": alert.entity_type,
            "entity_id": alert.entity_id, "subject": alert.evidence.get("subject") or "",
            "rep": names.get(alert.rep_id or 0, "—"), "rep_id": alert.rep_id, "status": alert.status,
            "opened": alert.opened_at, "snoozed_until": alert.snoozed_until, "facts": alert.evidence.get("facts", {})}


def inbox_page(principal: Principal, tr: Tr, request: Request) -> None:
    scopes = _scopes(principal)
    with shell(principal, tr, title=tr("Alerts"), path=PATH):
        ui.label(tr("Deals gone quiet, customers not answering, late first responses, missed stage standards and "
                    "flagged notes. Acknowledge, comment, snooze with a reason, or resolve.")).classes("text-grey-7")
        state = {"scope": scopes[0]}
        toggle = ui.toggle({s: tr(SCOPES[s]) for s in scopes}, value=scopes[0]).props('data-testid="alert-scope"')

        @ui.refreshable
        def listing() -> None:
            _listing(principal, tr, state["scope"], listing.refresh)

        toggle.on_value_change(lambda e: (state.update(scope=e.value), listing.refresh()))
        listing()
        if principal.manages_org:
            ui.link(tr("Alert rules"), RULES_PATH).props('data-testid="rules-link"')
    return None


def _scopes(principal: Principal) -> list[str]:
    if principal.reads_everything:
        return ["all", "mine"] if principal.supervised_team_ids == frozenset() else ["all", "teams", "mine"]
    return ["teams", "mine"] if principal.supervised_team_ids else ["mine"]


def _listing(principal: Principal, tr: Tr, scope: str, refresh: Any) -> None:
    with session_scope(context.engine(), readonly=True) as session:
        found = service.listed(session, principal, scope=scope)
        names = service.rep_names(session, found)
        rows = [{**_row(a, names), "may_handle": service.may_handle(session, principal, a)} for a in found]
    counted = plural(len(rows), N_("{count} live alert"), N_("{count} live alerts"))
    ui.label(tr(counted, count=len(rows))).classes("text-subtitle1").props('data-testid="alert-count"')
    if not rows:
        ui.label(tr("No live alerts.")).classes("text-grey-7").props('data-testid="no-alerts"')
    for row in rows:
        _card(principal, tr, row, refresh)


def _card(principal: Principal, tr: Tr, row: dict[str, Any], refresh: Any) -> None:
    with ui.card().classes("w-full max-w-5xl").props(f'data-alert="{row["id"]}" data-rule="{row["rule"]}"'):
        with ui.row().classes("items-center gap-3"):
            ui.badge(tr(SEVERITIES.get(row["severity"], N_("Warning"))),
                     color=SEVERITY_COLOURS.get(row["severity"], "warning"))
            ui.link(row["label"], f"{PATH}/{row['id']}").classes("text-subtitle1 text-weight-bold")
            ui.badge(tr(label(row["status"])), color="grey-7").props(
                f'data-testid="alert-status" data-status="{row["status"].value}"')
        with ui.row().classes("items-center gap-3 text-grey-8"):
            link = _subject_link(row["entity"], row["entity_id"])
            text = f"{tr(ENTITIES[row['entity']])}: {row['subject']}"
            ui.link(text, link) if link else ui.label(text)
            ui.label(tr("Rep: {rep}", rep=row["rep"]))
            ui.label(tr("Opened {when}", when=_when(row["opened"])))
        _facts(tr, row["facts"])
        if row["status"] is not AlertStatus.RESOLVED and principal.can_write:
            _controls(principal, tr, row, refresh)


def _facts(tr: Tr, facts: dict[str, Any]) -> None:
    shown = [f"{tr(FACTS.get(k, k))}: {_value(k, v, tr)}" for k, v in facts.items()]
    ui.label(" · ".join(shown)).classes("text-caption text-grey-7").props('data-testid="alert-facts"')


def _value(fact: str, value: Any, tr: Tr) -> str:
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    if fact == "stage" and value in set(Stage):
        return tr(label(Stage(value)))
    return str(value)


def _controls(principal: Principal, tr: Tr, row: dict[str, Any], refresh: Any) -> None:
    alert_id = row["id"]
    with ui.row().classes("items-end gap-2 w-full"):
        note = ui.input(tr("Comment or reason")).classes("w-72").props('data-testid="alert-comment"')
        until = ui.input(tr("Snooze until")).props('type=datetime-local data-testid="alert-until"')
        until.set_visibility(row["may_handle"])

        def act(kind: str) -> None:
            try:
                with session_scope(context.engine()) as session:
                    _do(session, principal, alert_id, kind, note.value or "", until.value or "")
            except DomainError as exc:
                ui.notify(problem(exc, tr), type="negative")
                return
            ui.notify(tr(DONE[kind]), type="positive")
            refresh()

        if row["status"] is AlertStatus.OPEN:
            ui.button(tr("Acknowledge"), on_click=lambda: act("acknowledge")).props(
                'color=primary data-testid="acknowledge"')
        ui.button(tr("Comment"), on_click=lambda: act("comment")).props('outline data-testid="comment"')
        if row["may_handle"]:  # the supervisor of the rep's team, sales ops, admins
            ui.button(tr("Snooze"), on_click=lambda: act("snooze")).props('outline data-testid="snooze"')
            ui.button(tr("Resolve"), on_click=lambda: act("resolve")).props('color=positive data-testid="resolve"')


DONE = {"acknowledge": N_("Alert acknowledged."), "comment": N_("Comment added."), "snooze": N_("Alert snoozed."),
        "resolve": N_("Alert resolved.")}


def _do(session: Any, principal: Principal, alert_id: int, kind: str, text: str, until: str) -> None:
    if kind == "acknowledge":
        service.acknowledge(session, principal, alert_id, comment=text)
    elif kind == "comment":
        service.comment(session, principal, alert_id, text)
    elif kind == "snooze":
        service.snooze(session, principal, alert_id, until=_until(until), reason=text)
    else:
        service.resolve(session, principal, alert_id, comment=text)


def _until(value: str) -> datetime:
    """The snooze's end as typed (the viewer's local time in the company's zone)."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=_zone())
    except ValueError:
        raise Invalid("Pick the date and time the alert may come back.", field="until") from None


# --- one alert ----------------------------------------------------------------------------------------------------


def alert_page(principal: Principal, tr: Tr, request: Request, alert_id: int) -> None:
    with shell(principal, tr, title=tr("Alert"), path=PATH):

        @ui.refreshable
        def render() -> None:
            _one(principal, tr, alert_id, render.refresh)

        render()
    return None


def _one(principal: Principal, tr: Tr, alert_id: int, refresh: Any) -> None:
    try:
        with session_scope(context.engine(), readonly=True) as session:
            alert = service.visible(session, principal, alert_id)
            row = {**_row(alert, service.rep_names(session, [alert])),
                   "may_handle": service.may_handle(session, principal, alert)}
            rule = alert.evidence.get("rule", {})
            history = [(a.action, name or "—", a.comment, a.until, a.at)
                       for a, name in service.actions(session, principal, alert_id)]
    except DomainError as exc:
        ui.label(problem(exc, tr)).classes("text-negative").props('data-testid="alert-missing"')
        return
    _card(principal, tr, row, refresh)
    ui.label(tr("Rule {id}, version {version}: {when}", id=row["rule"], version=alert.rule_version,
                when=rule.get("when", ""))).classes("text-caption text-grey-7 font-mono").props(
        'data-testid="alert-rule"')
    _history(tr, history)


def _history(tr: Tr, history: list[tuple[str, str, str, datetime | None, datetime]]) -> None:
    ui.label(tr("What was done")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("at", N_("When")), ("action", N_("Action")), ("actor", N_("By")), ("comment", N_("Comment")),
        ("until", N_("Until")))]
    rows = [{"i": i, "at": _when(at), "action": tr(ACTIONS.get(action, action)),
             "actor": actor if actor != "—" or action != "resolved" else tr("the alert itself"),
             "comment": tr(WHY[comment]) if action == "resolved" and comment in WHY else comment,
             "until": _when(until) if until else ""} for i, (action, actor, comment, until, at) in enumerate(history)]
    ui.table(columns=columns, rows=rows, row_key="i").classes("w-full max-w-5xl").props(
        'dense flat bordered data-testid="alert-actions"')


# --- the rules editor ---------------------------------------------------------------------------------------------


RULES = document_editor.Document(
    key="rules", title=N_("Alert rules"), active_label=N_("Active alert rules: version {version}"),
    valid=N_("The rules are valid."), name_column=N_("Rules name"), active=service.RULES.active,
    history=service.RULES.history, validate=service.RULES.validate, save=service.save)


def rules_page(principal: Principal, tr: Tr) -> None:
    document_editor.page(principal, tr, RULES, nav=PATH)


def register() -> None:
    ui.page(RULES_PATH)(context.page(rules_page))  # before /alerts/{alert_id}: "rules" is not an alert's id
    ui.page(PATH)(context.page(inbox_page))
    ui.page(PATH + "/{alert_id}")(context.page(alert_page))
