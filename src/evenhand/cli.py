"""The ``evenhand`` command line: each command opens one unit of work and calls a service."""

from __future__ import annotations

import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from evenhand.activities import cli as activities_cli
from evenhand.alerts.cli import alerts_app
from evenhand.audit.cli import audit_app
from evenhand.board.cli import board_app
from evenhand.capture.cli import capture_app
from evenhand.config import forget_settings, get_settings
from evenhand.db import get_engine, session_scope
from evenhand.honesty.cli import honesty_app
from evenhand.i18n import N_, plural, t
from evenhand.intake.cli import import_app
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.leads.predict.cli import scoring_app
from evenhand.models import Level, Role
from evenhand.monitor import impact_cli, scan_cli
from evenhand.monitor.canary_cli import canary_app
from evenhand.monitor.changes_cli import changes_app
from evenhand.monitor.cli import monitor_app
from evenhand.opportunities import cli as opportunities_cli
from evenhand.org import cli as org_cli
from evenhand.performance.cli import scorecard_app
from evenhand.performance.peer_cli import peer_app
from evenhand.qa.cli import qa_app
from evenhand.routing.cli import routing_app
from evenhand.standards.cli import standards_app

if TYPE_CHECKING:
    from evenhand.demo.service import DemoSummary

# Help texts are English sources marked N_; clihelp.Typer translates them as --help is rendered.
app = Typer(help=N_("evenhand — fair lead routing and sales operations."), no_args_is_help=True)


@app.callback()
def _hooks() -> None:
    """Before any command (not for ``--help``, which should answer at once): the hooks every door must run —
    activities coming in are judged by the alerts, a period's close applies the grants its scorecards earn."""
    from evenhand.alerts import tasks  # noqa: F401
    from evenhand.performance import incentives  # noqa: F401
