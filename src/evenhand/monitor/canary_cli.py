"""``evenhand canary``: a routing policy version serving a share of leads, compared with the active one. Each command
opens its own unit of work and calls the canary service; a refusal names the field or the line and exits with 1,
having changed nothing. Commands act as nobody: the audit log and the change registry name no author."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import local
from evenhand.kit.figures import p_cell

if TYPE_CHECKING:
    from evenhand.monitor.canary import Board, Side

canary_app = Typer(help=N_("Canaries: roll a routing policy out to a share of leads, compare, roll back."),
                   no_args_is_help=True)
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of a table"))]
out, err = Console(), Console(stderr=True)


@canary_app.command("start", help=N_("Route a share of new leads with a candidate policy beside the active one, "
                                     "chosen by a stable hash of the lead."))
def start(
    file: Annotated[Path, typer.Argument(help=N_("The candidate routing policy (YAML)"))],
    share: Annotated[float, typer.Option("--share", help=N_("The share of leads it routes (above 0, at most 0.5)"))],
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help=N_("A metric it may affect (repeat it); default every metric the board compares"))] = None,
    note: Annotated[str, typer.Option(help=N_("What changed and why"))] = "",
    db: Db = None,
) -> None:
    from evenhand.monitor import canary

    body = terminal.read_text(err, file)
    try:
        with session_scope(_engine(db)) as session:
            found = canary.start(session, body, share=share, metrics=metric or [], actor=None, note=note)
            number, version, control, part = found.id, found.version, found.control_version, found.share
    except DomainError as exc:
        terminal.refuse(err, exc, source=file)
    out.print(t("Canary {id} started: policy version {version} routes {share} of new leads, version {control} the "
                "rest.", id=number, version=version, control=control, share=f"{part:.0%}"), style="bold green")


@canary_app.command("status", help=N_("The running canary (else the last one) and its board: each declared metric in "
                                      "both arms, the difference with its 95% interval, and the verdict."))
def status(as_json: AsJson = False, db: Db = None) -> None:
    from evenhand.monitor import canary

    with session_scope(_engine(db), readonly=True) as session:
        found = canary.latest(session)
        board = canary.board(session, found.id) if found else None
    if board is None:
        terminal.fail(err, t("No canary has run yet."))
    if as_json:
        sys.stdout.write(json.dumps(board.as_dict(), ensure_ascii=False) + "\n")
        return
    _print(board)


@canary_app.command("rollback", help=N_("End the running canary: from the next lead on, the active policy routes "
                                        "every lead."))
def rollback(reason: Annotated[str, typer.Option(help=N_("Why it is rolled back"))] = "", db: Db = None) -> None:
    from evenhand.monitor import canary

    try:
        with session_scope(_engine(db)) as session:
            ended = canary.rollback(session, actor=None, reason=reason)
            number, control = ended.id, ended.control_version
    except DomainError as exc:
        terminal.refuse(err, exc)
    out.print(t("Canary {id} rolled back: policy version {version} routes every lead.", id=number, version=control),
              style="bold")


@canary_app.command("promote", help=N_("End the running canary and save its candidate as the next active policy "
                                       "version."))
def promote(note: Annotated[str, typer.Option(help=N_("What changed and why"))] = "", db: Db = None) -> None:
    from evenhand.monitor import canary

    try:
        with session_scope(_engine(db)) as session:
            running = canary.running(session).id
            saved = canary.promote(session, actor=None, note=note).version
    except DomainError as exc:
        terminal.refuse(err, exc)
    out.print(t("Canary {id} promoted: saved as version {version}, which now routes every lead.", id=running,
                version=saved), style="bold green")


def _print(board: Board) -> None:
    from evenhand.monitor import canary

    zone = get_settings().zone
    out.print(t("Canary {id}: policy version {version} on {share} of leads against version {control}, {status}, since "
                "{started}.", id=board.canary_id, version=board.version, share=f"{board.share:.0%}",
                control=board.control_version, status=t(canary.STATUSES[board.status]),
                started=local(board.started_at, zone).strftime("%Y-%m-%d %H:%M")), style="bold")
    out.print(t("Leads: {control} control, {canary} canary.", control=board.leads["control"],
                canary=board.leads["canary"]))
    table = Table()
    for column in (N_("Metric"), N_("Control"), N_("Canary"), N_("Difference (95% interval)"), N_("p"),
                   N_("Always-valid p"), N_("Verdict")):
        table.add_column(t(column))
    for row in board.rows:
        table.add_row(t(row.label), _side(row.control, row.unit), _side(row.canary, row.unit), canary.interval(row, t),
                      "—" if row.p is None else p_cell(row.p),
                      "—" if row.p_always is None else p_cell(row.p_always), t(canary.VERDICTS[row.verdict]))
    out.print(table)
    out.print(t("A verdict needs the always-valid p below 0.05: it may be read at any time without raising false "
                "alarms."), style="dim")


def _side(side: Side, unit: str) -> str:
    from evenhand.monitor.canary import figure

    return t("{value} (n = {n})", value=figure(side.value, unit, t), n=side.n)


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
