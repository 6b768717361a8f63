"""``evenhand capture``: the connectors' status and test events (``capture.connectors``); ``graph`` holds Microsoft
Graph's subscriptions and backfill, ``wecom`` and ``dingtalk`` their platforms' backfill pulls."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evenhand.capture import connectors
from evenhand.capture.graph_cli import graph_app
from evenhand.capture.pull_cli import dingtalk_app, wecom_app
from evenhand.config import get_settings
from evenhand.db import get_engine, session_scope
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.clihelp import Typer
from evenhand.kit.clock import local

capture_app = Typer(help=N_("Capture connectors: their status, and test events."), no_args_is_help=True)
capture_app.add_typer(graph_app, name="graph")
capture_app.add_typer(wecom_app, name="wecom")
capture_app.add_typer(dingtalk_app, name="dingtalk")
out = Console()
AsJson = Annotated[bool, typer.Option("--json", help=N_("Print one JSON object instead of tables"))]
Url = Annotated[str, typer.Option("--url", help=N_("This server's address, when EVENHAND_PUBLIC_URL is not set"))]


@capture_app.command("status", help=N_("Each connector: configured or the settings it lacks, events taken, requests "
                                       "refused, the last of each."))
def status(as_json: AsJson = False) -> None:
    settings = get_settings()
    with session_scope(get_engine(), readonly=True) as session:
        views = connectors.overview(session, settings)
    if as_json:
        sys.stdout.write(json.dumps({"connectors": [_record(v) for v in views]}, ensure_ascii=False) + "\n")
        return
    table = Table(t("Connector"), t("Configured"), t("Events"), t("Last event"), t("Errors"), t("Last error"))
    for view in views:
        health = view.health
        table.add_row(t(view.connector.label), t("yes") if view.configured else t("missing: {settings}",
                                                                                 settings=", ".join(view.missing)),
                      str(health.events), _when(health.last_event_at), str(health.errors),
                      escape(f"{_when(health.last_error_at)} {health.last_error or ''}".strip()))
    out.print(table)


def _record(view: connectors.View) -> dict[str, Any]:
    health = view.health
    return {"connector": view.connector.name, "configured": view.configured, "missing": view.missing,
            "events": health.events, "errors": health.errors,
            "last_event_at": health.last_event_at.isoformat() if health.last_event_at else None,
            "last_error_at": health.last_error_at.isoformat() if health.last_error_at else None,
            "last_error": health.last_error}


def _when(at: datetime | None) -> str:
    return local(at, get_settings().zone).strftime("%Y-%m-%d %H:%M") if at else "—"


@capture_app.command("test", help=N_("Send a connector a test event, signed as its platform would sign it, to this "
                                     "server over HTTP; it is counted and stores no activity."))
def test(connector: Annotated[str, typer.Argument(help=N_("wecom, dingtalk, outlook or telephony"))],
         url: Url = "http://127.0.0.1:8000") -> None:
    if connector not in connectors.CONNECTORS:
        terminal.fail(out, t("No connector {name}; the connectors are {known}.", name=connector,
                             known=", ".join(connectors.CONNECTORS)))
    result = asyncio.run(connectors.send_test(get_settings(), connector, url))
    if result.missing:
        terminal.fail(out, t("{connector} is not configured: set {settings}.", connector=connector,
                             settings=", ".join(result.missing)))
    if not result.ok:
        terminal.fail(out, escape(t("The test event failed: {reason}", reason=_answer(result))))
    out.print(escape(t("{connector} accepted the test event: {answer}", connector=connector,
                       answer=_answer(result))), style="green")


def _answer(result: connectors.TestResult) -> str:
    return f"{result.status} {result.answer}".strip() if result.status is not None else result.reason
