"""``evenhand alerts``: scan now, list the live alerts, and the rules and their versions. Each command opens its own
unit of work and calls the alerts service; a refused document lists every problem with its line and exits with 1,
having changed nothing."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, t
from evenhand.kit import documentcli
from evenhand.kit.clihelp import Typer
from evenhand.models import Role

alerts_app = Typer(help=N_("Alerts to supervisors: scan, list, and the rules and their versions."),
                   no_args_is_help=True)
rules_app = Typer(help=N_("The alert rules (YAML with CEL conditions) and their versions."), no_args_is_help=True)
alerts_app.add_typer(rules_app, name="rules")
# Commands read every alert, as sales ops would; they act as nobody (the audit log names no author).
OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of a table"))]
out, err = Console(), Console(stderr=True)


@alerts_app.command("scan", help=N_("Judge the rules on what changed since the last scan (every open deal, lead and "
                                    "rep with --full, or when due): open, resolve and bring back alerts, and tell "
                                    "the people concerned."))
def scan(as_json: AsJson = False, full: Annotated[bool, typer.Option(
        "--full", help=N_("Judge every open deal, lead and rep, not only what changed"))] = False,
         db: Db = None) -> None:
    from evenhand.alerts import service

    with session_scope(_engine(db)) as session:
        result = service.scan(session, full=full).as_dict()
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    out.print(t("Rules version {version}: {opened} opened, {resolved} resolved, {woke} back from snooze, {live} live "
                "({seconds} s).", **result))


@alerts_app.command("list", help=N_("The live alerts (snoozed ones included), newest first."))
def list_alerts(limit: Annotated[int, typer.Option(help=N_("At most this many"))] = 50, as_json: AsJson = False,
                db: Db = None) -> None:
    from evenhand.alerts import service

    with session_scope(_engine(db), readonly=True) as session:
        found = service.listed(session, OPERATOR, include_snoozed=True, limit=limit)
        names = service.rep_names(session, found)
        rows = [{"id": a.id, "rule": a.rule, "entity": a.entity_type, "entity_id": a.entity_id,
                 "rep": names.get(a.rep_id or 0), "status": a.status.value, "opened_at": a.opened_at.isoformat(),
                 "subject": a.evidence.get("subject")} for a in found]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    out.print(_table(rows))


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in (N_("Alert"), N_("Rule"), N_("Concerns"), N_("Rep"), N_("Status"), N_("Opened")):
        table.add_column(t(column))
    for row in rows:
        table.add_row(str(row["id"]), row["rule"], f"{row['entity']} {row['entity_id']} {row['subject'] or ''}",
                      row["rep"] or "—", row["status"], row["opened_at"][:16])
    return table


def _rules() -> tuple[Any, Any]:
    from evenhand.alerts import service

    return service.RULES, service.save


documentcli.add(rules_app, _rules, show_as="show", show_help=N_(
    "Print a version of the alert rules (YAML) with its number and note."), set_as="set",
    set_help=N_("Validate alert rules and save them as the next active version."), file_help=N_("YAML alert rules"))


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
