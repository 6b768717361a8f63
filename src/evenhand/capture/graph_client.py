"""The HTTP client to Microsoft Graph: an app-only token (client credentials), subscriptions, the messages and events
notifications name, and delta queries for backfill. No database.

- The token comes from ``{graph_login_base}/{tenant}/oauth2/v2.0/token`` (``grant_type=client_credentials``, scope
  ``https://graph.microsoft.com/.default``) and is kept until a minute before it expires.
- Every request sends ``Prefer: IdType="ImmutableId"`` (a message keeps its id when it moves between folders, so its
  activity is not captured twice) and ``outlook.timezone="UTC"`` (event times in UTC).
- Every URL, the ``@odata.nextLink`` / ``@odata.deltaLink`` Graph answers included, must lie under one of the two
  configured bases and pass the outbound host check (``notify.outbound``: public addresses only, unless
  ``EVENHAND_OUTBOUND_ALLOWED_HOSTS`` allows the host); redirects are not followed.
- A failure is a ``GraphError``; ``permanent`` when trying again cannot help (the resource is gone, the host is
  refused).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from evenhand.config import Settings
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.notify import outbound

SCOPE = "https://graph.microsoft.com/.default"
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'
TIMEOUT = 10.0
TOKEN_MARGIN = 60.0  # seconds before its expiry a token is fetched again
GONE = frozenset({404, 410})
MESSAGE_FIELDS = ("id,subject,from,sender,toRecipients,ccRecipients,sentDateTime,receivedDateTime,createdDateTime,"
                  "hasAttachments,conversationId,conversationIndex,isDraft")
EVENT_FIELDS = "id,subject,start,end,organizer,attendees,isCancelled,isAllDay,createdDateTime"
MAIL_FOLDERS = ("inbox", "sentitems")
UNSET = N_("Microsoft Graph capture is not configured: set {setting}.")


class NotConfigured(DomainError):
    status, code = 503, "not_configured"


class GraphError(Exception):
    """A Graph call that failed: the status (None when no answer came) and whether trying again cannot help."""

    def __init__(self, message: str, *, status: int | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.status, self.permanent = status, permanent or status in GONE


def credentials(settings: Settings) -> tuple[str, str, str]:
    """The tenant, the client id and the client secret; ``NotConfigured`` naming the first one missing."""
    secret = settings.graph_client_secret.get_secret_value() if settings.graph_client_secret else ""
    for name, value in (("graph_tenant_id", settings.graph_tenant_id), ("graph_client_id", settings.graph_client_id),
                        ("graph_client_secret", secret)):
        if not value:
            raise NotConfigured(UNSET, field=name, setting=name)
    return settings.graph_tenant_id or "", settings.graph_client_id or "", secret


def stamp(at: datetime) -> str:
    """A time as Graph reads it: ISO 8601 in UTC with a Z."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphClient:
    """One connection pool to Graph and its token; use as a context manager, or ``close()``."""

    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT) -> None:
        self.tenant, self.client_id, self.secret = credentials(settings)
        self.api = settings.graph_api_base.rstrip("/")
        self.login = settings.graph_login_base.rstrip("/")
        self.allowed = outbound.Allowed.parse(settings.outbound_allowed_hosts)
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._token: tuple[str, float] | None = None
        self.calls = 0  # requests sent, for the CLI's summary

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- the wire ------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request to a URL under a configured base whose host passes the outbound check."""
        if not any(url == base or url.startswith(base + "/") for base in (self.api, self.login)):
            raise GraphError(f"{url[:200]} is not under the configured Graph bases", permanent=True)
        target = httpx.URL(url)
        try:
            outbound.check_host(target.host, target.port, self.allowed)
            with outbound.guarded(self.allowed):
                self.calls += 1
                return self.http.request(method, url, **kwargs)
        except outbound.Refused as exc:
            raise GraphError(exc.text("en"), permanent=not exc.transient) from exc
        except httpx.HTTPError as exc:
            raise GraphError(f"{type(exc).__name__}: {exc}"[:500]) from exc

    def token(self) -> str:
        """The app's access token, fetched when none is held or it expires within a minute."""
        if self._token is not None and time.monotonic() < self._token[1]:
            return self._token[0]
        answer = self._send("POST", f"{self.login}/{quote(self.tenant, safe='')}/oauth2/v2.0/token", data={
            "client_id": self.client_id, "client_secret": self.secret, "scope": SCOPE,
            "grant_type": "client_credentials"})
        body = _json(answer)
        if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise GraphError(f"token: {answer.status_code} {_problem(body)}", status=answer.status_code)
        lifetime = float(body.get("expires_in") or 3600)
        self._token = (body["access_token"], time.monotonic() + max(lifetime - TOKEN_MARGIN, 1.0))
        return self._token[0]

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
             ) -> dict[str, Any]:
        """A Graph request (``path`` under the API base, or a link Graph gave); its JSON answer."""
        url = path if path.startswith(("https://", "http://")) else f"{self.api}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self.token()}", "Prefer": PREFER}
        answer = self._send(method, url, headers=headers, json=json, params=params)
        body = _json(answer)
        if answer.status_code >= 400:
            raise GraphError(f"{method} {url[len(self.api):][:120] or url}: {answer.status_code} {_problem(body)}",
                             status=answer.status_code)
        return body

    # --- subscriptions -------------------------------------------------------------------------------------

    def subscribe(self, resource: str, *, notification_url: str, expires: datetime, client_state: str
                  ) -> dict[str, Any]:
        """``POST /subscriptions`` for created and updated items; Graph checks the URL (``validationToken``) before
        it answers. Lifecycle notifications go to the same URL."""
        return self.call("POST", "subscriptions", json={
            "changeType": "created,updated", "notificationUrl": notification_url,
            "lifecycleNotificationUrl": notification_url, "resource": resource,
            "expirationDateTime": stamp(expires), "clientState": client_state})

    def renew(self, subscription_id: str, expires: datetime) -> dict[str, Any]:
        return self.call("PATCH", f"subscriptions/{quote(subscription_id, safe='')}",
                         json={"expirationDateTime": stamp(expires)})

    def reauthorize(self, subscription_id: str) -> None:
        self.call("POST", f"subscriptions/{quote(subscription_id, safe='')}/reauthorize")

    def unsubscribe(self, subscription_id: str) -> None:
        self.call("DELETE", f"subscriptions/{quote(subscription_id, safe='')}")

    # --- what notifications name -------------------------------------------------------------------------------

    def message(self, mailbox: str, message_id: str) -> dict[str, Any]:
        """A message with its headers (``In-Reply-To``) and its attachments' ids."""
        return self.call("GET", f"users/{quote(mailbox, safe='@')}/messages/{quote(message_id, safe='')}", params={
            "$select": MESSAGE_FIELDS + ",internetMessageHeaders", "$expand": "attachments($select=id,isInline)"})

    def event(self, mailbox: str, event_id: str) -> dict[str, Any]:
        return self.call("GET", f"users/{quote(mailbox, safe='@')}/events/{quote(event_id, safe='')}",
                         params={"$select": EVENT_FIELDS})

    def address(self, mailbox: str) -> str:
        """The mailbox's e-mail address: the mailbox itself when it is one, else its user's ``mail`` (or UPN)."""
        if "@" in mailbox:
            return mailbox
        user = self.call("GET", f"users/{quote(mailbox, safe='')}", params={"$select": "mail,userPrincipalName"})
        return str(user.get("mail") or user.get("userPrincipalName") or mailbox)

    # --- backfill --------------------------------------------------------------------------------------------

    def messages_since(self, mailbox: str, since: datetime) -> Iterator[dict[str, Any]]:
        """Every message received (inbox) or sent (sent items) since then, by delta query, page after page;
        removed ones are left out."""
        for folder in MAIL_FOLDERS:
            yield from self._pages(f"users/{quote(mailbox, safe='@')}/mailFolders/{folder}/messages/delta", {
                "$filter": f"receivedDateTime ge {stamp(since)}", "$select": MESSAGE_FIELDS})

    def events_between(self, mailbox: str, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Every event of the mailbox's calendar between the two times (``calendarView/delta``)."""
        yield from self._pages(f"users/{quote(mailbox, safe='@')}/calendarView/delta",
                               {"startDateTime": stamp(since), "endDateTime": stamp(until)})

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        page = self.call("GET", path, params=params)
        while True:
            yield from (item for item in page.get("value", []) if isinstance(item, dict) and "@removed" not in item)
            link = page.get("@odata.nextLink")
            if not isinstance(link, str):
                return  # the round ends with @odata.deltaLink
            page = self.call("GET", link)


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem(body: dict[str, Any]) -> str:
    """Graph's error code and message (``{"error": {"code", "message"}}``), or the token endpoint's."""
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"[:300]
    return f"{error or ''} {body.get('error_description', '')}".strip()[:300]
