"""``evenhand monitor``: the KPI series, the definitions and the scan for anomalies. Each command opens its own unit
of work and calls the monitor's service; a refused document lists every problem with its line and exits with 1,
having changed nothing."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, plural, t
from evenhand.kit import documentcli, terminal
from evenhand.kit.clihelp import Typer

monitor_app = Typer(help=N_("KPI monitoring: refresh the daily series, scan them for anomalies, and the KPI "
                            "definitions."), no_args_is_help=True)
definitions_app = Typer(help=N_("The KPI definitions (YAML) and their versions."), no_args_is_help=True)
monitor_app.add_typer(definitions_app, name="definitions")
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of a sentence"))]
out, err = Console(), Console(stderr=True)
READING = N_("Refreshing the KPI series")
SOURCES = {"leads": N_("Leads"), "notifications": N_("Notifications"), "decisions": N_("Routing decisions"),
           "alerts": N_("Alerts"), "stage_exits": N_("Stage exits"), "compliance": N_("Stage standards")}


@monitor_app.command("refresh", help=N_("Bring the daily KPI series up to date: each source's points are recomputed "
                                        "from the first day its facts changed since the last refresh."))
def refresh(until: Annotated[str | None, typer.Option(
        help=N_("The series end this day (YYYY-MM-DD); default today"))] = None,
            full: Annotated[bool, typer.Option("--full", help=N_("Rebuild every point from the first fact"))] = False,
            as_json: AsJson = False, db: Db = None) -> None:
    last = terminal.day(err, until, "--until") if until else None
    result = _refreshed(last, full, as_json, db)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    out.print(t(plural(result["points"], N_("{count} point written under KPI definitions version {version}, series "
                                           "through {last} ({seconds} s)."),
                       N_("{count} points written under KPI definitions version {version}, series through {last} "
                          "({seconds} s).")), count=result["points"], version=result["version"],
                last=result["last"], seconds=result["seconds"]))


def _refreshed(until: date | None, full: bool, as_json: bool, db: str | None) -> dict[str, Any]:
    from evenhand.monitor import service

    bar = terminal.progress_bar(err if as_json else out, transient=True)
    with bar, session_scope(_engine(db)) as session:
        task = bar.add_task(t(READING), total=None)

        def progress(source: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=t(SOURCES.get(source, READING)))

        return service.refresh(session, until=until, full=full, progress=progress).as_dict()


def _definitions() -> tuple[Any, Any]:
    from evenhand.monitor import kpis, service

    return kpis.KPIS, service.save


documentcli.add(definitions_app, _definitions, show_as="show", show_help=N_(
    "Print a version of the KPI definitions (YAML) with its number and note."), set_as="set",
    set_help=N_("Validate KPI definitions and save them as the next active version."),
    file_help=N_("YAML KPI definitions"))


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
