"""What the WeCom and DingTalk pull clients share: an access token kept until it expires, JSON calls that answer
``{"errcode": 0, ...}``, and the platform's error codes read the same way. No database.

- The token is fetched when none is held or it expires within a minute (``expires_in``, 7,200 s on both), and once
  more when the platform says it expired or is invalid (``TOKEN_ERRORS``) — then the call is made again, once.
- A rate-limit answer (the platform's ``rate_errors``) waits 1, 2, 4 … seconds and tries again, at most
  ``RETRIES`` times; then it is a ``PlatformError``.
- Any other non-zero ``errcode`` is a ``PlatformError`` carrying the code and the platform's message.
- Every URL lies under the configured base and passes the outbound host check (``notify.outbound``: public addresses
  only, unless ``EVENHAND_OUTBOUND_ALLOWED_HOSTS`` allows the host); redirects are not followed.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Self

import httpx
from pydantic import SecretStr

from evenhand.config import Settings
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.notify import outbound

TIMEOUT = 15.0
TOKEN_MARGIN = 60.0  # seconds before its expiry a token is fetched again
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired (both platforms)
RETRIES = 5
BACKOFF = 1.0  # seconds before the first retry after a rate-limit answer; doubled each time
UNSET = N_("{platform} backfill is not configured: set {setting}.")


class NotConfigured(DomainError):
    status, code = 503, "not_configured"


class PlatformError(Exception):
    """A call the platform refused (its ``errcode`` and ``errmsg``) or that got no usable answer (``errcode``
    None)."""

    def __init__(self, platform: str, message: str, *, errcode: int | None = None) -> None:
        code = f"errcode {errcode}: " if errcode is not None else ""
        super().__init__(f"{platform}: {code}{message}")
        self.errcode, self.errmsg = errcode, message


def required(settings: Settings, platform: str, *names: str) -> list[str]:
    """The values of the named settings (secrets revealed); ``NotConfigured`` naming the first one missing."""
    values = []
    for name in names:
        value = getattr(settings, name)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not text:
            raise NotConfigured(UNSET, field=name, platform=platform, setting=name)
        values.append(str(text))
    return values


class PlatformClient(ABC):
    """One connection pool to a platform's API and its token; use as a context manager, or ``close()``."""

    platform: ClassVar[str]
    rate_errors: ClassVar[frozenset[int]]

    def __init__(self, base: str, allowed_hosts: list[str], *, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = TIMEOUT) -> None:
        self.base = base.rstrip("/")
        self.allowed = outbound.Allowed.parse(allowed_hosts)
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.sleep = sleep
        self._token: tuple[str, float] | None = None
        self.calls = 0  # requests sent
        self.waits = 0  # rate-limit answers waited out

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @abstractmethod
    def fetch_token(self) -> tuple[str, float]:
        """A fresh token and its lifetime in seconds (the platform's token endpoint): each platform's own."""

    def token(self) -> str:
        if self._token is None or time.monotonic() >= self._token[1]:
            value, lifetime = self.fetch_token()
            self._token = (value, time.monotonic() + max(lifetime - TOKEN_MARGIN, 1.0))
        return self._token[0]

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
             ) -> dict[str, Any]:
        """A call with the token; its answer once ``errcode`` is 0 (token refreshed once, rate limits waited out)."""
        refreshed, waited = False, 0
        while True:
            body = self.send(method, path, params={**(params or {}), "access_token": self.token()}, json=json)
            code = errcode(body)
            if code == 0:
                return body
            if code in TOKEN_ERRORS and not refreshed:
                self._token, refreshed = None, True
            elif code in self.rate_errors and waited < RETRIES:
                self.sleep(BACKOFF * 2 ** waited)
                waited, self.waits = waited + 1, self.waits + 1
            else:
                raise PlatformError(self.platform, str(body.get("errmsg") or "")[:300], errcode=code)

    def send(self, method: str, path: str, *, params: dict[str, Any], json: Any = None) -> dict[str, Any]:
        """One request under the base, past the outbound check; its JSON object."""
        url = f"{self.base}/{path.lstrip('/')}"
        target = httpx.URL(url)
        try:
            outbound.check_host(target.host, target.port, self.allowed)
            with outbound.guarded(self.allowed):
                self.calls += 1
                answer = self.http.request(method, url, params=params, json=json)
        except outbound.Refused as exc:
            raise PlatformError(self.platform, exc.text("en")) from exc
        except httpx.HTTPError as exc:
            raise PlatformError(self.platform, f"{type(exc).__name__}: {exc}"[:300]) from exc
        return _json(self.platform, path, answer)


def errcode(body: dict[str, Any]) -> int:
    """The answer's ``errcode`` (0 when absent, as in DingTalk's v1.0 answers)."""
    try:
        return int(body.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1


def _json(platform: str, path: str, answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code >= 400 or not isinstance(body, dict):
        raise PlatformError(platform, f"{path.split('?')[0]}: HTTP {answer.status_code} {answer.text[:200]}")
    return body
