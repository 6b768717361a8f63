"""What the alerts API reads and takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from evenhand.kit.schema import Moment, Strict
from evenhand.kit.versions import DocumentText, Note, VersionRead
from evenhand.models import AlertStatus

Comment = Annotated[str, Field(max_length=2000)]


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule: str
    entity_type: str = Field(description="opportunity, lead or rep")
    entity_id: int
    rep_id: int | None
    status: AlertStatus
    rule_version: int
    opened_at: datetime
    last_seen_at: datetime
    snoozed_until: datetime | None
    resolved_at: datetime | None
    resolved_by: int | None = Field(description="Who resolved it; empty when it resolved itself")


class ActionRead(BaseModel):
    action: str = Field(description="acknowledged, commented, snoozed, resolved, returned")
    actor_id: int | None
    actor: str | None
    comment: str
    until: datetime | None
    at: datetime


class AlertDetail(AlertRead):
    evidence: dict[str, Any] = Field(description="The rule as it was, the entity's facts when it opened, the messages")
    actions: list[ActionRead]


class Acknowledge(Strict):
    comment: Comment = ""


class CommentCreate(Strict):
    comment: Annotated[str, Field(min_length=1, max_length=2000)]


class Snooze(Strict):
    until: Moment = Field(description="When the alert comes back if its rule still holds (at most 90 days ahead)")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Resolve(Strict):
    comment: Comment = ""


class RulesDetail(VersionRead):
    body: str


class RulesSave(DocumentText):
    note: Note = ""


class ScanRead(BaseModel):
    version: int
    candidates: dict[str, int]
    opened: int
    resolved: int
    woke: int
    live: int
    messages: int
    seconds: float
