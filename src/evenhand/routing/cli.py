"""``evenhand routing``: the policy and its versions, the what-if replay, recorded decisions and the holding
queue from the command line. Each command opens its own unit of work and calls the routing services; errors
name the field or the line and exit with 1, having changed nothing."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import local, utcnow
from evenhand.kit.figures import p_cell

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
routing_app = Typer(help=N_("Lead routing: the policy and its versions, decisions, the holding queue."),
                    no_args_is_help=True)

PolicyFile = Annotated[Path, typer.Option("--policy", help=N_("The candidate policy (YAML)"))]
From = Annotated[str, typer.Option("--from", help=N_("First day, YYYY-MM-DD (the organisation's local date)"))]
To = Annotated[str, typer.Option("--to", help=N_("Last day, inclusive, YYYY-MM-DD (at most 92 days)"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))]
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
PolicyText = Annotated[Path, typer.Argument(help=N_("YAML routing policy"))]
SIDES = (("current", N_("Active policy")), ("candidate", N_("Candidate")))
out, err = Console(), Console(stderr=True)


@routing_app.command("show", help=N_("Print a policy version (YAML) with its number, note and declared impact."))
def show(version: Annotated[int | None, typer.Option(help=N_("A saved version; default the active one"))] = None,
         db: Db = None) -> None:
    from evenhand.routing import policy_versions

    try:
        with session_scope(_engine(db), readonly=True) as session:
            row = policy_versions.version(session, version) if version else policy_versions.active(session)
    except DomainError as exc:
        terminal.refuse(err, exc)
    # The header goes to stderr: what stdout carries is the document alone, which `routing set` takes back.
    err.print(t("Version {version} ({name}), {note}", version=row.version, name=row.name, note=row.note or "—"),
              style="bold")
    if row.affected_metrics:
        err.print(t("May affect: {metrics}", metrics=", ".join(_metric(m) for m in row.affected_metrics)))
    sys.stdout.write(row.body if row.body.endswith("\n") else row.body + "\n")


@routing_app.command("versions", help=N_("Every saved policy version, newest first: who saved it, when, why, and "
                                          "what it may affect."))
def versions(db: Db = None) -> None:
    from evenhand.routing import policy_versions

    zone = get_settings().zone
    with session_scope(_engine(db), readonly=True) as session:
        rows = policy_versions.history(session)
    table = Table(title=t("Routing policy versions"))
    for column in (N_("Version"), N_("Policy"), N_("Saved"), N_("Author"), N_("Note"), N_("May affect")):
        table.add_column(t(column))
    for row, author in rows:
        table.add_row(f"{row.version}{' *' if row.active else ''}", row.name,
                      local(row.created_at, zone).strftime("%Y-%m-%d %H:%M"), author or "—", row.note or "—",
                      ", ".join(_metric(m) for m in row.affected_metrics or []) or "—")
    out.print(table)
    out.print(t("* the active version"), style="dim")


@routing_app.command("check", help=N_("Validate a policy without saving it: every problem with its line, or the "
                                       "pools it defines."))
def check(file: PolicyText) -> None:
    from evenhand.routing import policy_versions

    try:
        policy = policy_versions.validate(terminal.read_text(err, file)).policy
    except DomainError as exc:
        terminal.refuse(err, exc, source=file)
    out.print(t(plural(len(policy.pools), N_("Valid: {name}, {pools} pool, high-value threshold {threshold}."),
                       N_("Valid: {name}, {pools} pools, high-value threshold {threshold}.")),
                name=policy.name, pools=len(policy.pools), threshold=policy.threshold_high_value))
    for pool in policy.pools:
        out.print(f"  {pool.id}: {pool.label or pool.id}" + (f" · {pool.condition}" if pool.condition else ""))


@routing_app.command("set", help=N_("Validate a policy, replay recent leads under it beside the active one, then "
                                     "save it as the next active version — as the policy editor does."))
def set_policy(
    file: PolicyText,
    note: Annotated[str, typer.Option(help=N_("What changed and why"))] = "",
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help=N_("A metric the change may affect (repeat it); default: those the replay shows moving"))
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=92, help=N_("Replay the leads of this many days first"))] = 14,
    db: Db = None,
) -> None:
    from evenhand.routing import policy_versions, whatif

    body = terminal.read_text(err, file)
    today = utcnow().astimezone(get_settings().zone).date()
    try:
        policy_versions.validate(body)
        with session_scope(_engine(db), readonly=True) as session:
            if policy_versions.active(session).body == body:
                terminal.fail(err, t("Nothing to save: the text is the active version."))
        result = _replayed(body, today - timedelta(days=days - 1), today, db)
        _print(result)
        with session_scope(_engine(db)) as session:
            row = policy_versions.save(session, body, author=None, note=note,
                                       affected_metrics=metric or whatif.suggested_metrics(result))
            number = row.version
    except DomainError as exc:
        terminal.refuse(err, exc, source=file)
    out.print(t("Saved as version {version}.", version=number), style="bold green")


def replay_command(policy: PolicyFile, start: From, end: To, as_json: AsJson = False, db: Db = None) -> None:
    first, last = terminal.day(err, start, "--from"), terminal.day(err, end, "--to")
    body = terminal.read_text(err, policy)
    try:
        result = _replayed(body, first, last, db)
    except DomainError as exc:
        terminal.refuse(err, exc, source=policy)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    _print(result)


routing_app.command("replay", help=N_("Replay the leads of a date range under a candidate policy and the active one, "
                                      "side by side."))(replay_command)


@routing_app.command("replay-decision", help=N_("Recompute a recorded routing decision from its recorded inputs and "
                                                 "confirm the same result."))
def replay_decision(decision_id: Annotated[int, typer.Argument(help=N_("The routing decision's id"))],
                    db: Db = None) -> None:
    from evenhand.routing import service

    try:
        with session_scope(_engine(db), readonly=True) as session:
            recorded, replayed = service.replay(session, decision_id)
    except DomainError as exc:
        terminal.refuse(err, exc)
    who = replayed.rep_id if replayed.outcome == "assigned" else t("nobody (held)")
    if recorded.to_dict() != replayed.to_dict():
        terminal.fail(err, t("Decision {id} does NOT replay: recorded rep {recorded}, recomputed {replayed}.",
                             id=decision_id, recorded=recorded.rep_id, replayed=who))
    out.print(t("Decision {id} replays exactly: {track} track, pool {pool}, rep {rep}.", id=decision_id,
                track=replayed.track, pool=replayed.pool_id, rep=who))


@routing_app.command("holds", help=N_("The leads waiting for a rep, oldest first: their pool, how long they have "
                                       "waited, whether escalated."))
def holds(db: Db = None) -> None:
    from evenhand.routing import holds as holding

    with session_scope(_engine(db), readonly=True) as session:
        waiting = holding.waiting(session)
    table = Table(title=t(plural(len(waiting), N_("Holding queue: {count} lead waiting"),
                                 N_("Holding queue: {count} leads waiting")), count=len(waiting)))
    for column in (N_("Lead"), N_("Company"), N_("Pool"), N_("Waiting since"), N_("Minutes"), N_("Escalated")):
        table.add_column(t(column))
    for w in waiting:
        table.add_row(str(w.lead_id), w.company, w.pool, w.held_since.strftime("%m-%d %H:%M"), str(w.minutes),
                      w.escalated_at.strftime("%m-%d %H:%M") if w.escalated_at else "—")
    out.print(table)


@routing_app.command("release", help=N_("Route every held lead again now (the worker does this on its own, and when "
                                         "a rep comes online)."))
def release(db: Db = None) -> None:
    from evenhand.routing import holds as holding

    with session_scope(_engine(db)) as session:
        routed = holding.release_held(session)
        left = len(holding.waiting(session))
    out.print(t(plural(len(routed), N_("{routed} held lead found a rep; {left} still waiting."),
                       N_("{routed} held leads found a rep; {left} still waiting.")), routed=len(routed), left=left))


@routing_app.command("route-unrouted", help=N_("Route the leads that came in without ever being routed (an older "
                                                "import, or while routing was off), oldest first. History is left "
                                                "alone."))
def route_unrouted(since: Annotated[datetime | None, typer.Option(
        "--since", formats=["%Y-%m-%d"], metavar="<date>", help=N_("Only leads created on or after this day"))] = None,
        db: Db = None) -> None:
    from evenhand.routing import flows

    start = since.replace(tzinfo=get_settings().zone) if since else None
    with session_scope(_engine(db)) as session:
        decisions = flows.route_unrouted(session, since=start)
    routed = sum(1 for d in decisions.values() if d.rep_id is not None)
    out.print(t(plural(len(decisions), N_("{count} lead that was never routed: {routed} given to reps, {held} waiting "
                                          "in the holding queue."),
                       N_("{count} leads that were never routed: {routed} given to reps, {held} waiting in the "
                          "holding queue.")), count=len(decisions), routed=routed, held=len(decisions) - routed))


def _replayed(body: str, first: date, last: date, db: str | None) -> dict[str, Any]:
    from evenhand.routing import whatif

    with terminal.progress_bar(err) as bar, session_scope(_engine(db), readonly=True) as session:
        task = bar.add_task(t(whatif.STAGES["read"]), total=None)
        return whatif.replay(session, body, start=first, end=last, progress=lambda stage, done, total: bar.update(
            task, completed=done, total=total, description=t(whatif.STAGES[stage])))


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None


def _metric(name: str) -> str:
    from evenhand.routing.whatif import METRICS

    return t(METRICS[name]) if name in METRICS else name






def _print(result: dict[str, Any]) -> None:
    current = result["policies"]["current"]
    out.print(t(plural(result["leads"], N_("{leads} lead from {start} to {end}: active policy version {version} "
                                           "against the candidate ({seconds} s)."),
                       N_("{leads} leads from {start} to {end}: active policy version {version} against the "
                          "candidate ({seconds} s).")),
                leads=result["leads"], start=result["from"], end=result["to"], version=current["version"],
                seconds=result["seconds"]), style="bold")
    out.print(_reps(result))
    out.print(_teams(result))
    out.print(_totals(result))
    out.print(result["estimator"]["description"], style="dim")


def _reps(result: dict[str, Any]) -> Table:
    table = Table(title=t("Leads per rep (high-value in brackets) and expected conversions"))
    for column in (N_("Rep"), N_("Team"), N_("Owns today"), N_("Active policy"), N_("Candidate"), N_("Change"),
                   N_("Expected conversions")):
        table.add_column(t(column), justify="left" if column in ("Rep", "Team") else "right")
    for row in result["reps"]:
        a, b, d = row["current"], row["candidate"], row["difference"]
        table.add_row(row["name"], row["team"], str(row["actual"]), f"{a['leads']} ({a['high_value']})",
                      f"{b['leads']} ({b['high_value']})", f"{d['leads']:+d} ({d['high_value']:+d})",
                      f"{a['expected_conversions']:.1f} → {b['expected_conversions']:.1f}")
    return table


def _teams(result: dict[str, Any]) -> Table:
    table = Table(title=t("Fairness per team: chi-square against the policy's expected shares, Gini of lead value"))
    table.add_column(t("Team"))
    for _, label in SIDES:
        table.add_column(t("{side}: p-value", side=t(label)), justify="right")
        table.add_column(t("{side}: Gini", side=t(label)), justify="right")
    for row in result["teams"]:
        cells = []
        for side, _ in SIDES:
            figures = row[side] or {}
            chi = figures.get("chi_square")
            cells += [p_cell(chi['p_value']) if chi else "—", f"{figures['gini']:.3f}" if figures else "—"]
        table.add_row(row["team"] or "—", *cells)
    return table


def _totals(result: dict[str, Any]) -> Table:
    table = Table(title=t("Totals"))
    table.add_column(t("Figure"))
    for _, label in SIDES:
        table.add_column(t(label), justify="right")
    table.add_column(t("Change"), justify="right")
    diff = result["difference"]
    for key, label in (("assigned", N_("Leads assigned")), ("held", N_("Still held at the end")),
                       ("high_value", N_("High-value leads assigned")),
                       ("expected_conversions", N_("Expected conversions")), ("gini", N_("Gini of lead value"))):
        change = diff.get(key, result["candidate"][key] - result["current"][key])
        table.add_row(t(label), str(result["current"][key]), str(result["candidate"][key]), f"{change:+g}")
    table.add_row(t("Leads that change hands"), "", "", str(diff["moved"]))
    return table
