"""``evenhand import activities`` (also ``evenhand activities import``) and ``evenhand activities reconcile``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_, plural, t
from evenhand.kit import importcli
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import utcnow
from evenhand.kit.importcli import ImportFile, RejectsTo, SkipInvalid
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
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to activity fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
) -> None:
    from evenhand.activities import importer

    settings = get_settings()
    target = rejects or rejects_path(settings.data_dir, file, now=utcnow())
    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, importer.KIND))
    report = importcli.run(console, N_("Importing activities"), lambda session, progress: importer.import_file(
        session, file, text, zone=settings.zone, skip_invalid=skip_invalid, rejects_to=target, progress=progress))
    _summary(report)


# `evenhand activities import` is the same command as `evenhand import activities`.
activities_app.command("import", help=IMPORT_HELP)(import_activities)


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
