"""The connectors as ops see them: what each needs configured, how it is doing, and a test event.

A test event is a request signed and encrypted exactly as the platform would send it, whose event id starts with
``evenhand-test-`` (``service.TEST_PREFIX``): the connector checks it like any other, answers and counts it, and
stores no activity. "Send test event" posts it over HTTP to this server's own endpoint — at ``public_url`` when
set, else the address the page was opened at — so it proves the route, the secrets and the answer end to end.
"""

from __future__ import annotations

import importlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.capture import dingtalk_crypto, service, telephony, wecom_crypto
from evenhand.capture.service import Health
from evenhand.config import Settings
from evenhand.errors import NotFound
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.models import User
from evenhand.org import service as org_service

TIMEOUT = 10.0  # seconds: every platform's own limit is shorter, a test waiting longer has failed anyway
TEST_REP = f"{service.TEST_PREFIX}rep"


@dataclass(frozen=True)
class Sample:
    """A request as the platform would send it; ``path`` from the server's root (``/api/v1/…``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Connector:
    name: str
    label: str  # N_()
    settings: tuple[str, ...]
    sample: Callable[[Settings], Sample | None]

    def missing(self, settings: Settings) -> list[str]:
        """The settings this connector needs that are not set."""
        return [name for name in self.settings if not _is_set(getattr(settings, name, None))]


def _is_set(value: Any) -> bool:
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return bool(value)


def _test_id() -> str:
    return f"{service.TEST_PREFIX}{secrets.token_hex(8)}"


def wecom_sample(settings: Settings) -> Sample:
    """An external contact added, encrypted for the corp id and signed with the token."""
    token, key, corp = settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id
    assert token is not None and key is not None and corp is not None
    stamp, nonce = str(int(time.time())), secrets.token_hex(5)
    event = (f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><CreateTime>{stamp}</CreateTime>"
             "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
             f"<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[{TEST_REP}]]></UserID>"
             f"<ExternalUserID><![CDATA[{service.TEST_PREFIX}contact]]></ExternalUserID>"
             f"<MsgId><![CDATA[{_test_id()}]]></MsgId></xml>")
    ciphertext = wecom_crypto.encrypt(wecom_crypto.aes_key(key.get_secret_value()), event.encode(), corp)
    body = f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
    query = {"msg_signature": wecom_crypto.signature(token.get_secret_value(), stamp, nonce, ciphertext),
             "timestamp": stamp, "nonce": nonce}
    return Sample("POST", "/api/v1/capture/wecom", query, {"Content-Type": "text/xml"}, body.encode())


def dingtalk_sample(settings: Settings) -> Sample:
    """A call record, encrypted for the app key and signed with the token (timestamp in milliseconds)."""
    token, key, owner = settings.dingtalk_token, settings.dingtalk_aes_key, settings.dingtalk_app_key or ""
    assert token is not None and key is not None
    stamp, nonce = str(int(time.time() * 1000)), secrets.token_hex(4)
    event = {"EventType": "call_record", "EventId": _test_id(), "userId": TEST_REP, "customerPhone": "10000000000",
             "startTime": int(time.time() * 1000), "duration": 0}
    encrypted = dingtalk_crypto.encrypt(key.get_secret_value(), owner, json.dumps(event).encode())
    query = {"signature": dingtalk_crypto.signature(token.get_secret_value(), stamp, nonce, encrypted),
             "timestamp": stamp, "nonce": nonce}
    return Sample("POST", "/api/v1/capture/dingtalk", query, {"Content-Type": "application/json"},
                  json.dumps({"encrypt": encrypted}).encode())


def telephony_sample(settings: Settings) -> Sample:
    """One call record, signed with the HMAC secret."""
    secret = settings.telephony_hmac_secret
    assert secret is not None
    call = {"call_id": _test_id(), "rep_external_id": TEST_REP, "customer_phone": "10000000000",
            "started_at": utcnow().isoformat(), "duration_seconds": 0}
    body, stamp = json.dumps({"calls": [call]}).encode(), str(int(time.time()))
    headers = {"Content-Type": "application/json", telephony.TIMESTAMP: stamp,
               telephony.SIGNATURE: telephony.signature(secret.get_secret_value(), stamp, body)}
    return Sample("POST", "/api/v1/capture/telephony", {}, headers, body)


def outlook_sample(settings: Settings) -> Sample | None:
    """Microsoft Graph's test notification (``capture.graph.sample_request``), or None where it is missing."""
    try:
        made = importlib.import_module("evenhand.capture.graph").sample_request(settings)
    except (ImportError, AttributeError):
        return None
    return Sample(made.method, made.path, dict(made.query), dict(made.headers), made.body)


