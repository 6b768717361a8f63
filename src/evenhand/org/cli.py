"""``evenhand import org``: departments, regions, teams and people from a company's own export (an HR file, a
sales-team sheet), created or updated in one transaction; the fields and rules are in ``org.importer``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.i18n import N_, plural, t
from evenhand.kit import importcli
from evenhand.kit.importcli import ImportFile, RejectsTo, SkipInvalid
from evenhand.kit.rows import Rejects
from evenhand.org import imports
from evenhand.org.importer import KIND

console = Console()
HELP = N_("Create or update departments, regions, teams and people from an HR or sales-team export (.csv or .xlsx); "
          "running it again updates rather than duplicates. All or nothing unless --skip-invalid.")
STAGES = {"read": N_("Reading rows"), "written": N_("Saving people")}


def import_org(
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to organisation fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
    deactivate_missing: Annotated[bool, typer.Option(
        "--deactivate-missing", help=N_("Deactivate everyone the file leaves out, except admins"))] = False,
) -> None:
    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, KIND))
    refused = Rejects(header=[])
    report = importcli.run(console, N_("Importing the organisation"), lambda session, progress: imports.import_org(
        session, file, text, actor=None, skip_invalid=skip_invalid, rejects=refused,
        deactivate_missing=deactivate_missing, progress=progress), stages=STAGES)
    _summary(report)
    importcli.write_rejects(console, refused, file, rejects)


def _summary(report: imports.OrgReport) -> None:
    rows, departments, regions, teams = report.rows, report.departments, report.regions, report.teams_created
    console.print(t("{rows} read; people created: {created}, updated: {updated}, unchanged: {unchanged}, "
                    "deactivated: {deactivated}; rows rejected: {rejected}.",
                    rows=t(plural(rows, N_("{count} row"), N_("{count} rows")), count=rows), created=report.created,
                    updated=report.updated, unchanged=report.unchanged, deactivated=report.deactivated,
                    rejected=report.rejected))
    console.print(t("Created {departments}, {regions} and {teams}; teams updated: {updated}.",
                    departments=t(plural(departments, N_("{count} department"), N_("{count} departments")),
                                  count=departments),
                    regions=t(plural(regions, N_("{count} region"), N_("{count} regions")), count=regions),
                    teams=t(plural(teams, N_("{count} team"), N_("{count} teams")), count=teams),
                    updated=report.teams_updated))
    if report.missing_kept:
        console.print(t("Nobody was deactivated: rows were rejected, so the file may leave out people who stay."))
