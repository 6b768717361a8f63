"""The capture connectors' part in the worker: receipts of events taken are pruned once no replay can need them;
Microsoft Graph's queued notifications are worked every 30 seconds, and its subscriptions renewed (or created) every
hour, well before they expire."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.capture import graph, service
from evenhand.capture.graph_client import GraphClient
from evenhand.config import Settings, get_settings
from evenhand.notify import jobs


@jobs.every(3600, name="capture.prune_receipts")
def prune_receipts(session: Session, now: datetime) -> None:
    """Hourly: receipts older than four replay windows (at least a day) go (``service.keep_receipts``)."""
    service.prune(session, now=now, window_seconds=get_settings().capture_replay_window_seconds)


@jobs.every(30, name="capture.graph_queue")
def graph_queue(session: Session, now: datetime) -> None:
    """Fetch what queued Graph notifications name and capture it, in transactions of its own (``graph.drain``): the
    job's session is left unused so no transaction is held while Graph answers."""
    graph.drain(cast(Engine, session.get_bind()), get_settings(), now=now)


def graph_configured(settings: Settings) -> bool:
    return bool(settings.graph_tenant_id and settings.graph_client_id and settings.graph_client_secret
                and settings.graph_notification_url and settings.graph_mailboxes)


@jobs.every(3600, name="capture.graph_subscriptions")
def graph_subscriptions(session: Session, now: datetime) -> None:
    """Renew the subscriptions expiring within a day and create those the mailboxes lack; nothing while Graph is not
    configured."""
    settings, engine = get_settings(), cast(Engine, session.get_bind())
    if not graph_configured(settings):
        return
    with GraphClient(settings) as client:
        graph.renew(engine, settings, client, now=now)
        graph.subscribe(engine, settings, client, now=now)
