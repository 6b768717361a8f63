"""``evenhand import``: a company's exports through the one intake door. New leads are scored and routed as if
they had just arrived; ``--history`` takes in leads whose outcome is already known: marked as history, never
routed, nobody notified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
import_app = Typer(help=N_("Import data from files."), no_args_is_help=True)
console = Console()
STAGES = {"validated": N_("Checking rows"), "written": N_("Saving leads")}


@import_app.command("leads", help=N_("Import leads, scored and routed like leads that arrive; all or nothing unless "
                                     "--skip-invalid. Row numbers are the spreadsheet's."))
def import_leads(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to lead fields"))],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option(help=N_("Where --skip-invalid writes rejected rows"))] = None,
    history: Annotated[bool, typer.Option(
        "--history", help=N_("Past leads: mark them as history, do not route them or notify anyone"))] = False,
) -> None:
    from evenhand.intake import flows
    from evenhand.leads import importer

    if not mapping.exists():
        terminal.fail(console, t("No such file: {path}", path=str(mapping)))
    try:
        with terminal.progress_bar(console) as bar, session_scope() as session:
            task = bar.add_task(t("Importing leads"), total=None)
            done = flows.take_in_file(
                session, file, mapping.read_text(encoding="utf-8"), actor=None, dedup=get_settings().dedup_keys,
                skip_invalid=skip_invalid, backfilled=history,
                progress=lambda stage, n, total: bar.update(task, completed=n, total=total,
                                                            description=t(STAGES[stage])))
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc
    report = done.read
    console.print(t("{rows}: {created} ({duplicates} linked as duplicates), {existing} already there, {rejected} "
                    "rejected.", rows=t(plural(report.rows, N_("{count} row"), N_("{count} rows")), count=report.rows),
                    created=t(plural(report.created, N_("{count} new lead"), N_("{count} new leads")),
                              count=report.created),
                    duplicates=report.duplicates, existing=report.existing, rejected=len(report.rejected_rows)))
    if history:
        console.print(t("Taken in as history: not routed, nobody notified."))
    elif report.created:
        console.print(t("Routed: {routed} to reps, {held} waiting in the holding queue.", routed=done.routed,
                        held=done.held))
    if report.rejected:
        target = rejects or file.with_name(f"{file.stem}.rejected.csv")
        importer.write_rejects(target, report)
        console.print(t("Rejected rows with reasons: {path}", path=str(target)))
