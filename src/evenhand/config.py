"""The one place evenhand reads its environment (prefix ``EVENHAND_``)."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENHAND_", env_file=".env", extra="ignore")

    mode: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    locale: Locale = "zh-CN"
    # Sign-in throttling (docs/deploy.md): past its free failures, a key's next attempt waits, the wait doubling
    # with each further failure. Keys: an account from one address, an address, and an account, counted against
    # addresses that have failed on it. A success from an address clears that account's failures from there.
    login_free_failures: int = Field(default=5, ge=1)
    login_free_failures_per_address: int = Field(default=20, ge=1)
    login_free_failures_per_account: int = Field(default=10, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    login_failures_kept_minutes: int = Field(default=60, ge=1)
    # Proxies whose X-Forwarded-For names the client (IPs or CIDRs, comma-separated); nobody else's is believed.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    session_days: int = Field(default=7, ge=1)
    cookie_secure: bool = False
    dedup_keys: list[Literal["email", "phone", "company"]] = ["email", "phone"]
    max_batch: int = Field(default=10_000, ge=1)
    # The embedded SQLite fsyncs every commit (FULL): a lead answered with its assignment survives a power
    # cut. NORMAL is faster and still never corrupts, but may lose the last commits when the machine dies.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    appeal_window_minutes: int = Field(default=120, ge=1)  # how long after an assignment a rep may appeal it
    # Notifications: the outbox worker, escalation per message kind (JSON, merged over the defaults in
    # notify/policy.py), and the delivery/ack thresholds below which ops are alerted.
    public_url: str = ""
    worker_in_serve: bool = True
    notify_batch_size: int = Field(default=50, ge=1, le=1000)
    notify_threads: int = Field(default=8, ge=1, le=64)
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    notify_lease_seconds: float = Field(default=300.0, gt=0)
    notify_send_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_base_seconds: float = Field(default=5.0, gt=0)
    notify_backoff_max_seconds: float = Field(default=600.0, gt=0)
    notify_policies: dict[str, dict[str, Any]] = {}
    notify_min_delivery_rate: float = Field(default=0.95, ge=0, le=1)
    notify_min_ack_rate: float = Field(default=0.8, ge=0, le=1)
    notify_health_min_volume: int = Field(default=20, ge=1)
    notify_health_window_hours: float = Field(default=6.0, gt=0)
    notify_health_every_seconds: float = Field(default=300.0, gt=0)
    # The audit chain's MAC key (docs/audit.md): from the environment, else generated once in data_dir. Its
    # signed checkpoints go to data_dir/audit/<database>/checkpoints.jsonl, and also to ``audit_checkpoint_copy``
    # (a file the operator ships off the machine) and, with ``audit_checkpoint_notify``, to ops via the outbox.
    audit_key: SecretStr | None = None
    audit_checkpoint_every_seconds: float = Field(default=3600.0, gt=0)
    audit_checkpoint_copy: Path | None = None
    audit_checkpoint_notify: bool = False
    # Hosts and networks notifications may reach although they are not public (loopback, RFC 1918, link-local,
    # metadata …): host names or CIDRs, comma-separated. Everything else must resolve to public addresses.
    outbound_allowed_hosts: Annotated[list[str], NoDecode] = []
    # Capture connectors (docs/capture.md): each platform's callback secrets, as its admin console shows them. A
    # connector whose secrets are missing refuses every callback. An event older than the replay window, or one
    # seen before, is acknowledged and not stored again.
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    wecom_corp_id: str | None = None
    dingtalk_token: SecretStr | None = None
    dingtalk_aes_key: SecretStr | None = None
    dingtalk_app_key: str | None = None
    # Backfill pulls (docs/capture.md, "Backfill"): WeCom's app secret (with the corp id above) and DingTalk's app
    # secret (with the app key above), and each platform's API base, which passes the outbound host check.
    wecom_corp_secret: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    dingtalk_app_secret: SecretStr | None = None
    dingtalk_api_base: str = "https://oapi.dingtalk.com"
    # The HMAC-SHA256 key a call centre signs its call records with (POST /api/v1/capture/telephony).
    telephony_hmac_secret: SecretStr | None = None
    capture_replay_window_seconds: int = Field(default=300, ge=1)
    # Microsoft Graph (Outlook mail and calendar): an app registration's client credentials (application permissions
    # Mail.Read and Calendars.Read), the public URL Graph posts change notifications to, and the mailboxes (user ids
    # or UPNs, comma-separated) whose mail and calendar are captured. Both bases pass the outbound host check.
    graph_tenant_id: str | None = None
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None
    graph_notification_url: str = ""
    graph_api_base: str = "https://graph.microsoft.com/v1.0"
    graph_login_base: str = "https://login.microsoftonline.com"
    graph_mailboxes: Annotated[list[str], NoDecode] = []
    # Honesty checks on CRM notes (docs/honesty.md): the window around a note in which a captured contact backs
    # its claim, extra claim patterns per kind (call, meeting, visit, message; regular expressions added to the
    # built-in ones), the near-duplicate rule (minimum length without spaces and punctuation, Jaccard similarity
    # of character 3-grams, how far back copies are looked for), and the worker's daily scan of the last days.
    honesty_window_before_hours: float = Field(default=12.0, ge=0, le=24 * 30)
    honesty_window_after_hours: float = Field(default=2.0, ge=0, le=24 * 30)
    honesty_claim_patterns: dict[Literal["call", "meeting", "visit", "message"], list[str]] = {}
    honesty_duplicate_min_chars: int = Field(default=40, ge=5)
    honesty_duplicate_threshold: float = Field(default=0.8, gt=0, le=1)
    honesty_duplicate_lookback_days: int = Field(default=90, ge=1)
    honesty_scan_days: int = Field(default=7, ge=1)
    honesty_scan_every_seconds: float = Field(default=86400.0, gt=0)
    # Alerts (docs/alerts.md): how often the worker judges every rule on every open deal, lead and rep.
    alerts_scan_every_seconds: float = Field(default=300.0, gt=0)
    # Call QA (docs/qa.md): the share of a period's recorded outbound calls drawn for review, where recordings are
    # (default data_dir/recordings; a recording_ref is a path under it), and how often the worker checks whether
    # last month's sample is drawn.
    qa_share: float = Field(default=0.1, gt=0, le=1)
    qa_recordings_dir: Path | None = None
    qa_draw_check_seconds: float = Field(default=3600.0, gt=0)
    # Peer review (docs/performance.md): whether the worker opens the previous month's cycle in a month's first days.
    peer_review_auto: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("outbound_allowed_hosts", mode="before")
    @classmethod
    def _outbound_hosts(cls, value: Any) -> list[str]:
        entries = _entries(value)
        for entry in entries:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry.strip("[]"), strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is neither a host name nor a network like 10.0.0.0/8") from None
        return entries

    @field_validator("graph_mailboxes", mode="before")
    @classmethod
    def _mailbox_list(cls, value: Any) -> Any:
        return _entries(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        return _entries(value)

    @field_validator("audit_key")
    @classmethod
    def _long_audit_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the audit key must be at least 32 characters")
        return value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'evenhand.sqlite').resolve()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secret(self) -> str:
        """The signing key: from the environment, else generated once and kept in ``data_dir``.

        There is deliberately no built-in default, in any mode: a key that ships with the code
        signs nothing.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key

    def audit_secret(self) -> str:
        """The audit chain's key: ``EVENHAND_AUDIT_KEY``, else generated once and kept in ``data_dir/audit_key``
        (mode 0600). Separate from the signing key, so rotating that one (signing everyone out) leaves the
        chain verifiable. Processes racing to create it agree: the file appears whole, once."""
        if self.audit_key is not None:
            return self.audit_key.get_secret_value()
        path = self.data_dir / "audit_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".audit_key.{secrets.token_hex(8)}")
            draft.touch(mode=0o600)
            draft.write_text(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)  # fails if another process got there first
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip()


def _entries(value: Any) -> Any:
    """A list setting given as text: a JSON list, or entries separated by commas or spaces."""
    if isinstance(value, str):
        return json.loads(value) if value.strip().startswith("[") else value.replace(",", " ").split()
    return value


_bound: ContextVar[Settings | None] = ContextVar("evenhand_settings", default=None)


def get_settings() -> Settings:
    """The settings of the app or command this code runs for: those an app binds for each request it serves
    (``bound``), else the process's own, read once from the environment. Two apps in one process (tests, a
    second server) thus never read each other's configuration."""
    return _bound.get() or _from_environment()


@lru_cache
def _from_environment() -> Settings:
    return Settings()


def forget_settings() -> None:
    """Read the environment again at the next ``get_settings`` (after a test or a command changed it)."""
    _from_environment.cache_clear()


@contextmanager
def bound(settings: Settings) -> Iterator[None]:
    """``get_settings()`` gives ``settings`` in this context (a request, a job, a thread that copies it)."""
    token = _bound.set(settings)
    try:
        yield
    finally:
        _bound.reset(token)
