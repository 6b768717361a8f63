"""``evenhand honesty``: scan the CRM notes of a period for claims nothing captured backs and for near-copies, and
list the flags. Days are the organisation's local dates, both inclusive."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, t
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import local
from evenhand.models import FlagKind, FlagStatus, Role
from evenhand.web.labels import label

honesty_app = Typer(help=N_("Honesty checks on CRM notes: scan a period, list the flags."), no_args_is_help=True)
Since = Annotated[str | None, typer.Option("--since", help=N_("First day, YYYY-MM-DD; default: the last "
                                                              "honesty_scan_days days"))]
Until = Annotated[str | None, typer.Option("--until", help=N_("Last day, inclusive, YYYY-MM-DD; default: now"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))]
out, err = Console(), Console(stderr=True)
# The command line is the operator's: it reads every flag, as sales ops would.
OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(t("{option}: not a date like 2026-11-27: {value}", option=option, value=value), style="red")
        raise typer.Exit(2) from None


def _start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=get_settings().zone)


@honesty_app.command("scan", help=N_("Check the notes written in a period; print the flags by kind: new, open after "
                                     "the scan, closed because the evidence now backs the note."))
def scan(since: Since = None, until: Until = None, as_json: AsJson = False) -> None:
    from evenhand.honesty import service

    first, last = _day(since, "--since"), _day(until, "--until")
    with session_scope(get_engine()) as session:
        result = service.scan(session, since=_start(first), until=_start(last + timedelta(days=1)) if last else None)
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    zone = get_settings().zone
    out.print(t("Scanned {notes} notes written {since} to {until} in {seconds:.1f} s.", notes=result.notes,
                since=local(result.since, zone).strftime("%Y-%m-%d %H:%M"),
                until=local(result.until, zone).strftime("%Y-%m-%d %H:%M"), seconds=result.seconds))
    table = Table()
    for column in (N_("Kind"), N_("New"), N_("Open"), N_("Closed by the scan")):
        table.add_column(t(column))
    for kind in FlagKind:
        table.add_row(t(label(kind)), *(str(c[kind.value]) for c in (result.new, result.open, result.closed)))
    out.print(table)
    out.print(t("Digests sent to supervisors: {count}", count=result.digests))


@honesty_app.command("list", help=N_("The flags, open ones oldest first (any other status newest first)."))
def list_flags(status: Annotated[FlagStatus | None, typer.Option(help=N_("Only flags with this status"))] = None,
               kind: Annotated[FlagKind | None, typer.Option(help=N_("Only flags of this kind"))] = None,
               limit: Annotated[int, typer.Option(min=1, max=10_000, help=N_("At most this many"))] = 200,
               as_json: AsJson = False) -> None:
    from evenhand.honesty import service

    with session_scope(get_engine(), readonly=True) as session:
        rows = [_row(f) for f in service.listed(session, OPERATOR, status=status, kind=kind, limit=limit)]
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=t("Honesty flags"))
    for column in (N_("Flag"), N_("Kind"), N_("Status"), N_("Note"), N_("Rep"), N_("Written"), N_("Text")):
        table.add_column(t(column))
    for r in rows:
        table.add_row(str(r["id"]), t(label(FlagKind(r["kind"]))), t(label(FlagStatus(r["status"]))),
                      str(r["activity_id"]), str(r["rep_id"]), r["written"], r["text"][:60])
    out.print(table)


def _row(flag: Any) -> dict[str, Any]:
    note = flag.evidence.get("note", {})
    written = local(datetime.fromisoformat(note["at"]), get_settings().zone).strftime("%Y-%m-%d %H:%M") \
        if note.get("at") else ""
    return {"id": flag.id, "kind": flag.kind.value, "status": flag.status.value, "activity_id": flag.activity_id,
            "rep_id": flag.rep_id, "written": written, "text": note.get("text", "")}
