"""The notification ops page: delivery and acknowledgement figures, the delivery series per app version
(where the push incident shows), alerts, dead letters with a retry button, channels and policies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import local, utcnow
from evenhand.models import Channel
from evenhand.notify import health, outbox, preferences, service
from evenhand.notify.channels import CONFIGURABLE
from evenhand.notify.outbound import Allowed
from evenhand.notify.schemas import EndpointWrite
from evenhand.org import service as org
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import label, message_kind_label
from evenhand.web.layout import Tr, shell

WINDOWS = {24: N_("Last 24 hours"), 24 * 7: N_("Last 7 days"), 24 * 30: N_("Last 30 days")}
SERIES_DAYS = {30: N_("30 days"), 90: N_("90 days"), 180: N_("180 days"), 365: N_("365 days")}
DIMENSIONS = {"channel": N_("Channel"), "kind": N_("Message kind"), "platform": N_("App platform and version")}
MIN_POINT = 5  # a day with fewer copies than this is left out of the chart, it says nothing


def ops_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Notification delivery"), path="/notifications/ops"):
        if not principal.reads_everything:
            ui.label(tr("Only admin, sales ops and auditors see delivery figures.")).classes("text-grey-7")
            return None
        _figures(tr)
        _series(tr)
        _dead_letters(principal, tr)
        _channels(principal, tr)
        _policies(tr)
    return None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def _figures(tr: Tr) -> None:
    ui.label(tr("Delivery and acknowledgement")).classes("text-h6")
    state = {"hours": 24 * 7}
    ui.toggle({h: tr(label) for h, label in WINDOWS.items()}, value=state["hours"],
              on_change=lambda e: (state.update(hours=e.value), tables.refresh())).props('data-testid="window"')

    @ui.refreshable
    def tables() -> None:
        settings = get_settings()
        until = utcnow()
        with session_scope(context.engine(), readonly=True) as session:
            found = health.window(session, since=until - timedelta(hours=state["hours"]), until=until)
        alerts = health.breaches(found, settings)
        with ui.column().classes("gap-1").props('data-testid="breaches"'):
            for b in alerts:
                ui.label(tr("{metric} of {group} is {value} (threshold {threshold}, {count} messages)",
                            metric=tr(health.METRICS[b.metric]), group=b.group, value=_percent(b.value),
                            threshold=_percent(b.threshold), count=b.messages)).classes("text-negative")
            if not alerts:
                ui.label(tr("No rate is below its threshold (groups of at least {count} messages).",
                            count=settings.notify_health_min_volume)).classes("text-positive")
        with ui.row().classes("w-full gap-4 items-start"):
            for by in ("channel", "kind", "platform"):
                _table(by, found[by], tr)

    tables()


def _table(by: str, rows: list[health.Figures], tr: Tr) -> None:
    def name(group: str) -> str:
        if by == "channel" and group in {c.value for c in Channel}:
            return tr(label(Channel(group)))
        return tr(message_kind_label(group)) if by == "kind" else group

    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k == "group" else "right"} for k, v in (
        ("group", DIMENSIONS[by]), ("messages", N_("Messages")), ("delivery", N_("Delivery rate")),
        ("ack", N_("Acknowledgement rate")), ("p50", N_("Median minutes to acknowledge")))]
    data = [{"group": name(f.group), "messages": f.messages, "delivery": _percent(f.delivery_rate),
             "ack": _percent(f.ack_rate), "p50": _minutes(f.ack_p50_seconds)} for f in rows]
    ui.table(columns=columns, rows=data, row_key="group").classes("max-w-xl").props(
        f'dense flat bordered data-testid="figures-{by}"')


def _series(tr: Tr) -> None:
    ui.label(tr("Delivery rate per day")).classes("text-h6")
    state: dict[str, Any] = {"by": "platform", "days": 180}
    with ui.row().classes("gap-4"):
        ui.toggle({k: tr(v) for k, v in DIMENSIONS.items()}, value=state["by"],
                  on_change=lambda e: (state.update(by=e.value), chart.refresh())).props('data-testid="series-by"')
        ui.toggle({k: tr(v) for k, v in SERIES_DAYS.items()}, value=state["days"],
                  on_change=lambda e: (state.update(days=e.value), chart.refresh()))

    @ui.refreshable
    def chart() -> None:
        settings = get_settings()
        until = utcnow()
        offset = (until.astimezone(settings.zone).utcoffset() or timedelta(0)).total_seconds() / 3600
        with session_scope(context.engine(), readonly=True) as session:
            points = health.series(session, by=state["by"], since=until - timedelta(days=state["days"]),
                                   until=until, offset_hours=offset)
        groups: dict[str, dict[str, float]] = {}
        for p in points:
            if p.messages >= MIN_POINT and p.delivery_rate is not None:
                day = local(p.bucket, settings.zone).strftime("%Y-%m-%d")
                groups.setdefault(p.group, {})[day] = round(100 * p.delivery_rate, 1)
        days = sorted({day for values in groups.values() for day in values})
        threshold = round(100 * settings.notify_min_delivery_rate, 1)
        ui.echart({
            "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0, "type": "scroll"},
            "xAxis": {"type": "category", "data": days}, "yAxis": {"type": "value", "min": 0, "max": 100, "name": "%"},
            "series": [{"name": g, "type": "line", "data": [values.get(d) for d in days], "showSymbol": False}
                       for g, values in sorted(groups.items())] + [
                {"name": tr("Alert threshold"), "type": "line", "symbol": "none", "lineStyle": {"type": "dashed"},
                 "data": [threshold] * len(days)}],
        }).classes("w-full h-96").props('data-testid="delivery-series"')

    chart()


def _dead_letters(principal: Principal, tr: Tr) -> None:
    ui.label(tr("Dead letters: messages that exhausted every channel")).classes("text-h6")

    @ui.refreshable
    def listing() -> None:
        zone = get_settings().zone
        with session_scope(context.engine(), readonly=True) as session:
            found = outbox.dead_letters_named(session, limit=100)
        if not found:
            ui.label(tr("None.")).classes("text-grey-7").props('data-testid="no-dead-letters"')
        for message, rows, recipient in found:
            with ui.row().classes("items-center gap-3").props(f'data-testid="dead-{message.id}"'):
                ui.label(local(message.created_at, zone).strftime("%m-%d %H:%M")).classes("text-caption")
                ui.label(recipient).classes("text-weight-bold")
                ui.label(message.title)
                for row in rows:
                    ui.chip(f"{tr(label(row.channel))}: {row.last_error or ''}"[:120], color="negative").props(
                        "outline dense")
                if principal.manages_org:
                    ui.button(tr("Retry"), on_click=lambda m=message.id: retry(m)).props(
                        f'dense color=primary data-testid="retry-{message.id}"')

    def retry(message_id: int) -> None:
        try:
            with session_scope(context.engine()) as session:
                count = outbox.retry(session, message_id, actor_id=principal.user_id,
                                     most=get_settings().notify_max_attempts)
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="warning")
        else:
            ui.notify(tr("{count} deliveries back in the outbox.", count=count), type="positive")
        listing.refresh()

    listing()


def _channels(principal: Principal, tr: Tr) -> None:
    ui.label(tr("Channels of the organisation")).classes("text-h6")
    with session_scope(context.engine(), readonly=True) as session:
        teams = org.team_names(session)

    @ui.refreshable
    def listing() -> None:
        with session_scope(context.engine(), readonly=True) as session:
            rows = [preferences.endpoint_view(e) for e in preferences.list_endpoints(session)]
        columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
            ("name", N_("Channel name")), ("channel", N_("Channel")), ("url", N_("Address")), ("scope", N_("Serves")),
            ("rate", N_("Per minute")))]
        data = [{"name": r["name"], "channel": tr(label(r["channel"])), "url": r["url"],
                 "scope": teams.get(r["team_id"], "") if r["team_id"] else
                 (tr("{count} people", count=len(r["user_ids"])) if r["user_ids"] else tr("everyone")) +
                 (" · " + tr("default") if r["is_default"] else ""), "rate": r["rate_per_minute"] or ""}
                for r in rows]
        ui.table(columns=columns, rows=data, row_key="name").classes("w-full max-w-5xl").props(
            'dense flat bordered data-testid="channels"')

    listing()
    if principal.manages_org:
        _channel_form(principal, tr, teams, listing.refresh)


def _channel_form(principal: Principal, tr: Tr, teams: dict[int, str], refresh: Any) -> None:
    with ui.row().classes("items-end gap-3"):
        name = ui.input(tr("Channel name")).props('dense data-testid="channel-name"')
        kind = ui.select({c.value: tr(label(c)) for c in CONFIGURABLE}, value=Channel.DINGTALK.value,
                         label=tr("Channel")).classes("w-40").props('dense data-testid="channel-kind"')
        url = ui.input(tr("Apprise URL")).classes("w-96").props('dense data-testid="channel-url"')
        team = ui.select(teams, label=tr("Team (optional)"), clearable=True).classes("w-40").props("dense")
        default = ui.checkbox(tr("Default for everyone")).props('data-testid="channel-default"')
        error = ui.label().classes("text-negative").props('data-testid="channel-error" role="alert"')

        def add() -> None:
            error.set_text("")
            try:
                data = EndpointWrite(name=name.value or "", channel=Channel(kind.value), url=url.value or "",
                                     team_id=team.value, user_ids=[], is_default=default.value)
                with session_scope(context.engine()) as session:
                    preferences.save_endpoint(session, data, actor=principal,
                                              allowed=Allowed.parse(get_settings().outbound_allowed_hosts))
            except (ValidationError, DomainError) as exc:
                error.set_text(problem(exc, tr))
                return
            name.set_value("")
            url.set_value("")
            refresh()

        ui.button(tr("Add channel"), on_click=add).props('color=primary data-testid="add-channel"')


def _policies(tr: Tr) -> None:
    ui.label(tr("Escalation when nobody acknowledges")).classes("text-h6")
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        ("kind", N_("Message kind")), ("ack", N_("Acknowledge within (minutes)")), ("fallback", N_("Then send by")),
        ("supervisor", N_("Then tell the supervisor after (minutes)")), ("reassign", N_("Ask routing to reassign")))]
    rows = [{"kind": tr(message_kind_label(k)), "ack": p.ack_within_minutes,
             "fallback": tr(label(p.fallback)) if p.fallback else "—",
             "supervisor": p.supervisor_after_minutes or "—", "reassign": tr("yes") if p.reassign else tr("no")}
            for k, p in sorted(service.active_policies().items())]
    ui.table(columns=columns, rows=rows, row_key="kind").classes("max-w-4xl").props(
        'dense flat bordered data-testid="policies"')


def register() -> None:
    ui.page("/notifications/ops")(context.page(ops_page))
