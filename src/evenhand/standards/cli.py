"""``evenhand standards``: the stage standards and their versions, and compliance figures, from the command line.
Each command opens its own unit of work and calls the standards service; a refused document lists every problem
with its line and exits with 1, having changed nothing."""

from __future__ import annotations

import json
import sys
from datetime import datetime, time, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import documentcli, terminal
from evenhand.kit.clihelp import Typer
from evenhand.models import Role

standards_app = Typer(help=N_("Stage action standards: the document and its versions, and compliance with it."),
                      no_args_is_help=True)
# Commands read every record, as sales ops would; they act as nobody (the audit log names no author).
OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
out, err = Console(), Console(stderr=True)


def _standards() -> tuple[Any, Any]:
    from evenhand.standards import service

    return service.STANDARDS, service.save


documentcli.add(standards_app, _standards, show_as="show", show_help=N_(
    "Print a version of the stage standards (YAML) with its number and note."), set_as="set",
    set_help=N_("Validate stage standards and save them as the next active version."),
    file_help=N_("YAML stage standards"))


@standards_app.command("check", help=N_("Compliance with the active standards: the share of first contacts and stage "
                                         "entries met on time, overall, per stage, team and rep."))
def check(rep: Annotated[str | None, typer.Option(help=N_("Only this rep (username, e-mail or external id)"))] = None,
          team: Annotated[str | None, typer.Option(help=N_("Only this team (its name)"))] = None,
          since: Annotated[str | None, typer.Option(help=N_("First day, YYYY-MM-DD; default 30 days ago"))] = None,
          until: Annotated[str | None, typer.Option(help=N_("Last day, inclusive, YYYY-MM-DD; default today"))] = None,
          as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))] = False,
          db: Db = None) -> None:
    from evenhand.kit.clock import utcnow
    from evenhand.standards import service

    zone = get_settings().zone
    now = utcnow()
    first = terminal.day(err, since, "--since") if since else (now.astimezone(zone) - timedelta(days=30)).date()
    end = datetime.combine(terminal.day(err, until, "--until") + timedelta(days=1), time.min, zone) if until else now
    try:
        with session_scope(_engine(db), readonly=True) as session:
            rep_id, team_id = _who(session, rep, team)
            result = service.figures(session, OPERATOR, since=datetime.combine(first, time.min, zone),
                                     until=min(end, now), now=now, rep_id=rep_id, team_id=team_id)
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps(result, default=str, ensure_ascii=False, indent=2) + "\n")
        return
    _print(result)


def _who(session: Any, rep: str | None, team: str | None) -> tuple[int | None, int | None]:
    from evenhand.org import service as org_service

    rep_id = team_id = None
    if rep:
        rep_id = org_service.people_by_key(session, {rep}).get(rep)
        if rep_id is None:
            terminal.fail(err, t("No rep {rep}.", rep=rep))
    if team:
        team_id = next((i for i, name in org_service.team_names(session).items() if name == team), None)
        if team_id is None:
            terminal.fail(err, t("No team {team}.", team=team))
    return rep_id, team_id


COLUMNS = (N_("Entries"), N_("Judged"), N_("Met on time"), N_("Met late"), N_("Overdue"), N_("Missed"), N_("Open"),
           N_("Share on time"))


def _print(result: dict[str, Any]) -> None:
    out.print(t("Clocks started from {since} to {until}, standards version {version}.", since=result["since"],
                until=result["until"], version=result["version"]), style="bold")
    out.print(_table(t("Overall"), [("", result["overall"])]))
    out.print(_table(t("Stage"), sorted(result["stages"].items())))
    out.print(_table(t("Team"), [(row["team"] or "—", row) for row in result["teams"]]))
    out.print(_table(t("Rep"), [(row["rep"], row) for row in result["reps"]]))


def _table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title)
    table.add_column("")
    for column in COLUMNS:
        table.add_column(t(column), justify="right")
    for name, row in rows:
        share = row["share_on_time"]
        table.add_row(name, *(str(row[k]) for k in ("entries", "judged", "met", "late", "overdue", "missed", "open")),
                      f"{share:.1%}" if share is not None else "—")
    return table


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None



