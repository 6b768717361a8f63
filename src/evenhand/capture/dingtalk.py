"""DingTalk event subscription (HTTP callback mode): ``POST /api/v1/capture/dingtalk``.

DingTalk signs and encrypts every callback (``dingtalk_crypto``); the endpoint authenticates by that signature,
not by a token, and answers every trusted callback with ``success`` encrypted and signed, as DingTalk requires
(within 1.5 s, so nothing here calls out). The first callback, ``check_url``, only proves the address.

What becomes an activity (``source_system`` ``dingtalk``, through ``activities.service.capture_many``):

- a call: ``EventType`` ``call_record`` or ``call_log``;
- a message: ``EventType`` ``chat_message``, ``im_message`` or ``message``.

DingTalk documents no single call-record or message event for every edition, so the event's shape is read
generically: the record is the event itself, or each item of its ``records`` / ``Records`` / ``data`` list.
Keys are matched without regard to case or underscores:

- the rep: ``userId`` / ``staffId`` / ``senderStaffId`` / ``operatorUserId`` (a rep's external id or username);
- the customer's phone: ``customerPhone`` / ``phone`` / ``mobile``, else ``calleeNumber`` of an outbound call,
  ``callerNumber`` of an inbound one;
- when: ``startTime`` / ``createTime`` / ``createAt`` / ``sendTime`` / ``time`` (epoch seconds or milliseconds,
  or ISO 8601);
- a call's ``duration`` / ``durationSeconds`` / ``talkTime`` (seconds) and ``answered`` (else: it lasted);
- ``direction``: ``inbound``/``in``/``incoming``/``呼入`` or ``outbound``/``out``/``outgoing``/``呼出`` (default
  outbound);
- the record's id: ``callId`` / ``recordId`` / ``msgId`` / ``messageId`` / ``id``, else the event id (with the
  record's position when there are several).

A callback is a replay, acknowledged and not stored again, when its event id (``EventId`` / ``eventId``, else a
hash of the plaintext) was taken before (its receipt, ``capture.service.first_time``), or its signed timestamp lies
outside ``capture_replay_window_seconds``. A test event (``EventId`` ``evenhand-test-…``) is answered and counted
and stores nothing. Every refusal is counted in the connector's status (``capture.service.watch``).
A record without a rep or a time, or with a value the activity refuses, is skipped and counted in the audit
entry the callback appends when it stored something."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from evenhand.activities import service as activities
from evenhand.activities.schemas import ActivityCreate
from evenhand.capture import dingtalk_crypto as crypto
from evenhand.capture import service as capture
from evenhand.config import Settings
from evenhand.deps import AppSettings, DbSession
from evenhand.errors import DomainError, Invalid, Unauthorized
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.models import ActivityType, Direction, SourceSystem

router = APIRouter(tags=["capture"])

CONNECTOR = "dingtalk"
ACTION = "capture.dingtalk"
SUBJECT = "dingtalk_event"
CALL_EVENTS = frozenset({"call_record", "call_log"})
MESSAGE_EVENTS = frozenset({"chat_message", "im_message", "message"})
NOT_CONFIGURED = N_("DingTalk callbacks are not configured: set {setting}.")
BAD_SIGNATURE = N_("The DingTalk callback's signature does not match.")
CANNOT_DECRYPT = N_("The DingTalk callback does not decrypt with the configured key and app key.")
NOT_AN_EVENT = N_("The DingTalk callback does not hold a JSON object.")
MILLIS = 100_000_000_000  # epoch values from here on are milliseconds (year 5138 in seconds)


class NotConfigured(DomainError):
    status, code = 503, "not_configured"


class Envelope(BaseModel):
    """The callback's body: the encrypted event."""

    encrypt: Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)]


Param = Annotated[str, Query(max_length=200)]


@router.post("/capture/dingtalk", include_in_schema=False,
             dependencies=[Depends(capture.watch(CONNECTOR), scope="function")])
def dingtalk_callback(envelope: Envelope, session: DbSession, settings: AppSettings, signature: Param = "",
                      timestamp: Param = "", nonce: Param = "") -> dict[str, str]:
    """Take one DingTalk callback: verify, decrypt, store its activities unless it is a replay, answer success."""
    token, aes_key, owner = secrets(settings)
    try:
        plain = crypto.open_callback(token, aes_key, owner, timestamp=timestamp, nonce=nonce,
                                     encrypted=envelope.encrypt, given=signature)
    except crypto.CryptoError as exc:
        raise Unauthorized(BAD_SIGNATURE if "signature" in str(exc) else CANNOT_DECRYPT,
                           field="signature" if "signature" in str(exc) else "encrypt") from exc
    if fresh(timestamp, settings.capture_replay_window_seconds, now=utcnow()):
        take(session, plain)
    return crypto.reply(token, aes_key, owner, timestamp=timestamp, nonce=nonce)


def secrets(settings: Settings) -> tuple[str, str, str]:
    """The token, the AES key and the app key; ``NotConfigured`` naming the first one missing."""
    token = settings.dingtalk_token.get_secret_value() if settings.dingtalk_token else ""
    aes_key = settings.dingtalk_aes_key.get_secret_value() if settings.dingtalk_aes_key else ""
    for name, value in (("dingtalk_token", token), ("dingtalk_aes_key", aes_key),
                        ("dingtalk_app_key", settings.dingtalk_app_key or "")):
        if not value:
            raise NotConfigured(NOT_CONFIGURED, field=name, setting=name)
    return token, aes_key, settings.dingtalk_app_key or ""