users_app = Typer(help=N_("Manage users."), no_args_is_help=True)
tokens_app = Typer(help=N_("Manage API tokens."), no_args_is_help=True)
report_app = Typer(help=N_("Reports: the monthly fairness report."), no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(import_app, name="import")
import_app.command("org", help=org_cli.HELP)(org_cli.import_org)
import_app.command("accounts", help=opportunities_cli.ACCOUNTS_HELP)(opportunities_cli.import_accounts)
import_app.command("opportunities", help=opportunities_cli.OPPORTUNITIES_HELP)(opportunities_cli.import_opportunities)
import_app.command("activities", help=activities_cli.IMPORT_HELP)(activities_cli.import_activities)
import_app.command("contracts", help=opportunities_cli.CONTRACTS_HELP)(opportunities_cli.import_contracts)
import_app.command("payments", help=opportunities_cli.PAYMENTS_HELP)(opportunities_cli.import_payments)
import_app.command("surveys", help=opportunities_cli.SURVEYS_HELP)(opportunities_cli.import_surveys)
import_app.command("complaints", help=opportunities_cli.COMPLAINTS_HELP)(opportunities_cli.import_complaints)
app.add_typer(activities_cli.activities_app, name="activities")
app.add_typer(scoring_app, name="scoring")
app.add_typer(routing_app, name="routing")
app.add_typer(standards_app, name="standards")
app.add_typer(report_app, name="report")
app.add_typer(capture_app, name="capture")
app.add_typer(honesty_app, name="honesty")
app.add_typer(alerts_app, name="alerts")
app.add_typer(board_app, name="board")
app.add_typer(qa_app, name="qa")
app.add_typer(scorecard_app, name="scorecard")
app.add_typer(peer_app, name="peer")
app.add_typer(monitor_app, name="monitor")
monitor_app.command("scan", help=scan_cli.HELP)(scan_cli.scan)
app.add_typer(changes_app, name="changes")
changes_app.command("impact", help=impact_cli.HELP)(impact_cli.impact)
app.add_typer(canary_app, name="canary")
console = Console()
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
Host = Annotated[str, typer.Option(help=N_("Interface to listen on"))]
Port = Annotated[int, typer.Option(help=N_("Port to listen on"))]


def progress_bar() -> Progress:
    return terminal.progress_bar(console)


def _fail(message: str) -> NoReturn:
    terminal.fail(console, message)


class Starter(StrEnum):
    DEMO = "demo"
    NEUTRAL = "neutral"


StarterOption = Annotated[Starter, typer.Option(
    "--starter", case_sensitive=False,
    help=N_("The rule model and routing policy a new database starts with: demo (the demo company's, for a Chinese "
            "B2B vendor with regional teams; the default, as before) or neutral (no industry, region or source "
            "assumptions; one pool for everyone). A database that has them already keeps its own."))]


@app.command(help=N_("Create or upgrade the database schema, and install the starting rule model and routing policy."))
def init(starter: StarterOption = Starter.DEMO) -> None:
    from evenhand.leads import scoring_service
    from evenhand.leads.scoring.schema import starter_text as scoring_starter
    from evenhand.migrate import upgrade
    from evenhand.routing import policy_versions
    from evenhand.routing.policy import starter_text as routing_starter

    engine = get_engine()
    upgrade(engine)
    console.print(t("Database ready: {url}", url=engine.url.render_as_string(hide_password=True)))
    note = f"the {starter.value} starter shipped with evenhand"
    with session_scope(engine) as session:
        model = scoring_service.MODELS.install(session, scoring_starter(starter.value), note=note)
        policy = policy_versions.POLICIES.install(session, routing_starter(starter.value), note=note)
    for label, (row, installed) in ((N_("Scoring model"), model), (N_("Routing policy"), policy)):
        console.print(t("{document}: installed the {starter} starter as version 1.", document=t(label),
                        starter=starter.value) if installed else
                      t("{document}: version {version} is active and stays as it is.", document=t(label),
                        version=row.version))


@users_app.command("create", help=N_("Create a user who can sign in. Given a person's name (\"Anna Lee\", 张伟) "
                                     "instead of a username, it makes the username from the name and prints it."))
def users_create(
    username: Annotated[str, typer.Argument(help=N_("The name to sign in with, or the person's name"))],
    display_name: Annotated[str, typer.Option("--name", help=N_("Display name; default: the username"))] = "",
    role: Annotated[Role, typer.Option(case_sensitive=False, help=N_("What the user may see and do"))] = Role.REP,
    level: Annotated[Level, typer.Option(case_sensitive=False, help=N_("Seniority"))] = Level.JUNIOR,
    team_id: Annotated[int | None, typer.Option("--team-id", help=N_("The team's id"))] = None,
    password: Annotated[str | None, typer.Option(help=N_("Prompted for when omitted"))] = None,
) -> None:
    from pydantic import ValidationError

    from evenhand.errors import DomainError, describe
    from evenhand.org import service, usernames
    from evenhand.org.schemas import UserCreate

    if not display_name and usernames.looks_like_a_name(username):
        with session_scope(readonly=True) as session:
            display_name, username = username.strip(), service.username_for(session, username) or username
        console.print(t("Username {username}, made from the name {name}.", username=username, name=display_name))
    secret = password or typer.prompt(t("Password"), hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, display_name=display_name or username, role=role, level=level,
                          team_id=team_id, password=secret)
        with session_scope() as session:
            user = service.create_user(session, data, actor=None)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(map(str, first['loc']))}: {describe(first)}")
    except DomainError as exc:
        _fail(f"{exc.field}: {t(exc.message, **exc.params)}")
    console.print(t("Created user {name} (id {id}, role {role}).", name=user.username, id=user.id,
                    role=user.role.value))


@tokens_app.command("create", help=N_("Mint a bearer token; it is printed once, alone on the last line."))
def tokens_create(
    user: Annotated[str, typer.Option("--user", help=N_("Username the token acts for"))],
    role: Annotated[Role, typer.Option("--role", case_sensitive=False, help=N_("The role the token acts in"))],
    name: Annotated[str, typer.Option(help=N_("What the token is for"))] = "api",
) -> None:
    from evenhand.auth import service
    from evenhand.errors import DomainError

    try:
        with session_scope() as session:
            token, row = service.create_token(session, username=user, role=role, name=name)
    except DomainError as exc:
        _fail(f"{exc.field}: {t(exc.message, **exc.params)}")
    console.print(t("Token {id} for {user} as {role}; store it now, it is not shown again:", id=row.id,
                    user=user, role=role.value))
    sys.stdout.write(token + "\n")


