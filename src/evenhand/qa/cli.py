"""``evenhand qa``: draw or re-draw a period's call QA sample, verify a stored one from its seed, and read or set the
rubric. Each command opens its own unit of work and calls the QA service; a refusal exits with 1, having changed
nothing."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import documentcli, terminal
from evenhand.kit.clihelp import Typer

qa_app = Typer(help=N_("Call QA: each month's random sample of recorded calls, its verification, and the rubric."),
               no_args_is_help=True)
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
PeriodOption = Annotated[str, typer.Option("--period", help=N_("The month, YYYY-MM, in the company's zone"))]
SeedOption = Annotated[int | None, typer.Option("--seed", min=0, max=2**63 - 1,
                                                help=N_("The seed; the same seed always draws the same calls"))]
JsonOption = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object"))]
out, err = Console(), Console(stderr=True)


@qa_app.command("sample", help=N_("Draw (or with a seed drawn before, draw again) a period's sample; print the sampled "
                                   "call ids, the seed and the share."))
def sample(period: PeriodOption, seed: SeedOption = None,
           share: Annotated[float | None, typer.Option(min=0.0001, max=1.0, help=N_(
               "Share of the period's recorded outbound calls; default the configured one"))] = None,
           as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.qa import service

    try:
        with session_scope(_engine(db)) as session:
            drawn = service.draw(session, period, seed=seed, share=share)
            found: dict[str, Any] = {"period": period, "seed": drawn.sample.seed, "share": drawn.sample.share,
                     "calls": drawn.sample.calls, "drawn": drawn.sample.drawn, "fresh": drawn.fresh,
                     "activity_ids": drawn.ids}
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
        return
    out.print(t("{period}: {drawn} of {calls} calls drawn with seed {seed} (share {share:.1%}).", period=period,
                drawn=found["drawn"], calls=found["calls"], seed=found["seed"], share=found["share"]), style="bold")
    if not found["fresh"]:
        out.print(t("This seed had been drawn for the period before: the same calls, now the current sample."))
    out.print(" ".join(map(str, found["activity_ids"])))


@qa_app.command("verify", help=N_("Draw a period's stored sample again from its seed and say whether the calls match."))
def verify(period: PeriodOption, seed: SeedOption = None, as_json: JsonOption = False, db: Db = None) -> None:
    from evenhand.qa import service

    try:
        with session_scope(_engine(db), readonly=True) as session:
            result = service.verify(session, period, seed)
    except DomainError as exc:
        terminal.refuse(err, exc)
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
    elif result.matches:
        out.print(t("The sample of {period} (seed {seed}) matches a fresh draw: {count} calls.", period=period,
                    seed=result.seed, count=len(result.stored)))
    else:
        out.print(t("The sample of {period} (seed {seed}) does not match a fresh draw: {then} calls then, {now} now.",
                    period=period, seed=result.seed, then=result.calls_then, now=result.calls_now), style="red")
    if not result.matches:
        raise typer.Exit(1)


def _rubric() -> tuple[Any, Any]:
    from evenhand.qa import service

    return service.RUBRIC, service.save_rubric


documentcli.add(qa_app, _rubric, show_as="rubric", show_help=N_(
    "Print a version of the QA rubric (YAML) with its number and note."), set_as="set-rubric",
    set_help=N_("Validate a QA rubric and save it as the next active version."), file_help=N_("YAML rubric"))


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
