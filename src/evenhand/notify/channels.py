"""Channels: which Apprise URLs serve which channel, checking them when they are saved, filling in a
recipient's address, and the senders that carry one message (Apprise for real, memory for tests).

URLs are the organisation's, set by ops; a person gives only addresses of their own (a phone number, an
e-mail address, a DingTalk or WeCom user id), which fill the placeholders of those URLs. Nobody but ops aims
a request at a host, and even theirs reach only public addresses unless allowed (``outbound``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from evenhand.i18n import N_
from evenhand.models.notify import Channel
from evenhand.notify import outbound

SCHEMES: dict[Channel, tuple[str, ...]] = {
    Channel.DINGTALK: ("dingtalk",),
    Channel.WECOM: ("wecombot",),
    Channel.EMAIL: ("mailto", "mailtos"),
    Channel.SMS: ("json", "jsons", "form", "forms"),
    Channel.WEBHOOK: ("json", "jsons", "form", "forms", "xml", "xmls"),
}
CONFIGURABLE = tuple(SCHEMES)
# Documented limits of group robots (DingTalk: 20 messages a minute per robot; WeCom the same).
DEFAULT_RATE: dict[Channel, int] = {Channel.DINGTALK: 20, Channel.WECOM: 20}
# Schemes whose URL names a host the person typing it chose (checked by ``outbound``); DingTalk and WeCom robots
# always go to their vendor's API.
TYPED_HOST = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
MAIL = frozenset({"mailto", "mailtos"})


@dataclass(frozen=True)
class Address:
    """What a person may give as their own address on a channel, and the placeholder it fills."""

    placeholder: str
    shape: re.Pattern[str]
    what: str  # N_


ADDRESSES: dict[Channel, Address] = {
    Channel.SMS: Address("phone", re.compile(r"\+?[0-9]{5,20}"), N_("a phone number")),
    Channel.EMAIL: Address("email", re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
                           N_("an e-mail address")),
    Channel.DINGTALK: Address("dingtalk_id", re.compile(r"[A-Za-z0-9_.@-]{1,64}"), N_("a DingTalk user id")),
    Channel.WECOM: Address("wecom_id", re.compile(r"[A-Za-z0-9_.@-]{1,64}"), N_("a WeCom user id")),
}
PLACEHOLDERS = ("phone", "email", "username", "user_id", "dingtalk_id", "wecom_id")
SAMPLE = {"phone": "13800000000", "email": "someone@example.com", "username": "someone", "user_id": "1",
          "dingtalk_id": "someone", "wecom_id": "someone"}
IDEMPOTENCY_HEADER = "Idempotency-Key"


class UrlProblem(ValueError):
    """Why a channel URL cannot be used; ``message`` is an ``N_`` template with ``params``."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message, self.params = message, params


def placeholders(url: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(url) if name is not None}
    except ValueError as exc:
        raise UrlProblem(N_("The URL has an unmatched brace.")) from exc


def fill(url: str, values: Mapping[str, Any]) -> str:
    """The URL with a recipient's fields filled in, percent-encoded so a value cannot change the URL's host or
    parameters; ``KeyError`` names a field the recipient lacks."""
    needed = placeholders(url)
    missing = [name for name in needed if values.get(name) in (None, "")]
    if missing:
        raise KeyError(missing[0])
    return url.format_map({name: quote(str(values[name]), safe="@") for name in needed}) if needed else url


def is_url(value: str) -> bool:
    return "://" in value


def reached(url: str, plugin: Any) -> list[tuple[str, int | None]]:
    """The hosts (and ports) a URL makes the sender connect to, where the URL's author chose them."""
    scheme = url.partition("://")[0].lower()
    if scheme in TYPED_HOST:
        return [(str(plugin.host), plugin.port)]
    if scheme in MAIL:
        return [(str(plugin.smtp_host), plugin.port)]
    return []


def check_reach(url: str, allowed: outbound.Allowed, plugin: Any = None) -> None:
    """Refuse (``outbound.Refused``) a URL whose host is, or resolves to, an address notifications may not reach."""
    plugin = plugin if plugin is not None else instantiate(url)
    for host, port in reached(url, plugin) if plugin is not None else []:
        outbound.check_host(host, port, allowed)


