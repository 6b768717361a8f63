"""``evenhand monitor scan``: detection over the stored series up to a day, each anomaly printed with its KPI, start,
size, the ranked explanations and the linked changes. Without ``--until`` it stores what it found (as the worker
does); up to an earlier day it replays what could have been known then and stores nothing."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, t
from evenhand.kit import terminal

Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
out, err = Console(), Console(stderr=True)
HELP = N_("Scan the stored KPI series for anomalies up to a day and print each with its explanation and the changes "
          "made before it.")
DIRECTIONS = {"up": N_("up"), "down": N_("down")}


def scan(until: Annotated[str | None, typer.Option(
        help=N_("Scan up to this day (YYYY-MM-DD) and store nothing; default the last day of the series"))] = None,
         days: Annotated[int, typer.Option(min=7, max=730, help=N_("Evaluation days before the last one"))] = 120,
         as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object"))] = False,
         db: Db = None) -> None:
    from evenhand.monitor import scan as scanning

    last = terminal.day(err, until, "--until") if until else None
    with session_scope(get_engine(db) if db else None, readonly=last is not None) as session:
        reports = scanning.scan(session, until=last, days=days)
        found = [_report(r) for r in reports]
    if as_json:
        sys.stdout.write(json.dumps({"until": until, "anomalies": found}, ensure_ascii=False) + "\n")
        return
    if not found:
        out.print(t("No anomaly."))
    for item in found:
        _print(item)


def _report(report: Any) -> dict[str, Any]:
    f = report.finding
    data = report.explanation()
    return {"id": report.anomaly_id, "kpi": f.kpi, "name": report.kpi.label("en"), "kind": f.kind,
            "method": f.method, "direction": f.direction, "started": data["trace"].get("started"),
            "detected": data["trace"].get("detected"), "baseline": f.baseline, "observed": f.observed,
            "effect": f.effect, "p_value": f.p_value, "unit": report.kpi.unit, **data}


def _print(item: dict[str, Any]) -> None:
    out.print(t("{kpi}: {direction} {effect} ({kind}), started {started}, detected {detected}",
                kpi=item["kpi"], direction=t(DIRECTIONS[item["direction"]]), effect=f"{item['effect']:+.0%}",
                kind=item["method"], started=item["started"], detected=item["detected"]))
    if len(item["chain"]) > 1:
        out.print("  " + t("Funnel: {chain}", chain=" ← ".join(item["chain"])))
    for dim in item["dimensions"]:
        values = ", ".join(f"{e['value']} ({e['explanatory_power']:.0%})" for e in dim["elements"])
        out.print("  " + t("Explained by {dimension}: {values}", dimension=dim["dimension"], values=values))
    for change in item["changes"]:
        out.print("  " + t("Change #{id} {title} ({reasons})", id=change["id"], title=change["title"],
                           reasons=", ".join(change["reasons"])))