@tokens_app.command("revoke", help=N_("Revoke a token by id."))
def tokens_revoke(token_id: Annotated[int, typer.Argument(help=N_("The token's id"))]) -> None:
    from evenhand.auth import service
    from evenhand.errors import DomainError

    try:
        with session_scope() as session:
            service.revoke_token(session, token_id=token_id)
    except DomainError as exc:
        _fail(t(exc.message, **exc.params))
    console.print(t("Token {id} revoked.", id=token_id))


def _print_domain_error(exc: object) -> None:
    from evenhand.errors import DomainError

    assert isinstance(exc, DomainError)
    terminal.print_domain_error(console, exc)


@scoring_app.command("rescore", help=N_("Rescore every lead with the active rule model (vectorised), in one "
                                        "transaction."))
def scoring_rescore(
    as_of_intake: Annotated[bool, typer.Option("--as-of-intake",
                                               help=N_("Score each lead as it was on arrival"))] = False,
) -> None:
    from evenhand.kit.clock import utcnow
    from evenhand.leads import scoring_bulk

    with progress_bar() as bar, session_scope() as session:
        task = bar.add_task(t("Rescoring leads"), total=None)
        count, version = scoring_bulk.rescore_all(
            session, now=utcnow(), as_of_intake=as_of_intake,
            progress=lambda stage, done, total: bar.update(task, completed=done, total=total,
                                                           description=t(_RESCORE_STAGES[stage])))
    console.print(t(plural(count, N_("Rescored {count} lead with model version {version}."),
                           N_("Rescored {count} leads with model version {version}.")), count=count, version=version))


_RESCORE_STAGES = {"read": N_("Reading leads"), "scored": N_("Scoring"), "written": N_("Saving scores")}


@scoring_app.command("show", help=N_("Print a rule model version (YAML) with its number and note."))
def scoring_show(version: Annotated[int | None, typer.Option(help=N_("A saved version; default the active one"))] = None
                 ) -> None:
    from evenhand.errors import DomainError
    from evenhand.leads import scoring_service

    try:
        with session_scope() as session:
            row = scoring_service.version(session, version) if version else scoring_service.active(session)
    except DomainError as exc:
        _fail(t(exc.message, **exc.params))
    # The header goes to stderr: what stdout carries is the document alone, which `scoring set` takes back.
    Console(stderr=True).print(t("Version {version} ({name}), {note}", version=row.version, name=row.name,
                                 note=row.note or "—"), style="bold")
    sys.stdout.write(row.body if row.body.endswith("\n") else row.body + "\n")


@scoring_app.command("set", help=N_("Validate a rule model and save it as the next active version."))
def scoring_set(file: Annotated[Path, typer.Argument(help=N_("YAML rule model"))],
                note: Annotated[str, typer.Option(help=N_("Why it changed"))] = "") -> None:
    from evenhand.errors import DomainError
    from evenhand.leads import scoring_service

    if not file.exists():
        _fail(t("No such file: {path}", path=str(file)))
    try:
        with session_scope() as session:
            row = scoring_service.save(session, file.read_text(encoding="utf-8"), author=None, note=note)
    except DomainError as exc:
        terminal.print_domain_error(console, exc, source=str(file))
        raise typer.Exit(code=1) from exc
    console.print(t("Saved as version {version}; new scores use it. Run 'evenhand scoring rescore' to rescore "
                    "existing leads.", version=row.version))


@report_app.command("fairness", help=N_("The monthly fairness report (每月公示) per team, written as HTML, CSV, "
                                         "XLSX or PDF."))
