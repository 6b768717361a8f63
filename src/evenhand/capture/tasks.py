"""The capture connectors' part in the worker: receipts of events taken are pruned once no replay can need them;
Microsoft Graph's queued notifications are worked every 30 seconds, and its subscriptions renewed (or created) every
hour, well before they expire. WeCom's call records are pulled every three hours and DingTalk's CRM follow records
daily, each over a window reaching back past the previous run (a pull stores nothing twice), while the platform's
secret is set."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.capture import graph, pull, service
from evenhand.capture.dingtalk_client import DingTalkClient
from evenhand.capture.graph_client import GraphClient
from evenhand.capture.platform import PlatformError
from evenhand.capture.wecom_client import WeComClient
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


@jobs.every(3 * 3600, name="capture.wecom_pull")
def wecom_pull(session: Session, now: datetime) -> None:
    """The call records of the last day (WeCom has no callback for them); nothing while the corp secret is unset. A
    platform error is counted as the connector's error and kept with the pull (``capture.pull``)."""
    settings = get_settings()
    if not (settings.wecom_corp_id and settings.wecom_corp_secret):
        return
    try:
        with WeComClient(settings) as client:
            pull.pull_wecom(cast(Engine, session.get_bind()), client, since=now - timedelta(days=1), until=now)
    except PlatformError:
        pass  # recorded by the pull; the next run reaches back over this one's window


@jobs.every(24 * 3600, name="capture.dingtalk_pull")
def dingtalk_pull(session: Session, now: datetime) -> None:
    """The CRM follow records created in the last two days; nothing while the app secret is unset."""
    settings = get_settings()
    if not (settings.dingtalk_app_key and settings.dingtalk_app_secret):
        return
    try:
        with DingTalkClient(settings) as client:
            pull.pull_dingtalk(cast(Engine, session.get_bind()), client, since=now - timedelta(days=2), until=now)
    except PlatformError:
        pass  # recorded by the pull, as above