CONNECTORS: dict[str, Connector] = {c.name: c for c in (
    Connector("wecom", N_("WeCom"), ("wecom_token", "wecom_encoding_aes_key", "wecom_corp_id"), wecom_sample),
    Connector("dingtalk", N_("DingTalk"), ("dingtalk_token", "dingtalk_aes_key", "dingtalk_app_key"),
              dingtalk_sample),
    Connector("outlook", N_("Outlook (Microsoft Graph)"),
              ("graph_tenant_id", "graph_client_id", "graph_client_secret", "graph_notification_url"),
              outlook_sample),
    Connector("telephony", N_("Telephony (call records)"), ("telephony_hmac_secret",), telephony_sample),
)}


# --- status --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """A connector as the connectors page and ``evenhand capture status`` show it."""

    connector: Connector
    missing: list[str]
    health: Health

    @property
    def configured(self) -> bool:
        return not self.missing


def overview(session: Session, settings: Settings) -> list[View]:
    """Every connector, configured or not, with its counts (zeros before its first request)."""
    stored = service.statuses(session)
    return [View(c, c.missing(settings), stored.get(c.name, Health(c.name))) for c in CONNECTORS.values()]


def viewer_zone(session: Session, principal: Principal, fallback: ZoneInfo) -> ZoneInfo:
    """The zone times are shown in: the viewer's own, else the organisation's."""
    try:
        return ZoneInfo(org_service.get(session, User, principal.user_id).timezone)
    except (NotFound, ZoneInfoNotFoundError, ValueError):
        return fallback


def get(name: str) -> Connector:
    """The connector of that name; ``KeyError`` naming the known ones otherwise."""
    if name not in CONNECTORS:
        raise KeyError(f"{name!r}: the connectors are {', '.join(CONNECTORS)}")
    return CONNECTORS[name]


# --- the test event ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestResult:
    """What a test event met: ``ok`` when the endpoint accepted it (2xx); ``status`` None when nothing was sent
    (``reason`` says why) or no answer came."""

    __test__ = False  # not a pytest class

    connector: str
    ok: bool
    status: int | None = None
    answer: str = ""
    reason: str = ""  # English; a page shows it as it is, as the job records do
    missing: list[str] = field(default_factory=list)
    url: str = ""


async def send_test(settings: Settings, name: str, base_url: str) -> TestResult:
    """Build the connector's test event and post it to ``base_url`` (``public_url`` wins when set)."""
    connector = get(name)
    missing = connector.missing(settings)
    if missing:
        return TestResult(name, False, reason="not configured", missing=missing)
    sample = connector.sample(settings)
    if sample is None:
        return TestResult(name, False, reason="this connector has no test event yet")
    url = (settings.public_url or base_url).rstrip("/") + sample.path
    query = f"?{urlencode(sample.query)}" if sample.query else ""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            answer = await client.request(sample.method, url + query, headers=sample.headers, content=sample.body)
    except httpx.HTTPError as exc:
        return TestResult(name, False, reason=f"{type(exc).__name__}: {exc}", url=url)
    return TestResult(name, answer.is_success, answer.status_code, answer.text[:500], url=url)
