"""``evenhand changes``: the change registry. Enter a change with its impact checklist and monitors, list and show the
registry, release a change and roll it back. Each command opens its own unit of work and calls the registry's
service; a refusal prints every problem and exits with 1, having changed nothing. Commands act as nobody (the audit
log names no author) and read the registry as sales ops would."""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError, describe
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import local
from evenhand.models import ChangeStatus, Role
from evenhand.monitor import changes
from evenhand.monitor.change_schemas import QUESTIONS, ChangeCreate, ChangeDetail, Rollback

changes_app = Typer(help=N_("The change registry: record a change, fill its impact checklist, release it."),
                    no_args_is_help=True)
OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print JSON instead of text"))]
ChangeId = Annotated[int, typer.Argument(min=1, help=N_("The change's id"))]
MONITOR = re.compile(r"^(?P<kpi>[a-z0-9_]+)(?:(?P<side>[<>])(?P<line>-?\d+(?:\.\d+)?))?$")
out, err = Console(), Console(stderr=True)


@changes_app.command("add", help=N_("Enter a planned change: what changes, the metrics it may move, the KPIs watched "
                                    "for it and the impact checklist's answers so far."))
def add(title: Annotated[str, typer.Option("--title", help=N_("What changes, in a line"))],
        kind: Annotated[str, typer.Option("--kind", help=N_("release, config, campaign, integration or other"))],
        system: Annotated[str, typer.Option("--system", help=N_("The system that changes: crm, mobile_app, …"))],
        description: Annotated[str, typer.Option("--description", help=N_("More about it"))] = "",
        effective_at: Annotated[str | None, typer.Option("--effective-at", help=N_(
            "When it takes effect, like 2026-08-15T22:00 (the company's zone unless an offset is given); "
            "default now"))] = None,
        metric: Annotated[list[str] | None, typer.Option("--metric", help=N_(
            "A business metric it may move (repeatable); a KPI id needs a monitor before the release"))] = None,
        monitor: Annotated[list[str] | None, typer.Option("--monitor", help=N_(
            "A KPI to watch (repeatable), with its own alert line if wanted: first_response_p90>4, "
            "lead_conversion<0.08"))] = None,
        answer: Annotated[list[str] | None, typer.Option("--answer", help=N_(
            "An answer to the impact checklist as question=text (repeatable); the questions: user_change, "
            "business_metrics, affected_scope, watch_plan, rollback_plan, follow_up_owner"))] = None,
        as_json: AsJson = False, db: Db = None) -> None:
    data = _valid(ChangeCreate, title=title, kind=kind, system=system, description=description,
                  effective_at=_moment(effective_at, "--effective-at") if effective_at else None,
                  affected_metrics=metric or [], monitors=[_monitor(m) for m in monitor or []],
                  checklist=dict(_answer(a) for a in answer or []))
    shown = _write(db, lambda session: changes.add(session, data, actor=None))
    if as_json:
        _print_json(shown)
        return
    out.print(t("Change {id} added: planned.", id=shown.id))
    _print_missing(shown)


@changes_app.command("list", help=N_("The registry, newest first: changes entered by hand and evenhand's own "
                                     "configuration saves."))
def list_changes(since: Annotated[str | None, typer.Option("--since", help=N_(
                     "Only changes effective on or after this day, like 2026-08-01"))] = None,
                 status: Annotated[ChangeStatus | None, typer.Option("--status", help=N_(
                     "planned, released or rolled_back"))] = None,
                 limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=N_("At most this many"))] = 200,
                 as_json: AsJson = False, db: Db = None) -> None:
    first = _day(since, "--since") if since else None
    with session_scope(_engine(db), readonly=True) as session:
        found = changes.listed(session, OPERATOR, status=status, since=first, limit=limit, zone=get_settings().zone)
        active = changes.active_kpi_ids(session)
        rows = [changes.view(e, active) for e in found]
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False) + "\n")
        return
    out.print(_table(rows) if rows else t("No changes recorded."))


@changes_app.command("show", help=N_("One change: what it says, its checklist, monitors and history, and what it "
                                     "still needs before its release."))
def show(change_id: ChangeId, as_json: AsJson = False, db: Db = None) -> None:
    try:
        with session_scope(_engine(db), readonly=True) as session:
            shown = changes.detail(session, OPERATOR, changes.get(session, OPERATOR, change_id))
    except DomainError as exc:
        _refuse(exc)
    if as_json:
        _print_json(shown)
        return
    _print_detail(shown)


@changes_app.command("release", help=N_("Mark a planned change released: refused, naming what is missing, until every "
                                        "checklist question is answered and its monitors watch active KPIs."))
def release(change_id: ChangeId, db: Db = None) -> None:
    shown = _write(db, lambda session: changes.release(session, change_id, actor=None))
    out.print(t("Change {id} released.", id=shown.id))


