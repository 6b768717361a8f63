"""``evenhand capture wecom pull`` and ``evenhand capture dingtalk pull``: backfill over a window of days (in the
organisation's zone) with a progress bar, then the counts (``capture.pull``). A missing setting or a platform's
refusal (its errcode and errmsg) is printed and exits with 1; what was stored before it stays."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from evenhand.capture import pull
from evenhand.capture.dingtalk_client import DingTalkClient
from evenhand.capture.platform import PlatformClient, PlatformError
from evenhand.capture.wecom_client import WeComClient
from evenhand.config import Settings, get_settings
from evenhand.db import get_engine
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import utcnow

wecom_app = Typer(help=N_("WeCom (企业微信): backfill of the public-phone call records."), no_args_is_help=True)
dingtalk_app = Typer(help=N_("DingTalk (钉钉): backfill of the CRM's follow records."), no_args_is_help=True)
out, err = Console(), Console(stderr=True)
Day = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help=N_("The first day (the organisation's zone)"))]
LastDay = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                  help=N_("The last day, included; default today"))]
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of a sentence"))]
Puller = Callable[..., pull.Counts]


def window(settings: Settings, since: datetime, until: datetime | None) -> tuple[datetime, datetime]:
    """From the first day's midnight to the end of the last day (or now, if sooner), in the organisation's zone."""
    start = datetime.combine(since.date(), time(), settings.zone)
    now = utcnow().astimezone(settings.zone)
    end = min(datetime.combine((until or now).date() + timedelta(days=1), time(), settings.zone), now)
    if end <= start:
        terminal.fail(err, t("The window is empty: --since must be a day before --until and before today."))
    return start, end


def run_pull(connector: str, make: Callable[[Settings], PlatformClient], work: Puller, since: datetime,
             until: datetime | None, as_json: bool) -> None:
    settings = get_settings()
    start, end = window(settings, since, until)
    try:
        with make(settings) as client, terminal.progress_bar(err, transient=as_json) as bar:
            task = bar.add_task(t("Pulling"), total=None)
            counts = work(get_engine(), client, since=start, until=end,
                          progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DomainError as exc:
        terminal.print_domain_error(err, exc)
        raise typer.Exit(code=1) from None
    except PlatformError as exc:
        terminal.fail(err, escape(t("The platform refused: {problem}", problem=str(exc))))
    _report(connector, start, end, counts, as_json)


def _report(connector: str, start: datetime, end: datetime, counts: pull.Counts, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"connector": connector, "since": start.isoformat(), "until": end.isoformat(),
                                     **counts.as_dict()}) + "\n")
        return
    out.print(t("Pulled {since} to {until}: {fetched} fetched, {stored} stored, {already_had} already had, "
                "{unmatched} unmatched (in the reconciliation list), {skipped} skipped.",
                since=start.date().isoformat(), until=(end - timedelta(seconds=1)).date().isoformat(),
                fetched=counts.fetched, stored=counts.stored, already_had=counts.already_had,
                unmatched=counts.unmatched, skipped=counts.skipped))


@wecom_app.command("pull", help=N_("Backfill: capture WeCom's public-phone call records of the days given, linked "
                                   "to leads by external contact or number (nothing is stored twice)."))
def wecom_pull(since: Day, until: LastDay = None, as_json: AsJson = False) -> None:
    run_pull("wecom", WeComClient, pull.pull_wecom, since, until, as_json)


@dingtalk_app.command("pull", help=N_("Backfill: capture the follow records of DingTalk's CRM created on the days "
                                      "given, as notes (nothing is stored twice)."))
def dingtalk_pull(since: Day, until: LastDay = None, as_json: AsJson = False) -> None:
    run_pull("dingtalk", DingTalkClient, pull.pull_dingtalk, since, until, as_json)
