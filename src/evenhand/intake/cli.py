"""``evenhand import``: a company's exports through the one intake door. New leads are scored and routed as if
they had just arrived; ``--history`` takes in leads whose outcome is already known: marked as history, never
routed, nobody notified."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import rows, terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import utcnow
from evenhand.kit.rows import Rejects, rejects_path

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
import_app = Typer(help=N_("Import data from files."), no_args_is_help=True)
console = Console()


@import_app.command("leads", help=N_("Import leads, scored and routed like leads that arrive; all or nothing unless "
                                     "--skip-invalid. Row numbers are the spreadsheet's."))
def import_leads(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to lead fields"))],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option(help=N_("Where --skip-invalid writes rejected rows (default: under "
                                                         "the data directory)"))] = None,
    history: Annotated[bool, typer.Option(
        "--history", help=N_("Past leads: mark them as history, do not route them or notify anyone"))] = False,
    history_before: Annotated[datetime | None, typer.Option(
        "--history-before", formats=["%Y-%m-%d"], metavar="<date>",
        help=N_("Leads created before this day are history; newer ones are routed"))] = None,
) -> None:
    from evenhand.intake import flows

    settings = get_settings()
    cutoff = history_before.replace(tzinfo=settings.zone) if history_before else None
    text = _mapping_text(mapping)
    with _refusals():
        rows.check(file, text, flows.LEAD_ROWS)
    with _refusals(), terminal.progress_bar(console) as bar, session_scope() as session:
        task = bar.add_task(t("Importing leads"), total=None)
        done = flows.take_in_file(session, file, text, actor=None, dedup=settings.dedup_keys,
                                  skip_invalid=skip_invalid, backfilled=history, history_before=cutoff,
                                  progress=lambda _stage, n, total: bar.update(task, completed=n, total=total))
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
    _write_rejects(done.rejects, file, rejects)


@import_app.command("outcomes", help=N_("Record leads' outcomes (converted, disqualified) from a file joined on each "
                                        "lead's external id, such as a funnel's closed deals."))
def import_outcomes(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to outcome fields"))],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                               help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option(help=N_("Where --skip-invalid writes rejected rows (default: under "
                                                         "the data directory)"))] = None,
) -> None:
    from evenhand.leads import outcomes

    text = _mapping_text(mapping)
    with _refusals():
        rows.check(file, text, outcomes.OUTCOME_ROWS)
    with _refusals(), terminal.progress_bar(console) as bar, session_scope() as session:
        task = bar.add_task(t("Recording outcomes"), total=None)
        report, refused = outcomes.take_outcomes_file(
            session, file, text, actor_id=None, skip_invalid=skip_invalid, zone=get_settings().zone,
            progress=lambda _stage, n, total: bar.update(task, completed=n, total=total))
    console.print(t("Outcomes: {converted} converted, {disqualified} disqualified, {unchanged} already recorded, "
                    "{open} still open, {rejected} rejected.", converted=report.converted,
                    disqualified=report.disqualified, unchanged=report.unchanged, open=report.left_open,
                    rejected=len(refused.errors)))
    _write_rejects(refused, file, rejects)


def _mapping_text(path: Path) -> str:
    if not path.exists():
        terminal.fail(console, t("No such file: {path}", path=str(path)))
    return path.read_text(encoding="utf-8")


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused file (a bad mapping, a bad row) is printed with every problem; the command exits 1."""
    try:
        yield
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc


def _write_rejects(refused: Rejects, file: Path, target: Path | None) -> None:
    if refused.errors:
        path = target or rejects_path(get_settings().data_dir, file, now=utcnow())
        refused.write(path)
        console.print(t("Rejected rows with reasons: {path}", path=str(path)))
