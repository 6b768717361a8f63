"""``evenhand peer``: open a month's peer review cycle, read its completion, raise its threshold, close it. Each
command opens its own unit of work and calls the peer review service; a refusal exits with 1, having changed
nothing. Nothing here prints who reviews whom."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.performance.peer_schemas import CycleOpen, CycleRead

peer_app = Typer(help=N_("Peer review: each month's anonymous cross-team reviews of professionalism and "
                         "collaboration."), no_args_is_help=True)
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
PeriodOption = Annotated[str, typer.Option("--period", help=N_("The month, YYYY-MM"))]
JsonOption = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object"))]
out, err = Console(), Console(stderr=True)
STATUS = {"open": N_("taking reviews"), "closed": N_("closed to reviews")}


@peer_app.command("open", help=N_("Draw the month's reviewers (each rep reviewed by peers of other teams, the load "
                                  "even) and open the cycle; print the seed."))
def open_cycle(period: PeriodOption,
               seed: Annotated[int | None, typer.Option("--seed", min=0, max=2**31 - 1, help=N_(
                   "The seed; the same seed and reps always draw the same reviewers"))] = None,
               per_reviewer: Annotated[int, typer.Option("--per-reviewer", min=1, max=20, help=N_(
                   "Reviews each rep receives and writes"))] = 3,
               threshold: Annotated[int, typer.Option("--threshold", min=0, max=20, help=N_(
                   "Reviews a rep's aggregate needs before it shows; at least 3"))] = 3,
               as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.performance import peer_service as service

    def work(session: Any) -> CycleRead:  # the month is checked first, so a quarter is refused by its rule
        data = CycleOpen(period=service.month(period), seed=seed, per_reviewer=per_reviewer, threshold=threshold)
        return service.open_cycle(session, data, actor=None)

    _print(work, db, as_json=as_json, readonly=False)


@peer_app.command("status", help=N_("Print a cycle's completion: reps, reviews to write, reviews written."))
def status(period: PeriodOption, as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.performance import peer_service as service

    _print(lambda session: service.status(session, period), db, as_json=as_json,
           readonly=True)


@peer_app.command("threshold", help=N_("Raise the reviews a rep's aggregate needs before it shows (never lowered, "
                                       "never below 3)."))
def threshold(period: PeriodOption, value: Annotated[int, typer.Argument(min=0, max=20, help=N_("The new threshold"))],
              as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.performance import peer_service as service

    _print(lambda session: service.raise_threshold(session, period, value, actor=None), db, as_json=as_json,
           readonly=False)


@peer_app.command("close", help=N_("Close a cycle: no more reviews are taken."))
def close(period: PeriodOption, as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.performance import peer_service as service

    _print(lambda session: service.close_cycle(session, period, actor=None), db, as_json=as_json, readonly=False)


def _print(work: Any, db: str | None, *, as_json: bool, readonly: bool) -> None:
    try:
        with session_scope(get_engine(db) if db else None, readonly=readonly) as session:
            shown: CycleRead = work(session)
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(shown.model_dump_json() + "\n")
        return
    out.print(t("Peer review {period} ({status}): seed {seed}, {per_reviewer} reviews per rep, aggregates from "
                "{threshold} reviews.", period=shown.period, status=t(STATUS[shown.status]), seed=shown.seed,
                per_reviewer=shown.per_reviewer, threshold=shown.threshold), style="bold")
    out.print(t("{done} of {assignments} reviews written; {reps} reps reviewed.", done=shown.done,
                assignments=shown.assignments, reps=shown.reps))
