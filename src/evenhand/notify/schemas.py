"""API shapes for notifications: the inbox, per-person settings, organisation channels, health figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from evenhand.i18n import N_
from evenhand.kit.schema import DbId, Strict
from evenhand.models import Channel, NotificationStatus
from evenhand.notify.figures import Breach, Figures

Hhmm = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    lead_id: int | None
    created_at: datetime
    read_at: datetime | None
    acknowledged_at: datetime | None
    escalation_step: int


class UnreadCount(BaseModel):
    unread: int


class DeliveryRead(BaseModel):
    """One channel's copy of a message; the target is shown with its secrets hidden."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int | None
    channel: Channel
    status: NotificationStatus
    idempotency_key: str
    escalation_step: int
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    last_error: str | None
    target: str | None = None


class PreferencesRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    user_id: int
    channels: list[Channel]
    personal: dict[Channel, str]
    quiet_start: str | None
    quiet_end: str | None
    available: list[Channel] = []


class PreferencesUpdate(Strict):
    """Channels to receive on besides the in-app inbox (always on), among those the organisation configured;
    ``personal`` gives the person's own address on a channel (a phone number for SMS, an e-mail address, a
    DingTalk or WeCom user id), never a URL; quiet hours hold back everything but the inbox."""

    channels: Annotated[list[Channel], Field(default_factory=list, max_length=6)]
    personal: dict[Channel, Address] = Field(default_factory=dict)
    quiet_start: Hhmm | None = None
    quiet_end: Hhmm | None = Field(default=None, validate_default=True)

    @field_validator("quiet_end")
    @classmethod
    def _both_or_neither(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "quiet_start" in info.data and (info.data["quiet_start"] is None) != (value is None):
            raise ValueError(N_("Quiet hours need both a start and an end."))
        return value


class EndpointWrite(Strict):
    """A channel of the organisation. ``url`` is an Apprise URL and may contain {phone}, {email}, {username},
    {user_id}, {dingtalk_id} or {wecom_id} (a person's own address where they gave one, else their profile's);
    its host must resolve to public addresses unless allowed. It serves ``user_ids`` if given, else ``team_id``,
    else everyone."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    channel: Channel
    url: Url
    team_id: DbId | None = None
    user_ids: Annotated[list[DbId], Field(default_factory=list, max_length=500)]
    is_default: bool = False
    rate_per_minute: Annotated[int, Field(ge=1, le=10_000)] | None = None
    active: bool = True


class EndpointRead(BaseModel):
    id: int
    name: str
    channel: Channel
    url: str
    team_id: int | None
    user_ids: list[int]
    is_default: bool
    rate_per_minute: int | None
    active: bool


class PolicyRead(BaseModel):
    kind: str
    ack_within_minutes: float
    fallback: Channel | None
    supervisor_after_minutes: float | None
    reassign: bool


class HealthRead(BaseModel):
    since: datetime
    until: datetime
    by_channel: list[Figures]
    by_kind: list[Figures]
    by_platform: list[Figures]
    breaches: list[Breach]


class DeadLetter(BaseModel):
    message_id: int
    kind: str
    title: str
    recipient_id: int
    recipient: str
    created_at: datetime
    deliveries: list[DeliveryRead]


class RetryResult(BaseModel):
    message_id: int
    retried: int
