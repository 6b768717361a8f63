"""``evenhand import org``: departments, regions, teams and people from a company's own export (an HR file, a
sales-team sheet), created or updated in one transaction; the fields and rules are in ``org.importer``."""

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
from evenhand.kit.clock import utcnow
from evenhand.kit.rows import Rejects, rejects_path
from evenhand.org import imports

console = Console()
HELP = N_("Create or update departments, regions, teams and people from an HR or sales-team export (.csv or .xlsx); "
          "running it again updates rather than duplicates. All or nothing unless --skip-invalid.")
STAGES = {"read": N_("Reading rows"), "written": N_("Saving people")}


def import_org(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to organisation fields"))],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option(help=N_("Where --skip-invalid writes rejected rows"))] = None,
    deactivate_missing: Annotated[bool, typer.Option(
        "--deactivate-missing", help=N_("Deactivate everyone the file leaves out, except admins"))] = False,
) -> None:
    if not mapping.exists():
        terminal.fail(console, t("No such file: {path}", path=str(mapping)))
    refused = Rejects(header=[])
    try:
        with terminal.progress_bar(console) as bar, session_scope() as session:
            task = bar.add_task(t("Importing the organisation"), total=None)
            report = imports.import_org(
                session, file, mapping.read_text(encoding="utf-8"), actor=None, skip_invalid=skip_invalid,
                rejects=refused, deactivate_missing=deactivate_missing,
                progress=lambda stage, n, total: bar.update(task, completed=n, total=total,
                                                            description=t(STAGES[stage])))
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc
    _summary(report)
    if refused.errors:
        target = rejects or rejects_path(get_settings().data_dir, file, now=utcnow())
        refused.write(target)
        console.print(t("Rejected rows with reasons: {path}", path=str(target)))


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
