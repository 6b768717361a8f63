"""``evenhand changes impact CHANGE_ID``: a change's before/after board in the terminal, read as sales ops would."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.auth.principal import Principal
from evenhand.i18n import N_, t
from evenhand.models import Role

OPERATOR = Principal(user_id=0, username="cli", display_name="cli", role=Role.AUDITOR, via="system")
HELP = N_("A change's before/after board: its declared metrics (and any KPI added) over matched windows before and "
          "after it, with 95% confidence intervals.")
COLUMNS = (N_("Metric"), N_("Before"), N_("After"), N_("Difference"), N_("95% interval"), N_("Verdict"))
out, err = Console(), Console(stderr=True)


def impact(change_id: Annotated[int, typer.Argument(help=N_("The change's id"), min=1)],
           days: Annotated[int, typer.Option(help=N_("Each window's length in days (whole weeks keep the windows "
                                                     "side by side)"))] = 21,
           kpi: Annotated[list[str] | None, typer.Option(help=N_("A KPI to show besides the declared metrics "
                                                                 "(repeat for more)"))] = None,
           as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of a table"))
                              ] = False,
           db: Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))
                         ] = None) -> None:
    """The change's declared metrics (and any KPI added) over the days before and after it, with 95% intervals."""
    from evenhand.config import get_settings
    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import current_locale
    from evenhand.kit import terminal
    from evenhand.monitor import impact as service

    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            found = service.board(session, OPERATOR, change_id, zone=get_settings().zone, days=days, added=kpi or [])
            plain = service.as_dict(found, current_locale())
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps(plain, default=str, ensure_ascii=False, indent=2) + "\n")
        return
    _print(plain)


def _print(plain: dict[str, Any]) -> None:
    out.print(t("{title}: before {before_first} – {before_last}, after {after_first} – {after_last} (the change's "
                "day {day} in neither; figures up to {known}).", title=plain["title"],
                before_first=plain["before"]["first"], before_last=plain["before"]["last"],
                after_first=plain["after"]["first"], after_last=plain["after"]["last"], day=plain["change_day"],
                known=plain["known"]), style="bold")
    table = Table()
    for column in COLUMNS:
        table.add_column(t(column), justify="left" if column in (COLUMNS[0], COLUMNS[-1]) else "right")
    for row in plain["metrics"]:
        table.add_row(*_cells(row))
    out.print(table)


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    from evenhand.monitor import impact as service

    unit, name = row["unit"] or "", row["name"] or row["metric"]
    said = service.status_text(row["status"], row["verdict"], row["ready_on"], t)
    if row["status"] != service.COMPARED:
        return name, "", "", "", "", said
    before, after = service.figure(row["before"], unit, t), service.figure(row["after"], unit, t)
    return (name, before, after, service.moved(row["difference"], row["relative"], unit, t),
            service.interval(row["low"], row["high"], unit, t), said)
