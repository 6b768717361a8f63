"""``evenhand routing replay``: the what-if replay from the command line, as tables or one JSON object."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from evenhand.i18n import N_, t

PolicyFile = Annotated[Path, typer.Option("--policy", help="The candidate policy (YAML)")]
From = Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (the organisation's local date)")]
To = Annotated[str, typer.Option("--to", help="Last day, inclusive, YYYY-MM-DD (at most 92 days)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables")]
Db = Annotated[str | None, typer.Option("--db", help="Database URL; default: the configured database")]
SIDES = (("current", N_("Active policy")), ("candidate", N_("Candidate")))


def replay_command(policy: PolicyFile, start: From, end: To, as_json: AsJson = False, db: Db = None) -> None:
    """Replay the leads of a date range under a candidate policy and the active one, side by side."""
    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.routing import whatif

    out, err = Console(), Console(stderr=True)
    first, last = _day(start, "--from", err), _day(end, "--to", err)
    if not policy.exists():
        _fail(err, t("No such file: {path}", path=str(policy)))
    try:
        with _progress(err) as bar, session_scope(get_engine(db) if db else None, readonly=True) as session:
            task = bar.add_task(t(whatif.STAGES["read"]), total=None)
            result = whatif.replay(session, policy.read_text(encoding="utf-8"), start=first, end=last,
                                   progress=lambda stage, done, total: bar.update(
                                       task, completed=done, total=total, description=t(whatif.STAGES[stage])))
    except DomainError as exc:
        err.print(f"[red]{t(exc.message, **exc.params)}[/red]")
        for detail in (exc.details or [])[:50]:
            err.print(t("  line {line}, {field}: {message}", **detail))
        raise typer.Exit(code=1) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    _print(out, result)


def _day(value: str, option: str, err: Console) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(err, t("{option} must be a date like 2026-11-01.", option=option))


def _fail(err: Console, message: str) -> NoReturn:
    err.print(f"[red]{message}[/red]")
    raise typer.Exit(code=1)


def _progress(err: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=err)


def _print(out: Console, result: dict[str, Any]) -> None:
    current = result["policies"]["current"]
    out.print(t("{leads} leads from {start} to {end}: active policy version {version} against the candidate "
                "({seconds} s).", leads=result["leads"], start=result["from"], end=result["to"],
                version=current["version"], seconds=result["seconds"]), style="bold")
    out.print(_reps(result))
    out.print(_teams(result))
    out.print(_totals(result))
    out.print(result["estimator"]["description"], style="dim")


def _reps(result: dict[str, Any]) -> Table:
    table = Table(title=t("Leads per rep (high-value in brackets) and expected conversions"))
    for column in (N_("Rep"), N_("Team"), N_("Owns today"), N_("Active policy"), N_("Candidate"), N_("Change"),
                   N_("Expected conversions")):
        table.add_column(t(column), justify="left" if column in ("Rep", "Team") else "right")
    for row in result["reps"]:
        a, b, d = row["current"], row["candidate"], row["difference"]
        table.add_row(row["name"], row["team"], str(row["actual"]), f"{a['leads']} ({a['high_value']})",
                      f"{b['leads']} ({b['high_value']})", f"{d['leads']:+d} ({d['high_value']:+d})",
                      f"{a['expected_conversions']:.1f} → {b['expected_conversions']:.1f}")
    return table


def _teams(result: dict[str, Any]) -> Table:
    table = Table(title=t("Fairness per team: chi-square against the policy's expected shares, Gini of lead value"))
    table.add_column(t("Team"))
    for _, label in SIDES:
        table.add_column(t("{side}: p-value", side=t(label)), justify="right")
        table.add_column(t("{side}: Gini", side=t(label)), justify="right")
    for row in result["teams"]:
        cells = []
        for side, _ in SIDES:
            figures = row[side] or {}
            chi = figures.get("chi_square")
            cells += [f"{chi['p_value']:.3f}" if chi else "—", f"{figures['gini']:.3f}" if figures else "—"]
        table.add_row(row["team"] or "—", *cells)
    return table


def _totals(result: dict[str, Any]) -> Table:
    table = Table(title=t("Totals"))
    table.add_column(t("Figure"))
    for _, label in SIDES:
        table.add_column(t(label), justify="right")
    table.add_column(t("Change"), justify="right")
    diff = result["difference"]
    for key, label in (("assigned", N_("Leads assigned")), ("held", N_("Still held at the end")),
                       ("high_value", N_("High-value leads assigned")),
                       ("expected_conversions", N_("Expected conversions")), ("gini", N_("Gini of lead value"))):
        change = diff.get(key, result["candidate"][key] - result["current"][key])
        table.add_row(t(label), str(result["current"][key]), str(result["candidate"][key]), f"{change:+g}")
    table.add_row(t("Leads that change hands"), "", "", str(diff["moved"]))
    return table
