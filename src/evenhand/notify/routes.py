"""Notification endpoints: the inbox and acknowledgement, per-person settings, the organisation's
channels and escalation policies, delivery health for the monitoring board, and the dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from evenhand.deps import AppSettings, DbSession, OrgManager, Reader
from evenhand.errors import Forbidden, Invalid
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.schema import DbId, IsoDatetime
from evenhand.models import Notification
from evenhand.notify import health, outbox, preferences, service
from evenhand.notify.channels import masked
from evenhand.notify.outbound import Allowed
from evenhand.notify.schemas import (
    DeadLetter,
    DeliveryRead,
    EndpointRead,
    EndpointWrite,
    HealthRead,
    NotificationRead,
    PolicyRead,
    PreferencesRead,
    PreferencesUpdate,
    RetryResult,
    UnreadCount,
)

router = APIRouter(tags=["notifications"])
Limit = Annotated[int, Query(ge=1, le=500)]


def _staff(principal: Reader) -> None:
    if not principal.reads_everything:
        raise Forbidden("Only admin, sales ops and auditors see delivery figures.")


@router.get("/notifications", response_model=list[NotificationRead])
def my_inbox(session: DbSession, principal: Reader, unread_only: bool = False, limit: Limit = 50) -> list[Notification]:
    """The caller's in-app inbox, newest first."""
    return service.inbox(session, principal.user_id, unread_only=unread_only, limit=limit)


@router.get("/notifications/unread-count", response_model=UnreadCount)
def unread(session: DbSession, principal: Reader) -> UnreadCount:
    return UnreadCount(unread=service.unread_count(session, principal.user_id))


@router.post("/notifications/read-all", response_model=UnreadCount)
def read_all(session: DbSession, principal: Reader) -> UnreadCount:
    service.mark_all_read(session, principal.user_id)
    return UnreadCount(unread=0)


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead)
def read_one(notification_id: DbId, session: DbSession, principal: Reader) -> Notification:
    return service.mark_read(session, notification_id, principal.user_id)


@router.post("/notifications/{notification_id}/ack", response_model=NotificationRead)
def acknowledge(notification_id: DbId, session: DbSession, principal: Reader) -> Notification:
    """Acknowledge a message in your inbox: its escalation stops and nothing more is sent for it."""
    return service.acknowledge(session, notification_id, principal.user_id)


@router.get("/notifications/{notification_id}/deliveries", response_model=list[DeliveryRead])
def message_deliveries(notification_id: DbId, session: DbSession, principal: Reader) -> list[DeliveryRead]:
    """Each channel's copy of a message and how it fared (the recipient, and admin, ops and auditors)."""
    return [_delivery(row) for row in service.deliveries(session, notification_id, reader=principal)]


def _delivery(row: Notification) -> DeliveryRead:
    out = DeliveryRead.model_validate(row)
    out.target = masked(row.target) if row.target else None
    return out


@router.get("/notifications/settings", response_model=PreferencesRead)
def my_settings(session: DbSession, principal: Reader) -> dict[str, Any]:
    return preferences.get_preferences(session, principal.user_id)


@router.put("/notifications/settings", response_model=PreferencesRead)
def save_my_settings(data: PreferencesUpdate, session: DbSession, principal: Reader) -> dict[str, Any]:
    """Your channels, your own addresses on them (a phone number, an e-mail address, a user id — never a URL)
    and quiet hours; every channel is checked against your profile before it is saved."""
    preferences.save_preferences(session, principal.user_id, data, actor=principal)
    return preferences.get_preferences(session, principal.user_id)


@router.get("/notifications/users/{user_id}/settings", response_model=PreferencesRead)
def user_settings(user_id: DbId, session: DbSession, _: OrgManager) -> dict[str, Any]:
    return preferences.get_preferences(session, user_id)


@router.put("/notifications/users/{user_id}/settings", response_model=PreferencesRead)
def save_user_settings(user_id: DbId, data: PreferencesUpdate, session: DbSession, actor: OrgManager
                       ) -> dict[str, Any]:
    preferences.save_preferences(session, user_id, data, actor=actor)
    return preferences.get_preferences(session, user_id)


@router.get("/notifications/channels", response_model=list[EndpointRead])
def list_channels(session: DbSession, _: OrgManager) -> list[dict[str, Any]]:
    """The organisation's channels; URLs are shown with their tokens and passwords hidden."""
    return [preferences.endpoint_view(e) for e in preferences.list_endpoints(session)]