def check_url(channel: Channel, url: str) -> None:
    """Refuse a URL that does not fit the channel or that Apprise cannot parse (with sample addresses)."""
    if channel not in SCHEMES:
        raise UrlProblem(N_("The {channel} channel cannot be configured."), channel=channel.value)
    unknown = sorted(placeholders(url) - set(PLACEHOLDERS))
    if unknown:
        raise UrlProblem(N_("Unknown placeholder {{{name}}}; use {allowed}."), name=unknown[0],
                         allowed=", ".join("{" + p + "}" for p in PLACEHOLDERS))
    scheme = url.partition("://")[0].lower()
    if scheme not in SCHEMES[channel]:
        raise UrlProblem(N_("A {channel} URL starts with {schemes}."), channel=channel.value,
                         schemes=" / ".join(f"{s}://" for s in SCHEMES[channel]))
    if instantiate(url.format_map(SAMPLE)) is None:
        raise UrlProblem(N_("Apprise cannot read this URL."))


def instantiate(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def target_key(url: str) -> str:
    """A name for the target that reveals none of its secrets; rate limits count per target."""
    return hashlib.sha256(url.encode()).hexdigest()[:40]


def masked(url: str) -> str:
    """The URL as ops may see it: Apprise's privacy form (tokens and passwords hidden)."""
    plugin = instantiate(url)
    if plugin is None:
        return url.partition("://")[0] + "://…"
    return str(plugin.url(privacy=True))


@dataclass(frozen=True)
class Envelope:
    """One send: what it says, where it goes, and the key that makes a repeat recognisable."""

    target: str
    title: str
    body: str
    idempotency_key: str
    kind: str
    link: str | None = None
    members: tuple[str, ...] = ()  # the messages' own keys, when this is a digest


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None
    permanent: bool = False  # trying again cannot help: the delivery fails now, without the remaining attempts


class Sender(Protocol):
    def send(self, envelope: Envelope) -> Outcome: ...


class _ThreadLog(logging.Handler):
    """Collects Apprise's warnings per thread, so a failed send can say why."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    def start(self) -> None:
        self.local.lines = []

    def stop(self) -> list[str]:
        lines: list[str] = getattr(self.local, "lines", None) or []
        self.local.lines = None
        return lines


_log = _ThreadLog()
logging.getLogger("apprise").addHandler(_log)


class AppriseSender:
    """Sends through Apprise with a read/connect timeout. The idempotency key travels as a header and in the
    JSON payload where the protocol has them (webhooks, SMS gateways, e-mail headers).

    The target's host is checked right before sending and every connection the send opens is checked again
    (``outbound.guarded``); a refused address fails the delivery for good. Redirects are not followed: a 3xx
    answer is a failure, so a channel cannot point the sender elsewhere."""

    def __init__(self, timeout: float = 10.0, allowed: outbound.Allowed | None = None) -> None:
        self.timeout = timeout
        self.allowed = allowed or outbound.Allowed()

    def send(self, envelope: Envelope) -> Outcome:
        plugin = instantiate(envelope.target)
        if plugin is None:
            return Outcome(False, "Apprise cannot read the target URL")
        try:
            check_reach(envelope.target, self.allowed, plugin)
        except outbound.Refused as exc:
            return Outcome(False, exc.text("en"), permanent=not exc.transient)
        plugin.socket_read_timeout = plugin.socket_connect_timeout = self.timeout
        plugin.redirects = False
        _stamp(plugin, envelope)
        _log.start()
        with outbound.guarded(self.allowed) as refused:
            try:
                ok = bool(plugin.notify(body=envelope.body, title=envelope.title))
            except Exception as exc:  # a plugin bug must fail this send, not the worker
                ok = False
                _log.local.lines.append(f"{type(exc).__name__}: {exc}")
        lines = _log.stop()
        if not ok and refused:
            return Outcome(False, refused[0].text("en"), permanent=True)
        return Outcome(True) if ok else Outcome(False, ("; ".join(lines) or "the channel refused the message")[:500])


def _stamp(plugin: Any, envelope: Envelope) -> None:
    headers = getattr(plugin, "headers", None)
    if isinstance(headers, dict):
        headers[IDEMPOTENCY_HEADER] = envelope.idempotency_key
    extras = getattr(plugin, "payload_extras", None)
    if isinstance(extras, dict):
        extras.update({"idempotency_key": envelope.idempotency_key, "kind": envelope.kind})
        if envelope.link:
            extras["link"] = envelope.link
        if envelope.members:
            extras["members"] = list(envelope.members)


@dataclass
class MemorySender:
    """Records every envelope; ``fail`` lists targets that refuse. For tests and dry runs."""

    sent: list[Envelope] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, envelope: Envelope) -> Outcome:
        with self.lock:
            self.sent.append(envelope)
        if envelope.target in self.fail:
            return Outcome(False, "refused")
        return Outcome(True)
