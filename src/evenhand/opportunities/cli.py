"""``evenhand import accounts`` and ``evenhand import opportunities``: a CRM's exports, created or updated on
(source, external id) in one transaction; the fields and worked examples are in ``opportunities.importer``. Contracts,
payments, survey answers and complaints come in by ``evenhand import contracts|payments|surveys|complaints``
(``opportunities.customers_import``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.config import get_settings
from evenhand.i18n import N_, plural, t
from evenhand.kit import importcli, terminal
from evenhand.kit.importcli import ImportFile, RejectsTo, SkipInvalid
from evenhand.kit.rows import Rejects
from evenhand.opportunities import customers_import, importer

console = Console()
ACCOUNTS_HELP = N_("Create or update accounts from a CRM export (.csv or .xlsx) by source and external id; running it "
                   "again changes nothing. All or nothing unless --skip-invalid.")
OPPORTUNITIES_HELP = N_("Create or update opportunities from a CRM export (.csv or .xlsx) by source and external id, "
                        "with their stage history from --stages or derived from their dates. All or nothing unless "
                        "--skip-invalid.")
def import_accounts(
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to account fields"))],
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
) -> None:
    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, importer.ACCOUNTS))
    refused = importer.Refused()
    report = importcli.run(console, N_("Importing accounts"), lambda session, progress: importer.import_accounts(
        session, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, refused=refused,
        progress=progress))
    console.print(t("{rows}: accounts created {created}, updated {updated}, unchanged {unchanged}; rows rejected "
                    "{rejected}.", rows=_rows(report.rows), created=report.created, updated=report.updated,
                    unchanged=report.unchanged, rejected=report.rejected))
    importcli.write_rejects(console, refused.rows, file, rejects)


def import_opportunities(
    file: ImportFile,
    mapping: Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of columns to opportunity fields"))],
    stages: Annotated[Path | None, typer.Option(
        "--stages", help=N_("The deals' stage history export (.csv or .xlsx), one line per stage change"))] = None,
    stages_mapping: Annotated[Path | None, typer.Option(
        "--stages-mapping", help=N_("YAML mapping of the stage history's columns"))] = None,
    skip_invalid: SkipInvalid = False,
    rejects: RejectsTo = None,
) -> None:
    if (stages is None) != (stages_mapping is None):
        terminal.fail(console, t("--stages and --stages-mapping go together."))
    text = importcli.mapping_text(console, mapping)
    history = (stages, importcli.mapping_text(console, stages_mapping)) if stages and stages_mapping else None
    importcli.checked(console, (file, text, importer.OPPORTUNITIES),
                      *([(history[0], history[1], importer.STAGE_LINES)] if history else []))
    refused = importer.Refused()
    report = importcli.run(console, N_("Importing opportunities"), lambda session, progress: (
        importer.import_opportunities(
        session, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, refused=refused,
        stages_file=history, progress=progress)))
    _summary(report, with_history=history is not None)
    importcli.write_rejects(console, refused.rows, file, rejects)
    if stages is not None:
        importcli.write_rejects(console, refused.stages, stages, None)


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


# --- after the sale: contracts, payments, survey answers, complaints ----------------------------------------------

CONTRACTS_HELP = N_("Create or update contracts from an export (.csv or .xlsx), each found again by its account and "
                    "start day; running it again changes nothing. All or nothing unless --skip-invalid.")
PAYMENTS_HELP = N_("Import payments received (回款) against contracts from an export (.csv or .xlsx); a payment of "
                   "the same contract, time and amount is not taken twice. All or nothing unless --skip-invalid.")
SURVEYS_HELP = N_("Create or update CSAT and NPS answers from an export (.csv or .xlsx), each found again by its "
                  "account, kind and time. All or nothing unless --skip-invalid.")
COMPLAINTS_HELP = N_("Create or update customer complaints from an export (.csv or .xlsx) by source and external id. "
                     "All or nothing unless --skip-invalid.")
CustomerMapping = Annotated[Path, typer.Option("--mapping", help=N_("YAML mapping of the export's columns to fields"))]


def import_contracts(file: ImportFile, mapping: CustomerMapping, skip_invalid: SkipInvalid = False,
                     rejects: RejectsTo = None) -> None:
    _import_customers(customers_import.CONTRACTS, file, mapping, skip_invalid, rejects)


def import_payments(file: ImportFile, mapping: CustomerMapping, skip_invalid: SkipInvalid = False,
                    rejects: RejectsTo = None) -> None:
    _import_customers(customers_import.PAYMENTS, file, mapping, skip_invalid, rejects)


def import_surveys(file: ImportFile, mapping: CustomerMapping, skip_invalid: SkipInvalid = False,
                   rejects: RejectsTo = None) -> None:
    _import_customers(customers_import.SURVEYS, file, mapping, skip_invalid, rejects)


def import_complaints(file: ImportFile, mapping: CustomerMapping, skip_invalid: SkipInvalid = False,
                      rejects: RejectsTo = None) -> None:
    _import_customers(customers_import.COMPLAINTS, file, mapping, skip_invalid, rejects)


def _import_customers(target: customers_import.Target, file: Path, mapping: Path, skip_invalid: bool,
                      rejects: Path | None) -> None:
    text = importcli.mapping_text(console, mapping)
    importcli.checked(console, (file, text, target.kind))
    refused = Rejects(header=[])
    report = importcli.run(console, target.title, lambda session, progress: customers_import.import_file(
        session, target, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, rejects=refused,
        progress=progress))
    console.print(t(target.summary, rows=_rows(report.rows), created=report.created, updated=report.updated,
                    unchanged=report.unchanged, rejected=report.rejected))
    importcli.write_rejects(console, refused, file, rejects)