@router.post("/notifications/channels", response_model=EndpointRead, status_code=201)
def create_channel(data: EndpointWrite, session: DbSession, actor: OrgManager, settings: AppSettings
                   ) -> dict[str, Any]:
    """A new channel; the URL is parsed by Apprise now (with sample addresses filled in), not at send time, and
    its host must resolve to public addresses unless ``EVENHAND_OUTBOUND_ALLOWED_HOSTS`` allows it."""
    allowed = Allowed.parse(settings.outbound_allowed_hosts)
    return preferences.endpoint_view(preferences.save_endpoint(session, data, actor=actor, allowed=allowed))


@router.put("/notifications/channels/{endpoint_id}", response_model=EndpointRead)
def replace_channel(endpoint_id: DbId, data: EndpointWrite, session: DbSession, actor: OrgManager,
                    settings: AppSettings) -> dict[str, Any]:
    allowed = Allowed.parse(settings.outbound_allowed_hosts)
    return preferences.endpoint_view(preferences.save_endpoint(session, data, actor=actor, allowed=allowed,
                                                               endpoint_id=endpoint_id))


@router.delete("/notifications/channels/{endpoint_id}", status_code=204)
def delete_channel(endpoint_id: DbId, session: DbSession, actor: OrgManager) -> Response:
    preferences.delete_endpoint(session, endpoint_id, actor=actor)
    return Response(status_code=204)


@router.get("/notifications/policies", response_model=list[PolicyRead])
def escalation_policies(_: Reader) -> list[PolicyRead]:
    """Per message kind: when an unacknowledged message goes to the fallback channel, then the supervisor."""
    return [PolicyRead(kind=kind, **policy.model_dump()) for kind, policy in sorted(service.active_policies().items())]


@router.get("/notifications/health", response_model=HealthRead)
def delivery_health(session: DbSession, principal: Reader, settings: AppSettings,
                    hours: Annotated[float, Query(gt=0, le=24 * 400)] = 24) -> HealthRead:
    """Delivery rate, acknowledgement rate and time to acknowledge over the last ``hours``, per channel,
    message kind and app platform/version, with the groups under their alert threshold."""
    _staff(principal)
    until = utcnow()
    found = health.window(session, since=until - timedelta(hours=hours), until=until)
    return HealthRead(since=until - timedelta(hours=hours), until=until,
                      by_channel=found["channel"], by_kind=found["kind"], by_platform=found["platform"],
                      breaches=health.breaches(found, settings))


SERIES_FROM, SERIES_TO, SERIES_MAX_DAYS = 2000, 2999, 400


def _in_range(name: str, moment: datetime) -> datetime:
    if not SERIES_FROM <= moment.year <= SERIES_TO:
        raise Invalid("{name} must fall between the years {first} and {last}.", field=name, name=name,
                      first=SERIES_FROM, last=SERIES_TO)
    return moment


@router.get("/notifications/health/series", response_model=list[health.Point])
def delivery_series(session: DbSession, principal: Reader, settings: AppSettings,
                    by: health.Dimension = "channel",
                    since: IsoDatetime | None = None, until: IsoDatetime | None = None,
                    bucket_hours: Annotated[float, Query(ge=1, le=24 * 31)] = 24) -> list[health.Point]:
    """The same figures per time bucket (default: days in the organisation's time zone, last 30 days)."""
    _staff(principal)
    end = _in_range("until", as_utc(until) if until else utcnow())
    start = _in_range("since", as_utc(since) if since else end - timedelta(days=30))
    if not start < end or end - start > timedelta(days=SERIES_MAX_DAYS):
        raise Invalid("since must come before until, at most {days} days earlier.", field="since",
                      days=SERIES_MAX_DAYS)
    offset = end.astimezone(settings.zone).utcoffset() or timedelta(0)
    return health.series(session, by=by, since=start, until=end, bucket_hours=bucket_hours,
                         offset_hours=offset.total_seconds() / 3600)


@router.get("/notifications/dead-letters", response_model=list[DeadLetter])
def dead_letters(session: DbSession, principal: Reader, limit: Limit = 100) -> list[DeadLetter]:
    """Messages that exhausted every channel and that nobody acknowledged."""
    _staff(principal)
    return [DeadLetter(message_id=m.id, kind=m.kind, title=m.title, recipient_id=m.recipient_id, recipient=name,
                       created_at=m.created_at, deliveries=[_delivery(d) for d in rows])
            for m, rows, name in outbox.dead_letters_named(session, limit=limit)]


@router.post("/notifications/dead-letters/{message_id}/retry", response_model=RetryResult)
def retry_dead_letter(message_id: DbId, session: DbSession, actor: OrgManager, settings: AppSettings) -> RetryResult:
    """Send a dead letter's failed deliveries again (same idempotency keys), with the channels as they are now."""
    count = outbox.retry(session, message_id, actor_id=actor.user_id, most=settings.notify_max_attempts)
    return RetryResult(message_id=message_id, retried=count)