def report_fairness(
    month: Annotated[str, typer.Option("--month", help=N_("YYYY-MM, in the organisation's time zone"))],
    team: Annotated[str | None, typer.Option("--team", help=N_("One team, by name; default every team"))] = None,
    fmt: Annotated[str, typer.Option("--format", help=N_("html, csv, xlsx or pdf"))] = "html",
    out: Annotated[Path | None, typer.Option("--out", help=N_("Default: fairness-YYYY-MM.<format> here"))] = None,
    db: Db = None,
) -> None:
    from evenhand.errors import DomainError
    from evenhand.i18n import current_locale
    from evenhand.reports import export
    from evenhand.reports import service as report_service
    from evenhand.reports import view as report_view

    zone = get_settings().zone
    try:
        parsed = report_service.parse_month(month, zone=zone)
    except DomainError as exc:
        _fail(f"--month: {t(exc.message, **exc.params)}")
    if fmt not in export.FORMATS:
        _fail(t("--format must be one of {choices}, not {value}.", choices=", ".join(export.FORMATS), value=fmt))
    target = out or Path(f"fairness-{parsed.label}.{fmt}")
    steps = len(report_service.STEPS) + 1
    with progress_bar() as bar:
        task = bar.add_task(t("Reading the organisation"), total=steps)
        try:
            with session_scope(get_engine(db) if db else None, readonly=True) as session:
                report = report_service.build(
                    session, month=parsed, zone=zone, principal=None, team_name=team,
                    progress=lambda step, done, _: bar.update(task, completed=done, description=t(_REPORT_STEPS[step])))
        except DomainError as exc:
            bar.stop()
            _fail((f"--{exc.field}: " if exc.field else "") + t(exc.message, **exc.params))
        file = export.export(report, cast("export.Format", fmt), current_locale())
        target.write_bytes(file.content)
        bar.update(task, completed=steps, description=t("Report written"))
    teams, leads = len(report.teams), sum(tm.leads for tm in report.teams)
    console.print(t("Fairness report for {month}: {teams}, {leads} → {path}", month=parsed.label, path=str(target),
                    teams=t(plural(teams, N_("{count} team"), N_("{count} teams")), count=teams),
                    leads=t(plural(leads, N_("{count} lead"), N_("{count} leads")), count=leads)))
    console.print(report_view.arrivals_line(report, t))


_REPORT_STEPS = {"teams": N_("Reading routing decisions"), "decisions": N_("Reading leads without a routing decision"),
                 "leads": N_("Reading won deals and appeals"), "outcomes": N_("Computing the report"),
                 "computed": N_("Writing the file")}


@app.command(help=N_("Serve the web UI and the API."))
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(min=1, help=N_("Server processes (PostgreSQL for more than one)"))] = 1,
) -> None:
    import uvicorn

    from evenhand.db import is_sqlite

    settings = get_settings()
    if workers > 1 and is_sqlite(settings.db_url):
        console.print(t("Several workers on SQLite work but queue on its single writer; use PostgreSQL."))
    settings.secret()  # create the key before workers start, so they all read the same one
    background = None
    if settings.worker_in_serve and is_sqlite(settings.db_url):  # the embedded database needs no worker process
        from evenhand import asgi
        from evenhand.notify.worker import start_in_background

        background = start_in_background(get_engine(), settings)
        # uvicorn ends the process by re-raising SIGTERM after its shutdown, so stop the worker in the shutdown.
        asgi.app.router.add_event_handler("shutdown", background.stop)
    try:
        # X-Forwarded-For and -Proto are believed from EVENHAND_TRUSTED_PROXIES only (uvicorn's default trusts
        # any local client, which would let it pick the address sign-in is throttled by).
        uvicorn.run("evenhand.asgi:app", host=host, port=port, workers=workers, log_level="info",
                    proxy_headers=True, forwarded_allow_ips=[str(net) for net in settings.trusted_proxies])
    finally:
        if background is not None:
            background.stop()


@app.command(help=N_("Send the notification outbox, escalate unacknowledged notifications, run periodic jobs.\n\n"
                     "SIGTERM or Ctrl+C finishes the batch in hand, then exits. Several may run at once on "
                     "PostgreSQL."))
