"""``evenhand audit``: verify the chain against its signed checkpoints, write a checkpoint, re-chain a chain written
before the audit key. Each command opens its own unit of work and calls ``audit.service``; every problem is named,
and any exits with 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evenhand.audit import service
from evenhand.audit.checkpoints import Checkpoint, Refused
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.i18n import N_, plural, t
from evenhand.kit.audit_check import Broken
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import as_utc, utcnow

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
audit_app = Typer(help=N_("The keyed, hash-chained audit log and its signed checkpoints."), no_args_is_help=True)
out = Console()

Shipped = Annotated[list[Path] | None, typer.Option(
    "--checkpoints", help=N_("Also check against this copy of the checkpoints (JSON lines); repeatable"))]


@audit_app.command("verify", help=N_("Check every link under the audit key and the chain against its signed "
                                     "checkpoints; exit 1 naming each problem (a changed or missing entry, rows "
                                     "written without the key, a deleted tail, a forged checkpoint)."))
def verify(shipped: Shipped = None) -> None:
    settings = get_settings()
    with session_scope(readonly=True) as session:
        report = service.verify(session, settings, extra=shipped or [])
    _refusals(report.refused, report.problems)
    if not report.intact:
        raise typer.Exit(code=1)
    out.print(t(plural(report.count, N_("Audit chain intact: {count} entry."),
                       N_("Audit chain intact: {count} entries.")), count=report.count))
    if report.latest is not None:
        out.print(t("It matches the checkpoint of {at} (entry {seq}).", at=_when(report.latest), seq=report.latest.seq))
    else:
        out.print(t("No checkpoint yet, so entries deleted from the end would not show; 'evenhand audit checkpoint' "
                    "writes one."))


@audit_app.command("checkpoint", help=N_("Check the entries since the last checkpoint, then sign the chain's head "
                                         "and append it to the checkpoint files (and send it to sales operations, if "
                                         "configured)."))
def checkpoint() -> None:
    settings = get_settings()
    with session_scope(readonly=True) as session:
        written = service.checkpoint(session, settings, now=utcnow())
    with session_scope() as session:
        service.announce(session, settings, written)
    _refusals(written.refused, written.problems)
    if written.checkpoint is None:
        raise typer.Exit(code=1)
    _written(written.checkpoint, written.files)


@audit_app.command("reseal", help=N_("Link a chain written before the audit key again under it, once it checks out, "
                                     "record that in the chain, and write a checkpoint. Changes nothing when anything "
                                     "else is wrong."))
def reseal() -> None:
    settings = get_settings()
    with session_scope() as session:
        resealed = service.reseal(session, settings, now=utcnow())
    if resealed.problems:
        _refusals([], resealed.problems)
        raise typer.Exit(code=1)
    if not resealed.entries:
        out.print(t("Every link is keyed already; nothing to reseal."))
        return
    out.print(t(plural(resealed.entries,
                       N_("Resealed {count} entry under the audit key (entries 1–{last} had been linked without it)."),
                       N_("Resealed {count} entries under the audit key (entries 1–{last} had been linked without "
                          "it).")), count=resealed.entries, last=resealed.unkeyed))
    checkpoint()


def _refusals(refused: list[Refused], problems: list[Broken]) -> None:
    for r in refused:
        line = t("Checkpoint {file}, line {line}: {reason}", file=r.file, line=r.line, reason=t(r.reason, **r.params))
        out.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
    for p in problems:
        line = t("Audit chain broken at entry {seq}: {reason}", seq=p.seq, reason=p.text())
        out.print(line, style="red", markup=False, highlight=False, soft_wrap=True)


def _written(checkpoint: Checkpoint, files: list[Path]) -> None:
    out.print(t("Checkpoint written: entry {seq} of {count}, at {at}.", seq=checkpoint.seq, count=checkpoint.count,
                at=_when(checkpoint)))
    for path in files:
        out.print(t("  appended to {path}", path=str(path)), markup=False, highlight=False, soft_wrap=True)


def _when(checkpoint: Checkpoint) -> str:
    return f"{as_utc(checkpoint.at):%Y-%m-%d %H:%M:%S} UTC"
