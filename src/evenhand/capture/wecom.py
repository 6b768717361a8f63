"""WeCom (企业微信) callbacks: the URL check and the encrypted event pushes, captured as activities.

``GET /api/v1/capture/wecom`` is WeCom's URL verification: ``msg_signature`` must be the SHA-1 of the sorted
token, ``timestamp``, ``nonce`` and ``echostr``; the answer is ``echostr`` decrypted (plain text).
``POST /api/v1/capture/wecom`` carries ``<xml><ToUserName/><Encrypt>…</Encrypt><AgentID/></xml>``, signed the
same way over ``Encrypt``. The decrypted event becomes one activity through ``activities.service.capture_many``
(source system ``wecom``) when it names a rep (``UserID``) and a contact (``ExternalUserID`` or ``Phone``):

- ``Event=change_external_contact`` with ``ChangeType`` ``add_external_contact`` or ``add_half_external_contact``
  (the contact and the rep became connected): a ``message``, inbound;
- a call record (``MsgType`` or ``Event`` ``call``, or a ``Duration`` field): a ``call`` with ``Duration``
  (seconds) and ``Answered`` (``1``/``0``, else answered when the duration is positive);
- any other event naming a rep and a contact (messages): a ``message``;
- ``Direction`` (``inbound``/``outbound``), when given, sets the direction (calls default to outbound).

The event's id is ``MsgId`` when present, else the SHA-256 of the decrypted XML: an event sent again (its receipt,
``capture.service.first_time``), or one whose ``timestamp`` is older than ``capture_replay_window_seconds``, is
acknowledged (``success``) and stores nothing. A test event (``MsgId`` ``evenhand-test-…``) is acknowledged and
counted and stores no activity. Every refusal is counted in the connector's status (``capture.service.watch``).
The callbacks are authenticated by WeCom's signature and the corp id inside the ciphertext, not by a token; they
make no network call. XML with a DOCTYPE or an entity declaration is refused before it is parsed.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from evenhand.activities.schemas import ActivityCreate
from evenhand.activities.service import Tally, capture_many
from evenhand.capture import service as capture
from evenhand.capture import wecom_crypto
from evenhand.config import Settings
from evenhand.deps import AppSettings, DbSession
from evenhand.errors import DomainError, Invalid, Unauthorized
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.kit.once import first_writer_wins
from evenhand.models import ActivityType, Direction, SourceSystem

router = APIRouter(tags=["capture"])
CONNECTOR = "wecom"
WATCHED = Depends(capture.watch(CONNECTOR), scope="function")  # refusals counted in the connector's status
PATH = "/capture/wecom"
SUCCESS = "success"
MAX_BODY = 1 << 20  # WeCom's pushes are a few KiB
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CONTACT_ADDED = {"add_external_contact", "add_half_external_contact"}
_UNSET = N_("WeCom capture is not configured: set {setting}.")


class NotConfigured(DomainError):
    status, code = 503, "not_configured"


def _secrets(settings: Settings) -> tuple[str, bytes, str]:
    token, key, corp = settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id
    for name, value in (("wecom_token", token), ("wecom_encoding_aes_key", key), ("wecom_corp_id", corp)):
        if not value:
            raise NotConfigured(_UNSET, field=name, setting=name)
    assert token is not None and key is not None and corp is not None
    try:
        aes = wecom_crypto.aes_key(key.get_secret_value())
    except wecom_crypto.CryptoError:
        raise NotConfigured(_UNSET, field="wecom_encoding_aes_key",
                            setting="wecom_encoding_aes_key") from None
    return token.get_secret_value(), aes, corp


def parse_xml(data: bytes, field: str) -> ET.Element:
    """The standard library's parser, after refusing any DOCTYPE or entity declaration (no expansion bombs, no
    external entities)."""
    if _DECLARATION.search(data):
        raise Invalid("The XML must not declare a DOCTYPE or entities.", field=field)
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        raise Invalid("Not well-formed XML.", field=field) from None


def _open(settings: Settings, signature: str, timestamp: str, nonce: str, ciphertext: str) -> bytes:
    token, key, corp = _secrets(settings)
    if not wecom_crypto.signed(token, timestamp, nonce, ciphertext, signature):
        raise Unauthorized("The WeCom signature does not match.", field="msg_signature")
    try:
        opened = wecom_crypto.decrypt(key, ciphertext)
    except wecom_crypto.CryptoError:
        raise Unauthorized("The WeCom message cannot be decrypted with the configured key.", field="Encrypt") from None
    if opened.receive_id != corp:
        raise Unauthorized("The WeCom message is for another corp id.", field="wecom_corp_id")
    return opened.message


def _text(root: ET.Element, name: str) -> str | None:
    found = root.findtext(name)
    return found.strip() or None if found is not None else None


def event_id(root: ET.Element, body: bytes) -> str:
    msg_id = _text(root, "MsgId")
    return msg_id if msg_id and len(msg_id) <= 60 else "sha256:" + hashlib.sha256(body).hexdigest()[:48]


def activity(root: ET.Element, body: bytes) -> ActivityCreate | None:
    """The activity an event stands for, or ``None`` for an event that is none (another change, a member's own
    message to the app)."""
    rep, contact, phone = _text(root, "UserID"), _text(root, "ExternalUserID"), _text(root, "Phone")
    kind, event = (_text(root, "MsgType") or "").lower(), (_text(root, "Event") or "").lower()
    if rep is None or (contact is None and phone is None):
        return None
    if event == "change_external_contact" and _text(root, "ChangeType") not in _CONTACT_ADDED:
        return None
    duration = _text(root, "Duration")
    is_call = "call" in (kind, event) or duration is not None
    fields: dict[str, Any] = {"source_system": SourceSystem.WECOM, "external_id": event_id(root, body), "rep": rep,
                              "type": ActivityType.CALL if is_call else ActivityType.MESSAGE,
                              "direction": _text(root, "Direction") or (
                                  Direction.OUTBOUND if is_call else Direction.INBOUND),
                              "occurred_at": _created(root), "lead": contact, "phone": phone,
                              "subject": (_text(root, "ChangeType") or _text(root, "Content") or "")[:300] or None}
    if is_call:
        seconds = int(duration) if duration and duration.isdigit() else None
        answered = _text(root, "Answered")
        fields["duration_seconds"] = seconds
        fields["answered"] = answered in ("1", "true") if answered is not None else bool(seconds)
    try:
        return ActivityCreate.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        name = ".".join(map(str, exc.errors()[0]["loc"])) or "Encrypt"
        raise Invalid("The WeCom event has an invalid {name}.", field=name, name=name) from None


def _created(root: ET.Element) -> datetime:
    created = _text(root, "CreateTime")
    if created is None or not created.isdigit():
        raise Invalid("The WeCom event has no CreateTime.", field="CreateTime")
    return datetime.fromtimestamp(int(created), UTC)


def _stale(settings: Settings, timestamp: str) -> bool:
    if not timestamp.strip().isdigit():
        raise Invalid("Must be whole seconds since 1970.", field="timestamp")
    return abs(utcnow().timestamp() - int(timestamp)) > settings.capture_replay_window_seconds


def receive(session: Session, settings: Settings, body: bytes, signature: str, timestamp: str, nonce: str) -> None:
    """Check, decrypt and capture one push in the caller's transaction; audited when it stored something."""
    if len(body) > MAX_BODY:
        raise Invalid("The WeCom push is too large.", field="body")
    envelope = parse_xml(body, "body")
    ciphertext = _text(envelope, "Encrypt")
    if ciphertext is None:
        raise Invalid("The WeCom push has no Encrypt element.", field="Encrypt")
    message = _open(settings, signature, timestamp, nonce, ciphertext)
    if _stale(settings, timestamp):
        return
    row = activity(parse_xml(message, "Encrypt"), message)
    if row is None or not capture.first_time(session, CONNECTOR, row.external_id):
        return
    capture.took(session, CONNECTOR)
    if not capture.is_test(row.external_id):
        _store(session, row)