def worker(
    once: Annotated[bool, typer.Option("--once", help=N_("Work until nothing is due, then exit"))] = False,
    db: Db = None,
) -> None:
    from evenhand.notify import jobs
    from evenhand.notify.worker import Tick, Worker, stop_on_signals

    loaded = jobs.load_tasks()
    runner = Worker(get_engine(db) if db else get_engine(), get_settings())
    stop_on_signals(runner)
    count, modules = len(jobs.registered()), len(loaded)
    console.print(t("Worker {name}: {jobs} ({modules}).", name=runner.name,
                    jobs=t(plural(count, N_("{count} periodic job"), N_("{count} periodic jobs")), count=count),
                    modules=t(plural(modules, N_("{count} task module"), N_("{count} task modules")), count=modules)))
    totals = {"delivered": 0, "failed": 0, "escalated": 0}
    with progress_bar() as bar:
        task = bar.add_task(t("Sending notifications"), total=None)

        def show(tick: Tick) -> None:
            for name in totals:
                totals[name] += getattr(tick, name)
            bar.update(task, advance=tick.delivered + tick.failed, description=t(
                "{delivered} delivered, {failed} failed, {escalated} escalated", delivered=totals["delivered"],
                failed=totals["failed"], escalated=totals["escalated"]))

        runner.run(once=once, on_tick=show)
    console.print(t("Worker stopped: {delivered} delivered, {failed} failed, {escalated} escalated.",
                    delivered=totals["delivered"], failed=totals["failed"], escalated=totals["escalated"]))


@app.command(help=N_("Build the demo company (12 months of simulated history) and serve it."))
def demo(
    seed: Annotated[int, typer.Option(help=N_("Random seed; the same seed and end date give the same data"))] = 7,
    db: Annotated[Path, typer.Option(help=N_("SQLite file to build the demo into"))] = Path("var/demo.sqlite"),
    end_date: Annotated[str | None, typer.Option(
        "--end-date",
        help=N_("Last day of history (YYYY-MM-DD); by default the last day whose 17:00 in Shanghai has passed")
    )] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help=N_("Build only, do not start the server"))] = False,
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    import os

    from evenhand.audit import service as audit_service
    from evenhand.demo.service import build
    from evenhand.migrate import upgrade

    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        _fail(t("--end-date must look like 2026-11-27."))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db.resolve()}"
    audit_service.forget(get_settings(), url)  # a new chain: the old demo's checkpoints do not apply to it
    engine = get_engine(url)
    upgrade(engine)
    with progress_bar() as bar:
        task = bar.add_task(t("Building the demo company"), total=1.0)
        summary = build(engine, seed=seed, end_date=end,
                        progress=lambda label, done: bar.update(task, completed=done, description=t(label)))
    _print_summary(summary)
    if not no_serve:
        os.environ["EVENHAND_DATABASE_URL"] = url
        forget_settings()
        serve(host=host, port=port, workers=1)


def _print_summary(summary: DemoSummary) -> None:
    from evenhand.web.labels import label

    counts = Table(title=t("Demo rows"))
    counts.add_column(t("Table"))
    counts.add_column(t("Rows"), justify="right")
    for table, n in summary.counts.items():
        counts.add_row(table, f"{n:,}")
    console.print(counts)
    console.print(t("Seeded in {seconds:.1f} s.", seconds=summary.seconds))
    accounts = Table(title=t("Sign in with (password: {pw})", pw=summary.password))
    for column in (N_("Username"), N_("Role"), N_("Name"), N_("Team")):
        accounts.add_column(t(column))
    reps = [a for a in summary.accounts if a.role == Role.REP.value]
    for login in [a for a in summary.accounts if a.role != Role.REP.value] + reps[:SHOWN_REPS]:
        accounts.add_row(login.username, t(label(Role(login.role))), login.display_name, login.team or "")
    console.print(accounts)
    if len(reps) > SHOWN_REPS:
        more = len(reps) - SHOWN_REPS
        console.print(t(plural(more, N_("…and {n} more rep; the Admin page lists everyone."),
                               N_("…and {n} more reps; the Admin page lists everyone.")), n=more))


SHOWN_REPS = 6


if __name__ == "__main__":
    app()
