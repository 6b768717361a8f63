"""``evenhand import accounts`` and ``evenhand import opportunities``: a CRM's exports, created or updated on
(source, external id) in one transaction; the fields and worked examples are in ``opportunities.importer``."""

from __future__ import annotations

from collections.abc import Callable
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
from evenhand.opportunities import importer

console = Console()
ACCOUNTS_HELP = N_("Create or update accounts from a CRM export (.csv or .xlsx) by source and external id; running it "
                   "again changes nothing. All or nothing unless --skip-invalid.")
OPPORTUNITIES_HELP = N_("Create or update opportunities from a CRM export (.csv or .xlsx) by source and external id, "
                        "with their stage history from --stages or derived from their dates. All or nothing unless "
                        "--skip-invalid.")
File = Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))]
SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help=N_("Import the valid rows, list the rest"))]
RejectsOption = Annotated[Path | None, typer.Option(
    help=N_("Where --skip-invalid writes rejected rows (default: under the data directory)"))]


def import_accounts(
    file: File,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to account fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsOption = None,
) -> None:
    text = _read(mapping)
    refused = importer.Refused()
    report = _run(N_("Importing accounts"), lambda session, progress: importer.import_accounts(
        session, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, refused=refused,
        progress=progress))
    console.print(t("{rows}: accounts created {created}, updated {updated}, unchanged {unchanged}; rows rejected "
                    "{rejected}.", rows=_rows(report.rows), created=report.created, updated=report.updated,
                    unchanged=report.unchanged, rejected=report.rejected))
    _write_rejects(refused.rows, rejects, file)


def import_opportunities(
    file: File,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to opportunity fields"))],
    stages: Annotated[Path | None, typer.Option(
        "--stages", help=N_("The deals' stage history export (.csv or .xlsx), one line per stage change"))] = None,
    stages_mapping: Annotated[Path | None, typer.Option(
        "--stages-mapping", help=N_("YAML mapping of the stage history's columns"))] = None,
    skip_invalid: SkipInvalid = False,
    rejects: RejectsOption = None,
) -> None:
    if (stages is None) != (stages_mapping is None):
        terminal.fail(console, t("--stages and --stages-mapping go together."))
    text = _read(mapping)
    history = (stages, _read(stages_mapping)) if stages and stages_mapping else None
    refused = importer.Refused()
    report = _run(N_("Importing opportunities"), lambda session, progress: importer.import_opportunities(
        session, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, refused=refused,
        stages_file=history, progress=progress))
    _summary(report, with_history=history is not None)
    _write_rejects(refused.rows, rejects, file)
    if stages is not None:
        _write_rejects(refused.stages, None, stages)


def _read(path: Path) -> str:
    if not path.exists():
        terminal.fail(console, t("No such file: {path}", path=str(path)))
    return path.read_text(encoding="utf-8")


def _run(title: str, work: Callable[..., importer.Report]) -> importer.Report:
    """One transaction, a progress bar while the file is read; a refusal printed with its rows, exit status 1."""
    try:
        with terminal.progress_bar(console) as bar, session_scope() as session:
            task = bar.add_task(t(title), total=None)
            return work(session, lambda stage, n, total: bar.update(task, completed=n, total=total))
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc


def _summary(report: importer.Report, *, with_history: bool) -> None:
    console.print(t("{rows}: opportunities created {created}, updated {updated}, unchanged {unchanged}; rows "
                    "rejected {rejected}.", rows=_rows(report.rows), created=report.created,
                    updated=report.updated, unchanged=report.unchanged, rejected=report.rejected))
    if report.accounts_created:
        console.print(t(plural(report.accounts_created, N_("{count} account created by name."),
                               N_("{count} accounts created by name.")), count=report.accounts_created))
    if with_history:
        console.print(t("Stage history: {lines} read, {rejected} rejected; added to {deals}.",
                        lines=_rows(report.stage_lines), rejected=report.stage_rejected,
                        deals=_deals(report.histories)))
    if report.derived:
        console.print(t("Stage history derived from the dates of {deals} (marked as derived).",
                        deals=_deals(report.derived)))


def _rows(count: int) -> str:
    return t(plural(count, N_("{count} row"), N_("{count} rows")), count=count)


def _deals(count: int) -> str:
    return t(plural(count, N_("{count} deal"), N_("{count} deals")), count=count)


def _write_rejects(refused: Rejects, target: Path | None, source: Path) -> None:
    if refused.errors:
        path = target or rejects_path(get_settings().data_dir, source, now=utcnow())
        refused.write(path)
        console.print(t("Rejected rows with reasons: {path}", path=str(path)))
