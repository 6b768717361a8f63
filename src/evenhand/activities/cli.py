"""``evenhand import activities`` and ``evenhand activities reconcile``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import rows, terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import utcnow
from evenhand.kit.rows import rejects_path

if TYPE_CHECKING:
    from evenhand.activities.importer import ImportReport

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
activities_app = Typer(help=N_("Activities: the reconciliation list of activities waiting to be matched."),
                       no_args_is_help=True)
IMPORT_HELP = N_("Import activities (calls, e-mails, meetings…) from an export, matched to reps and to leads or "
                 "deals; those that match nothing wait in the reconciliation list. All or nothing unless "
                 "--skip-invalid; importing the same file again changes nothing.")
console = Console()


def import_activities(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to activity fields"))],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option(help=N_("Where --skip-invalid writes rejected rows"))] = None,
) -> None:
    from evenhand.activities import importer

    if not mapping.exists():
        terminal.fail(console, t("No such file: {path}", path=str(mapping)))
    settings = get_settings()
    target = rejects or rejects_path(settings.data_dir, file, now=utcnow())
    text = mapping.read_text(encoding="utf-8")
    try:
        rows.check(file, text, importer.KIND)  # a wrong mapping is refused before the progress bar starts
        with terminal.progress_bar(console) as bar, session_scope() as session:
            task = bar.add_task(t("Importing activities"), total=None)
            report = importer.import_file(
                session, file, text, zone=settings.zone, skip_invalid=skip_invalid, rejects_to=target,
                progress=lambda _stage, n, total: bar.update(task, completed=n, total=total))
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc
    _summary(report)


def _summary(report: ImportReport) -> None:
    tally = report.tally
    console.print(t("{rows}: {created} created, {updated} updated, {unchanged} unchanged, {waiting} waiting to be "
                    "matched ({no_rep} with no known rep, {no_link} linking no known lead or deal), {rejected} "
                    "rejected.", rows=t(plural(report.rows, N_("{count} row"), N_("{count} rows")), count=report.rows),
                    created=tally.created, updated=tally.updated, unchanged=tally.unchanged, waiting=report.waiting,
                    no_rep=tally.waiting["no_rep"], no_link=tally.waiting["no_link"], rejected=report.rejected))
    if tally.linked:
        console.print(t(plural(tally.linked, N_("{count} activity that was waiting is now matched."),
                               N_("{count} activities that were waiting are now matched.")), count=tally.linked))
    if report.waiting:
        console.print(t("Link them on the reconciliation page, or run 'evenhand activities reconcile' once the "
                        "reps, leads or deals they name are in."))
    if report.rejects_file is not None:
        console.print(t("Rejected rows with reasons: {path}", path=str(report.rejects_file)))


@activities_app.command("reconcile", help=N_("Try every activity waiting in the reconciliation list again: those "
                                             "whose rep and lead or deal are known now become activities."))
def reconcile() -> None:
    from evenhand.activities import service

    with session_scope() as session:
        tried, linked, waiting = service.reconcile(session, actor=None)
    console.print(t("Tried {tried}: {linked} matched now, {waiting} still waiting.",
                    tried=t(plural(tried, N_("{count} waiting activity"), N_("{count} waiting activities")),
                            count=tried), linked=linked, waiting=waiting))
