"""``evenhand scorecard``: targets, closing and re-opening periods, the templates, the blocks and the grants. Each
command opens its own unit of work and calls the performance services; a refusal exits with 1, having changed
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.i18n import N_
from evenhand.kit import documentcli
from evenhand.kit.clihelp import Typer

scorecard_app = Typer(help=N_("Scorecards: targets, templates, closing a period, the blocks and the grants they earn."),
                      no_args_is_help=True)
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
PeriodOption = Annotated[str, typer.Option("--period", help=N_("A month (2026-09) or a quarter (2026-Q3)"))]
JsonOption = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object"))]
out, err = Console(), Console(stderr=True)


# --- the grants a period earned, and the what-if of a tier change (incentives) ---------------------------------


@scorecard_app.command("grants", help=N_("The grants a closed period's scorecards earned: who holds which, until "
                                         "when, and why."))
def grants(period: PeriodOption, as_json: JsonOption = False, db: Db = None) -> None:
    import json
    import sys
    from dataclasses import asdict

    from evenhand.config import get_settings
    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import incentives
    from evenhand.performance.period import parse

    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            found = incentives.lists(session, parse(period))
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps({"period": period, "grants": [asdict(h) for h in found]}, default=str) + "\n")
        return
    if not found:
        out.print(t("No grants were earned in {period}, or it has not been closed.", period=period))
    for h in found:
        until = incentives.last_day(h.expires_at, get_settings().zone).isoformat() if h.expires_at else "—"
        out.print(t("{grant}: {name} ({team}), tier {tier}, {total} — {status}, until {until}",
                    grant=t(incentives.GRANT_LABELS[h.grant]), name=h.name, team=h.team or "—", tier=h.tier,
                    total="—" if h.total is None else f"{h.total:.1f}", status=t(incentives.STATUS_LABELS[h.status]),
                    until=until))


@scorecard_app.command("whatif", help=N_("How changed tiers would move the key-account pool: who would hold the grant "
                                         "for a closed period, and each rep's share of the pool's recent leads."))
def whatif(templates: Annotated[Path, typer.Option("--templates", help=N_("The changed scorecard templates (YAML)"))],
           period: Annotated[str | None, typer.Option("--period", help=N_(
               "A closed month or quarter; default the last one closed"))] = None,
           days: Annotated[int, typer.Option("--days", min=1, max=92, help=N_(
               "The recent days whose key-account leads are replayed"))] = 30,
           as_json: JsonOption = False, db: Db = None) -> None:
    import json
    import sys

    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import incentives
    from evenhand.performance.period import parse

    body = terminal.read_text(err, templates)
    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            found = incentives.whatif(session, body, period=parse(period) if period else None, days=days)
    except DomainError as exc:
        terminal.refuse(err, exc, source=templates)
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
        return
    if not found["pools"]:
        out.print(t(incentives.NO_POOL), style="yellow")
    out.print(t("{period} (revision {revision}): {leads} key-account leads from {start} to {end}.",
                period=found["period"], revision=found["revision"], leads=found["leads"], start=found["from"],
                end=found["to"]), style="bold")
    for rep in found["reps"]:
        before, after = rep["before"], rep["after"]
        out.print(t("{name}: {before_leads} leads ({before_share:.0%}) → {after_leads} leads ({after_share:.0%})",
                    name=rep["name"], before_leads=before["leads"], before_share=before["share"],
                    after_leads=after["leads"], after_share=after["share"]))


# --- targets per period (metrics) ------------------------------------------------------------------------------

targets_app = Typer(help=N_("Targets per period: what a metric should reach for the company, a team or a rep."),
                    no_args_is_help=True)
scorecard_app.add_typer(targets_app, name="targets")
TARGETS_HELP = N_("Set targets from a file (.csv or .xlsx) with the columns metric, period, team, rep and value: a "
                  "row naming no team and no rep is the company's target. Importing again replaces the same target. "
                  "All or nothing unless --skip-invalid.")


@targets_app.command("import", help=TARGETS_HELP)
def import_targets(
    file: Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))],
    mapping: Annotated[Path | None, typer.Option("--mapping", help=N_(
        "YAML mapping of the file's columns to the fields; default: columns named as the fields"))] = None,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help=N_("Import the valid rows, list the rest"))] = False,
    rejects: Annotated[Path | None, typer.Option("--rejects", help=N_(
        "Where --skip-invalid writes rejected rows (default: under the data directory)"))] = None,
) -> None:
    from evenhand.config import get_settings
    from evenhand.i18n import t
    from evenhand.kit import importcli
    from evenhand.kit.rows import Rejects
    from evenhand.performance import targets

    with importcli.refusals(err):
        text = importcli.mapping_text(err, mapping) if mapping else targets.default_mapping(file)
    importcli.checked(err, (file, text, targets.KIND))
    refused = Rejects(header=[])
    report = importcli.run(err, N_("Importing targets"), lambda session, progress: targets.import_file(
        session, file, text, zone=get_settings().zone, skip_invalid=skip_invalid, rejects=refused,
        progress=progress))
    out.print(t("{rows} rows read; targets created: {created}, replaced: {updated}, unchanged: {unchanged}; rows "
                "rejected: {rejected}.", rows=report.rows, created=report.created, updated=report.updated,
                unchanged=report.unchanged, rejected=report.rejected))
    importcli.write_rejects(out, refused, file, rejects)


@targets_app.command("show", help=N_("The targets set for a period: the company's, each team's and each rep's."))
def show_targets(period: PeriodOption, as_json: JsonOption = False, db: Db = None) -> None:
    import json
    import sys

    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import repository
    from evenhand.performance.metrics import CATALOG
    from evenhand.performance.period import parse

    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            found = repository.target_rows(session, parse(period))
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        rows = [{"metric": m, "team": team, "rep": rep, "value": v} for m, team, rep, v in found]
        sys.stdout.write(json.dumps({"period": period, "targets": rows}, ensure_ascii=False) + "\n")
        return
    if not found:
        out.print(t("No targets are set for {period}; the templates' own apply.", period=period))
    for metric, team, rep, value in found:
        out.print(t("{metric}: {value:g} — {whom}", metric=t(CATALOG[metric].label) if metric in CATALOG else metric,
                    value=value, whom=rep or team or t("the company")))


# --- the blocks (pages and exports) ----------------------------------------------------------------------------


@scorecard_app.command("show", help=N_("Print each rep's scorecard block for a period (frozen if it is closed, live "
                                       "otherwise), best total first, with the reps flagged as high volume with low "
                                       "quality and why."))
def show(period: PeriodOption,
         rep: Annotated[str | None, typer.Option("--rep", help=N_("Only this rep, by the name on the card"))] = None,
         as_json: JsonOption = False, db: Db = None) -> None:
    import json
    import sys

    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import blocks, patterns, ranking, service
    from evenhand.performance.period import parse

    try:
        with session_scope(get_engine(db) if db else None, readonly=True) as session:
            found = ranking.only(ranking.read(session, service.SYSTEM, parse(period)), rep)
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps(ranking.record(found), ensure_ascii=False) + "\n")
        return
    state = t("Closed: frozen cards, revision {revision}.", revision=found.revision) if found.frozen else \
        t("Live: computed now, provisional until the period is closed.")
    out.print(f"{found.period} · {state}", style="bold", highlight=False)
    for card in found.cards:
        for line in blocks.block(card, found.departments, t):
            out.print(line, highlight=False)
        flag = found.flags.get(card.user_id)
        for line in patterns.explain(flag, t) if flag else []:
            out.print(f"  ! {line}", style="red", highlight=False)


# --- closing and re-opening a period, and the templates (scorecards) ----------------------------------------------

# The command line closes as sales ops would; the audit entry names no person (``service.close``).
Reason = Annotated[str, typer.Option("--reason", help=N_("Why the period is re-opened (kept in the audit log)"))]


def _operator() -> Any:
    from evenhand.auth.principal import Principal
    from evenhand.models import Role

    return Principal(user_id=0, username="cli", display_name="cli", role=Role.OPS, via="system")


@scorecard_app.command("close", help=N_("Close a period that has ended: freeze every rep's card as its next revision, "
                                        "with the inputs behind it, and apply the grants its tiers earn."))
def close(period: PeriodOption, db: Db = None) -> None:
    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import service
    from evenhand.performance.period import parse

    try:
        with session_scope(get_engine(db) if db else None) as session:
            row = service.close(session, parse(period), actor=_operator())
            key, revision = row.period, row.revision
            frozen = service.cards(session, service.SYSTEM, parse(period))
    except DomainError as exc:
        terminal.refuse(err, exc)
    out.print(t("Closed {period}: revision {revision}, {count} cards frozen.", period=key, revision=revision,
                count=len(frozen)))


@scorecard_app.command("reopen", help=N_("Re-open a closed period for a late correction; its frozen cards stay "
                                         "readable and the next close writes the next revision."))
def reopen(period: PeriodOption, reason: Reason, db: Db = None) -> None:
    from evenhand.db import get_engine, session_scope
    from evenhand.errors import DomainError
    from evenhand.i18n import t
    from evenhand.kit import terminal
    from evenhand.performance import service
    from evenhand.performance.period import parse

    try:
        with session_scope(get_engine(db) if db else None) as session:
            row = service.reopen(session, parse(period), actor=_operator(), reason=reason)
            key, revision = row.period, row.revision
    except DomainError as exc:
        terminal.refuse(err, exc)
    out.print(t("Re-opened {period}; revision {revision} stays readable.", period=key, revision=revision))


templates_app = Typer(help=N_("The scorecard templates: print a version, or validate a file and save it."),
                      no_args_is_help=True)
scorecard_app.add_typer(templates_app, name="templates")


def _templates() -> tuple[Any, Any]:
    from evenhand.performance import document

    return document.TEMPLATES, document.save


documentcli.add(templates_app, _templates, show_as="show", show_help=N_(
    "Print a version of the scorecard templates (YAML) with its number and note."), set_as="set",
    set_help=N_("Validate scorecard templates and save them as the next active version."),
    file_help=N_("YAML scorecard templates"))