@changes_app.command("rollback", help=N_("Mark a released change rolled back, with the reason."))
def rollback(change_id: ChangeId, reason: Annotated[str, typer.Option("--reason", help=N_("Why it is rolled back"))],
             db: Db = None) -> None:
    data = _valid(Rollback, reason=reason)
    shown = _write(db, lambda session: changes.roll_back(session, change_id, reason=data.reason, actor=None))
    out.print(t("Change {id} rolled back.", id=shown.id))


# --- reading the options ------------------------------------------------------------------------------------------


def _valid(model: type[Any], **values: Any) -> Any:
    """The options as the API would take them; every problem printed, naming its field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"[red]{'.'.join(map(str, error['loc']))}: {describe(error)}[/red]")
        raise typer.Exit(code=1) from None


def _moment(text: str, option: str) -> datetime:
    """A time as typed; without an offset it is the company's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        terminal.fail(err, t("{option}: {value} is not a date and time like 2026-08-15T22:00.", option=option,
                             value=text))
    return moment if moment.tzinfo else moment.replace(tzinfo=get_settings().zone)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        terminal.fail(err, t("{option}: {value} is not a day like 2026-08-01.", option=option, value=text))


def _monitor(text: str) -> dict[str, Any]:
    found = MONITOR.match(text.strip())
    if found is None:
        terminal.fail(err, t("--monitor {value}: write a KPI id, with its alert line if wanted: first_response_p90>4 "
                             "or lead_conversion<0.08.", value=text))
    side = {">": "above", "<": "below"}.get(found["side"] or "")
    return {"kpi": found["kpi"], **({side: float(found["line"])} if side else {})}


def _answer(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        terminal.fail(err, t("--answer {value}: write question=answer; the questions: {questions}.", value=text,
                             questions=", ".join(QUESTIONS)))
    return key.strip(), value


# --- writing and printing -----------------------------------------------------------------------------------------


def _write(db: str | None, write: Any) -> ChangeDetail:
    try:
        with session_scope(_engine(db)) as session:
            return changes.detail(session, OPERATOR, write(session))
    except DomainError as exc:
        _refuse(exc)


def _refuse(exc: DomainError) -> NoReturn:
    """The refusal, then the other problems under it (a release names everything it lacks; the first is the
    refusal's own message)."""
    err.print(f"[red]{t(exc.message, **exc.params)}[/red]")
    for detail in (exc.details or [])[1:]:
        err.print(f"  {detail['message']}")
    raise typer.Exit(code=1) from exc


def _print_json(shown: BaseModel) -> None:
    sys.stdout.write(json.dumps(shown.model_dump(mode="json"), ensure_ascii=False) + "\n")


def _print_missing(shown: ChangeDetail) -> None:
    if shown.missing:
        out.print(t("Before its release it needs:"))
    for missing in shown.missing:
        out.print(f"  {missing.message}")


def _when(at: datetime | None) -> str:
    return local(at, get_settings().zone).strftime("%Y-%m-%d %H:%M") if at else "—"


def _system(system: str, source: str) -> str:
    return t(changes.SYSTEM_LABELS[system]) if source == "config" and system in changes.SYSTEM_LABELS else system


def _table(rows: list[Any]) -> Table:
    table = Table()
    for column in (N_("Change"), N_("Effective"), N_("Status"), N_("Kind"), N_("System"), N_("What changes")):
        table.add_column(t(column))
    for row in rows:
        table.add_row(str(row.id), _when(row.effective_at), t(changes.STATUS_LABELS[row.status]),
                      t(changes.KIND_LABELS.get(row.kind, N_("Other"))), _system(row.system, row.source), row.title)
    return table


def _print_detail(shown: ChangeDetail) -> None:
    out.print(f"[bold]{shown.id} · {shown.title}[/bold]")
    out.print(t("{status} · {kind} · {system} · effective {when}", status=t(changes.STATUS_LABELS[shown.status]),
                kind=t(changes.KIND_LABELS.get(shown.kind, N_("Other"))), system=_system(shown.system, shown.source),
                when=_when(shown.effective_at)))
    if shown.description:
        out.print(shown.description)
    out.print(t("May affect: {metrics}", metrics=", ".join(shown.affected_metrics) or "—"))
    out.print(t("Monitors: {monitors}", monitors=", ".join(map(_watched, shown.monitors)) or "—"))
    for key, question in QUESTIONS.items():
        out.print(f"{t(question)} {shown.checklist.get(key) or '—'}")
    _print_missing(shown)
    for done in shown.history:
        out.print(t("{when} {action} by {who}", when=_when(done.at), action=t(changes.DONE_LABELS[done.action]),
                    who=done.actor or "—") + (f": {done.reason}" if done.reason else ""))


def _watched(monitor: dict[str, Any]) -> str:
    line = (f" > {monitor['above']}" if monitor.get("above") is not None else "") + (
        f" < {monitor['below']}" if monitor.get("below") is not None else "")
    return f"{monitor['kpi']}{line}"


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