def _store(session: Session, row: ActivityCreate) -> None:
    tally = Tally()
    first_writer_wins(session, lambda: capture_many(session, [row], update=False, tally=tally))
    if tally.created or tally.parked:
        audit.append(session, action="capture.wecom", subject_type="activities", subject_id=row.external_id,
                     payload={"source_system": SourceSystem.WECOM.value, "external_id": row.external_id,
                              "created": tally.created, "waiting": tally.parked})


async def _body(request: Request) -> bytes:
    return await request.body()


Signature = Annotated[str, Query(max_length=200)]


@router.get(PATH, response_class=PlainTextResponse, include_in_schema=False, dependencies=[WATCHED])
def verify_url(settings: AppSettings, msg_signature: Signature, timestamp: Signature, nonce: Signature,
               echostr: Annotated[str, Query(max_length=4096)]) -> PlainTextResponse:
    """WeCom's URL check: answer ``echostr`` decrypted when the signature and the corp id hold."""
    message = _open(settings, msg_signature, timestamp, nonce, echostr)
    return PlainTextResponse(message.decode("utf-8", errors="replace"))


@router.post(PATH, response_class=PlainTextResponse, include_in_schema=False, dependencies=[WATCHED])
def callback(session: DbSession, settings: AppSettings, body: Annotated[bytes, Depends(_body)],
             msg_signature: Signature, timestamp: Signature, nonce: Signature) -> PlainTextResponse:
    """One encrypted event push: ``success`` when it was captured, was no activity, or was a replay."""
    receive(session, settings, body, msg_signature, timestamp, nonce)
    return PlainTextResponse(SUCCESS)
