"""``evenhand board``: the process board in the terminal. Each command reads in its own unit of work through the
board's service, as sales ops would (every record)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.models import Role

board_app = Typer(help=N_("The process board: time in stage, conversion, stuck deals, cycle and first response."),
                  no_args_is_help=True)
OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")
out, err = Console(), Console(stderr=True)


@board_app.command("show", help=N_("Print the board for a period beside the one before (default: the last 30 days)."))
def show(team: Annotated[str | None, typer.Option(help=N_("Only this team (its name)"))] = None,
         period: Annotated[str | None, typer.Option(help=N_("A month, YYYY-MM"))] = None,
         region: Annotated[str | None, typer.Option(help=N_("Only this region (code or name)"))] = None,
         product_line: Annotated[str | None, typer.Option("--product-line", help=N_("Only this product line"))] = None,
         as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))] = False,
         db: Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))
                       ] = None) -> None:
    from evenhand.board import service
    from evenhand.kit.clock import utcnow

    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            now = utcnow()
            query = service.Query(service.period(get_settings().zone, month=period, now=now),
                                  service.filters(session, team_id=_team(session, team), region=region,
                                                  product_line=product_line), now)
            found = {**service.board(session, OPERATOR, query), "compliance": service.compliance(session, OPERATOR,
                                                                                                  query)}
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps(found, default=str, ensure_ascii=False, indent=2) + "\n")
        return
    _print(found)


def _team(session: Any, team: str | None) -> int | None:
    from evenhand.org import service as org_service

    if not team:
        return None
    found = next((i for i, name in org_service.team_names(session).items() if name == team), None)
    if found is None:
        terminal.fail(err, t("No team {team}.", team=team))
    return found


def _print(found: dict[str, Any]) -> None:
    from evenhand.board import view

    out.print(t("From {since} to {until}; in brackets the period before, from {before}.", since=found["since"],
                until=found["until"], before=found["previous"]["since"]), style="bold")
    table = Table()
    for _, header in view.STAGE_COLUMNS:
        table.add_column(t(header), justify="left" if _ == "stage" else "right")
    for row in view.stage_rows(found["overall"], found["stages"], t):
        table.add_row(*(row[key] for key, _ in view.STAGE_COLUMNS))
    out.print(table)
    now, before = found["overall"]["current"], found["overall"]["previous"]
    out.print(t("Lead-to-won cycle: {won} won, median {median} days ({before})", won=now["cycle"]["count"],
                median=view.number(now["cycle"]["median"]), before=view.number(before["cycle"]["median"])))
    response = now["first_response"]
    out.print(t("First response: {answered} of {leads} leads answered, median {median} h ({before})",
                answered=response["count"], leads=response["leads"], median=view.number(response["median"]),
                before=view.number(before["first_response"]["median"])))
    compliance = found["compliance"]
    out.print(t("Stage standards met on time: {share} ({before})",
                share=view.share(compliance["current"]["overall"]["share_on_time"]),
                before=view.share(compliance["previous"]["overall"]["share_on_time"])))
