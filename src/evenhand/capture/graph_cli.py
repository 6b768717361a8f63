"""``evenhand capture graph``: Microsoft Graph subscriptions (create, renew), a backfill pull, and their status. Each
command calls ``capture.graph``; a setting missing or Graph refusing is printed and exits with 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evenhand.capture import graph
from evenhand.capture.graph_client import GraphClient, GraphError
from evenhand.config import get_settings
from evenhand.db import get_engine
from evenhand.errors import DomainError
from evenhand.i18n import N_, plural, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import utcnow

graph_app = Typer(help=N_("Microsoft Graph (Outlook mail and calendar): subscriptions, backfill and their status."),
                  no_args_is_help=True)
out = Console()


@contextmanager
def _client() -> Iterator[GraphClient]:
    """A client to Graph; a missing setting or a Graph failure is printed and exits with 1."""
    try:
        with GraphClient(get_settings()) as client:
            yield client
    except DomainError as exc:
        terminal.print_domain_error(out, exc)
        raise typer.Exit(code=1) from None
    except GraphError as exc:
        terminal.fail(out, escape(t("Microsoft Graph refused: {problem}", problem=str(exc))))


def _ids(work: Callable[[GraphClient], list[str]], counted: Callable[[int], str]) -> None:
    with _client() as client:
        done = work(client)
    out.print(t(counted(len(done)), count=len(done)))
    for subscription_id in done:
        out.print(f"  {subscription_id}")


@graph_app.command("subscribe", help=N_("Subscribe to the mail and calendar of every mailbox in "
                                        "EVENHAND_GRAPH_MAILBOXES that has no live subscription."))
def subscribe() -> None:
    settings, engine = get_settings(), get_engine()
    _ids(lambda client: graph.subscribe(engine, settings, client, now=utcnow()),
         lambda n: plural(n, N_("{count} subscription created."), N_("{count} subscriptions created.")))


@graph_app.command("renew", help=N_("Renew the subscriptions that expire within the margin; one Graph no longer "
                                    "knows is created again."))
def renew(hours: Annotated[float, typer.Option("--within-hours", min=0,
                                               help=N_("Renew those expiring within this many hours"))] = 24.0
          ) -> None:
    settings, engine = get_settings(), get_engine()
    _ids(lambda client: graph.renew(engine, settings, client, now=utcnow(), margin=timedelta(hours=hours)),
         lambda n: plural(n, N_("{count} subscription renewed."), N_("{count} subscriptions renewed.")))


@graph_app.command("pull", help=N_("Backfill: capture every mailbox's mail and meetings since a day, by delta query "
                                   "(what was captured before is not stored twice)."))
def pull(since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                        help=N_("The first day (UTC); default yesterday"))] = None
         ) -> None:
    settings, engine, now = get_settings(), get_engine(), utcnow()
    start = datetime.combine(since.date() if since else date.fromordinal(now.toordinal() - 1), time(), UTC)
    with _client() as client:
        tally = graph.pull(engine, settings, client, since=start, now=now)
    out.print(t("Pulled since {day}: {created} created, {updated} updated, {unchanged} unchanged, {waiting} waiting "
                "in the reconciliation list.", day=start.date().isoformat(), created=tally.created,
                updated=tally.updated, unchanged=tally.unchanged, waiting=sum(tally.waiting.values())))


@graph_app.command("status", help=N_("The subscriptions with their expiry, and the notifications queued or given up."))
def status() -> None:
    found = graph.status(get_engine())
    table = Table(t("Subscription"), t("Resource"), t("Expires"), t("Renewed"))
    for sub in found.subscriptions:
        table.add_row(sub.subscription_id, sub.resource, f"{sub.expires_at:%Y-%m-%d %H:%M}",
                      f"{sub.renewed_at:%Y-%m-%d %H:%M}" if sub.renewed_at else "—")
    out.print(table)
    out.print(t("Queued: {queued}; given up: {given_up}.", queued=found.queued, given_up=found.given_up))
    if found.last_error:
        out.print(t("Last error: {error}", error=found.last_error))
