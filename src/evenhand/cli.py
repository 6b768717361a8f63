"""The ``evenhand`` command line: each command opens one unit of work and calls a service."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from evenhand.audit.cli import audit_app
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, t
from evenhand.intake.cli import import_app
from evenhand.kit import terminal
from evenhand.leads.predict.cli import scoring_app
from evenhand.models import Level, Role
from evenhand.routing.cli import routing_app

if TYPE_CHECKING:
    from evenhand.demo.service import DemoSummary

app = typer.Typer(help="evenhand — fair lead routing and sales operations.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
report_app = typer.Typer(help="Reports: the monthly fairness report.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(import_app, name="import")
app.add_typer(scoring_app, name="scoring")
app.add_typer(routing_app, name="routing")
app.add_typer(report_app, name="report")
console = Console()


def progress_bar() -> Progress:
    return terminal.progress_bar(console)


def _fail(message: str) -> NoReturn:
    terminal.fail(console, message)


@app.command()
def init() -> None:
    """Create or upgrade the database schema."""
    from evenhand.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    console.print(t("Database ready: {url}", url=engine.url.render_as_string(hide_password=True)))


@users_app.command("create")
def users_create(
    username: str,
    display_name: Annotated[str, typer.Option("--name", help="Display name")] = "",
    role: Annotated[Role, typer.Option(case_sensitive=False)] = Role.REP,
    level: Annotated[Level, typer.Option(case_sensitive=False)] = Level.JUNIOR,
    team_id: Annotated[int | None, typer.Option("--team-id")] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted")] = None,
) -> None:
    """Create a user who can sign in."""
    from pydantic import ValidationError

    from evenhand.errors import DomainError
    from evenhand.org import service
    from evenhand.org.schemas import UserCreate

    secret = password or typer.prompt(t("Password"), hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, display_name=display_name or username, role=role, level=level,
                          team_id=team_id, password=secret)
        with session_scope() as session:
            user = service.create_user(session, data, actor=None)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    except DomainError as exc:
        _fail(f"{exc.field}: {t(exc.message, **exc.params)}")
    console.print(t("Created user {name} (id {id}, role {role}).", name=user.username, id=user.id,
                    role=user.role.value))


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="Username the token acts for")],
    role: Annotated[Role, typer.Option("--role", case_sensitive=False)],
    name: Annotated[str, typer.Option(help="What the token is for")] = "api",
) -> None:
    """Mint a bearer token; it is printed once, alone on the last line."""
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


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by id."""
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


@scoring_app.command("rescore")
def scoring_rescore(
    as_of_intake: Annotated[bool, typer.Option("--as-of-intake", help="Score each lead as it was on arrival")] = False,
) -> None:
    """Rescore every lead with the active rule model (vectorised), in one transaction."""
    from evenhand.kit.clock import utcnow
    from evenhand.leads import scoring_bulk

    with progress_bar() as bar, session_scope() as session:
        task = bar.add_task(t("Rescoring leads"), total=None)
        count, version = scoring_bulk.rescore_all(
            session, now=utcnow(), as_of_intake=as_of_intake,
            progress=lambda stage, done, total: bar.update(task, completed=done, total=total,
                                                           description=t(_RESCORE_STAGES[stage])))
    console.print(t("Rescored {count} leads with model version {version}.", count=count, version=version))


_RESCORE_STAGES = {"read": N_("Reading leads"), "scored": N_("Scoring"), "written": N_("Saving scores")}


@scoring_app.command("show")
def scoring_show(version: Annotated[int | None, typer.Option(help="A saved version; default the active one")] = None
                 ) -> None:
    """Print a rule model version (YAML) with its number and note."""
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


@scoring_app.command("set")
def scoring_set(file: Annotated[Path, typer.Argument(help="YAML rule model")],
                note: Annotated[str, typer.Option(help="Why it changed")] = "") -> None:
    """Validate a rule model and save it as the next active version."""
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


@report_app.command("fairness")
def report_fairness(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, in the organisation's time zone")],
    team: Annotated[str | None, typer.Option("--team", help="One team, by name; default every team")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, csv, xlsx or pdf")] = "html",
    out: Annotated[Path | None, typer.Option("--out", help="Default: fairness-YYYY-MM.<format> here")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL; default the configured one")] = None,
) -> None:
    """The monthly fairness report (每月公示) per team, written as HTML, CSV, XLSX or PDF."""
    from evenhand.errors import DomainError
    from evenhand.i18n import current_locale
    from evenhand.reports import export
    from evenhand.reports import service as report_service

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
    console.print(t("Fairness report for {month}: {teams} teams, {leads} leads → {path}", month=parsed.label,
                    teams=len(report.teams), leads=sum(tm.leads for tm in report.teams), path=str(target)))


_REPORT_STEPS = {"teams": N_("Reading routing decisions"), "decisions": N_("Reading leads without a routing decision"),
                 "leads": N_("Reading won deals and appeals"), "outcomes": N_("Computing the report"),
                 "computed": N_("Writing the file")}


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (PostgreSQL for more than one)")] = 1,
) -> None:
    """Serve the web UI and the API."""
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


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Work until nothing is due, then exit")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Database URL; default the configured one")] = None,
) -> None:
    """Send the notification outbox, escalate unacknowledged notifications, run periodic jobs.

    SIGTERM or Ctrl+C finishes the batch in hand, then exits. Several may run at once on PostgreSQL.
    """
    from evenhand.notify import jobs
    from evenhand.notify.worker import Tick, Worker, stop_on_signals

    loaded = jobs.load_tasks()
    runner = Worker(get_engine(db) if db else get_engine(), get_settings())
    stop_on_signals(runner)
    console.print(t("Worker {name}: {count} periodic jobs ({modules} task modules).", name=runner.name,
                    count=len(jobs.registered()), modules=len(loaded)))
    totals = {"delivered": 0, "failed": 0, "escalated": 0}
    with progress_bar() as bar:
        task = bar.add_task(t("Sending notifications"), total=None)

        def show(tick: Tick) -> None:
            for name in totals:
                totals[name] += getattr(tick, name)
            bar.update(task, advance=tick.delivered + tick.failed, description=t(
                "{delivered} delivered, {failed} failed, {escalated} escalations", delivered=totals["delivered"],
                failed=totals["failed"], escalated=totals["escalated"]))

        runner.run(once=once, on_tick=show)
    console.print(t("Worker stopped: {delivered} delivered, {failed} failed, {escalated} escalations.",
                    delivered=totals["delivered"], failed=totals["failed"], escalated=totals["escalated"]))


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed; the same seed and end date give the same data")] = 7,
    db: Annotated[Path, typer.Option(help="SQLite file to build the demo into")] = Path("var/demo.sqlite"),
    end_date: Annotated[str | None, typer.Option(
        "--end-date",
        help="Last day of history (YYYY-MM-DD); by default the last day whose 17:00 in Shanghai has passed"
    )] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build only, do not start the server")] = False,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Build the demo company (12 months of simulated history) and serve it."""
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
        get_settings.cache_clear()
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
        console.print(t("…and {n} more reps; the Admin page lists everyone.", n=len(reps) - SHOWN_REPS))


SHOWN_REPS = 6


if __name__ == "__main__":
    app()
