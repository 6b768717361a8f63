"""``evenhand import leads|outcomes``: a company's exports through the one intake door. Rows created before
``--history-before`` (or every row, with ``--history``) are history: kept with their own dates, rep and outcome,
never routed, nobody notified; newer rows are scored and routed as if they had just arrived. Outcomes kept in a
second file (a funnel's closed deals) are joined on each lead's external id. See docs/import.md."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.i18n import N_, plural, t
from evenhand.kit import importcli
from evenhand.kit.clihelp import Typer
from evenhand.kit.importcli import ImportFile, RejectsTo, SkipInvalid

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
import_app = Typer(help=N_("Import data from files."), no_args_is_help=True)
console = Console()


@import_app.command("leads", help=N_("Import leads, scored and routed like leads that arrive; all or nothing unless "
                                     "--skip-invalid. Row numbers are the spreadsheet's."))
def import_leads(
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to lead fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
    history: Annotated[bool, typer.Option(
        "--history", help=N_("Past leads: mark them as history, do not route them or notify anyone"))] = False,
    history_before: Annotated[datetime | None, typer.Option(
        "--history-before", formats=["%Y-%m-%d"], metavar="<date>",
        help=N_("Leads created before this day are history; newer ones are routed"))] = None,
) -> None:
    from evenhand.intake import flows

    settings = get_settings()
    cutoff = history_before.replace(tzinfo=settings.zone) if history_before else None
    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, flows.LEAD_ROWS))
    done = importcli.run(console, N_("Importing leads"), lambda session, progress: flows.take_in_file(
        session, file, text, actor=None, dedup=settings.dedup_keys, skip_invalid=skip_invalid, backfilled=history,
        history_before=cutoff, progress=progress))
    console.print(t("{rows}: {created} ({duplicates} linked as duplicates), {existing} already there, {rejected} "
                    "rejected.", rows=t(plural(done.rows, N_("{count} row"), N_("{count} rows")), count=done.rows),
                    created=t(plural(done.created, N_("{count} new lead"), N_("{count} new leads")),
                              count=done.created),
                    duplicates=done.duplicates, existing=done.existing, rejected=len(done.rejects.rows)))
    if done.backfilled:
        console.print(t("Taken in as history: {count}, not routed, nobody notified.", count=done.backfilled))
    if done.created - done.backfilled:
        console.print(t("Routed: {routed} to reps, {held} waiting in the holding queue.", routed=done.routed,
                        held=done.held))
    importcli.write_rejects(console, done.rejects, file, rejects)


@import_app.command("outcomes", help=N_("Record leads' outcomes (converted, disqualified) from a file joined on each "
                                        "lead's external id, such as a funnel's closed deals."))
def import_outcomes(
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to outcome fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
) -> None:
    from evenhand.leads import outcomes

    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, outcomes.OUTCOME_ROWS))
    report, refused = importcli.run(console, N_("Recording outcomes"), lambda session, progress: (
        outcomes.take_outcomes_file(session, file, text, actor_id=None, skip_invalid=skip_invalid,
                                    zone=get_settings().zone, progress=progress)))
    console.print(t("Outcomes: {converted} converted, {disqualified} disqualified, {unchanged} already recorded, "
                    "{open} still open, {rejected} rejected.", converted=report.converted,
                    disqualified=report.disqualified, unchanged=report.unchanged, open=report.left_open,
                    rejected=len(refused.errors)))
    importcli.write_rejects(console, refused, file, rejects)