def fresh(timestamp: str, window_seconds: int, *, now: datetime) -> bool:
    """Whether the signed timestamp (epoch seconds or milliseconds) lies within the window around now."""
    try:
        value = int(timestamp)
    except ValueError:
        return False
    seconds = value / 1000 if value >= MILLIS else value
    return abs(now.timestamp() - seconds) <= window_seconds


def event_id(event: dict[str, Any], plain: bytes) -> str:
    """The event's own id when it carries one (hashed when longer than the audit's subject), else the
    plaintext's hash."""
    given = event.get("EventId", event.get("eventId"))
    if isinstance(given, (str, int)) and str(given).strip():
        text = str(given).strip()
        return text if len(text) <= 60 else hashlib.sha1(text.encode()).hexdigest()
    return hashlib.sha1(plain).hexdigest()


def take(session: Session, plain: bytes) -> int:
    """Store the event's activities unless it was taken before (its receipt); how many rows were created or
    parked. A test event (``EventId`` ``evenhand-test-…``) is counted and stores nothing."""
    try:
        event = json.loads(plain)
    except ValueError as exc:
        raise Invalid(NOT_AN_EVENT, field="encrypt") from exc
    if not isinstance(event, dict):
        raise Invalid(NOT_AN_EVENT, field="encrypt")
    kind = str(event.get("EventType", event.get("eventType", ""))).strip().lower()
    if kind not in CALL_EVENTS and kind not in MESSAGE_EVENTS:
        return 0  # check_url, and every event that is no activity
    key = event_id(event, plain)
    if not capture.first_time(session, CONNECTOR, key):
        return 0
    capture.took(session, CONNECTOR)
    return 0 if capture.is_test(key) else _store(session, event, key, kind)


def _store(session: Session, event: dict[str, Any], key: str, kind: str) -> int:
    rows, skipped = activity_rows(event, key, call=kind in CALL_EVENTS)
    outcomes = activities.capture_many(session, rows, update=False) if rows else []
    created = sum(outcome == "created" for outcome, _ in outcomes)
    waiting = sum(outcome == "waiting" for outcome, _ in outcomes)
    if created or waiting:
        audit.append(session, action=ACTION, subject_type=SUBJECT, subject_id=key,
                     payload={"event_type": kind, "created": created, "waiting": waiting, "skipped": skipped,
                              "external_ids": [row.external_id for row in rows]})
    return created + waiting


# --- reading an event's records ------------------------------------------------------------------------

def _folded(record: dict[str, Any]) -> dict[str, Any]:
    return {str(k).replace("_", "").lower(): v for k, v in record.items()}


def _first(record: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return value
    return None


def _records(event: dict[str, Any]) -> list[dict[str, Any]]:
    for name in ("records", "Records", "data"):
        items = event.get(name)
        if isinstance(items, list):
            return [item for item in items if isinstance(item, dict)]
    return [event]


def _moment(value: Any) -> datetime | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value >= MILLIS else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return value if isinstance(value, str) else None


_INBOUND = frozenset({"inbound", "in", "incoming", "呼入", "2"})
_OUTBOUND = frozenset({"outbound", "out", "outgoing", "呼出", "1"})


def _direction(value: Any) -> Direction:
    text = str(value).strip().lower() if value is not None else ""
    return Direction.INBOUND if text in _INBOUND else Direction.OUTBOUND


def activity_rows(event: dict[str, Any], key: str, *, call: bool) -> tuple[list[ActivityCreate], int]:
    """The event's records as activities, and how many were skipped."""
    records = _records(event)
    rows: list[ActivityCreate] = []
    skipped = 0
    for position, raw in enumerate(records):
        record = _folded(raw)
        direction = _direction(_first(record, "direction", "calltype", "msgdirection"))
        number = ("callernumber", "calleenumber") if direction is Direction.INBOUND else ("calleenumber",
                                                                                         "callernumber")
        own = _first(record, "callid", "recordid", "msgid", "messageid", "id")
        external = str(own) if own is not None else (key if len(records) == 1 else f"{key}:{position}")
        fields: dict[str, Any] = {
            "source_system": SourceSystem.DINGTALK, "external_id": external[:120],
            "type": ActivityType.CALL if call else ActivityType.MESSAGE, "direction": direction,
            "occurred_at": _moment(_first(record, "starttime", "createtime", "createat", "sendtime", "time")),
            "rep": _first(record, "userid", "staffid", "senderstaffid", "operatoruserid"),
            "phone": _first(record, "customerphone", "phone", "mobile", *number)}
        if call:
            duration = _first(record, "duration", "durationseconds", "talktime")
            answered = _first(record, "answered")
            fields["duration_seconds"] = duration
            if isinstance(answered, bool):
                fields["answered"] = answered
            elif isinstance(duration, (int, float, str)) and str(duration).strip().isdigit():
                fields["answered"] = int(str(duration).strip()) > 0
        fields = {name: (str(value) if name in ("rep", "phone") else value) for name, value in fields.items()
                  if value is not None}
        try:
            rows.append(ActivityCreate.model_validate(fields))
        except ValidationError:
            skipped += 1
    return rows, skipped
