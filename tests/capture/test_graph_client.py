"""The Graph client against a local HTTP server standing in for login.microsoftonline.com and graph.microsoft.com
(``GraphStandIn``, also used by the connector's tests): the token, the outbound host check, paging."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from pydantic import SecretStr

from evenhand.capture.graph_client import GraphClient, GraphError, NotConfigured
from evenhand.config import Settings

TENANT = "contoso.onmicrosoft.com"
PAGE = 2  # items per delta page, so paging is exercised


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class GraphStandIn:
    """Serves what the test put in its dicts and records every request. ``failures`` maps a path to the status it
    answers (and how many times; -1 for always)."""

    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (mailbox, folder) → delta
    calendars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # mailbox → calendarView delta
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    tokens: int = 0
    made: int = 0  # subscriptions created, for their ids
    port: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    @property
    def login(self) -> str:
        return f"http://127.0.0.1:{self.port}/login"

    def graph_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1.0/")]

    def fail(self, path: str, status: int, times: int = -1) -> None:
        self.failures[path] = [status, times]

    # --- answering ---------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        failing = self.failures.get(path)
        if failing and failing[1] != 0:
            failing[1] -= 1
            return failing[0], {"error": {"code": "ServiceUnavailable", "message": "try later"}}
        if path == f"/login/{TENANT}/oauth2/v2.0/token":
            return self._token(body)
        parts = [unquote(p) for p in path.removeprefix("/v1.0/").split("/")]
        if parts[0] == "subscriptions":
            return self._subscriptions(method, parts, body)
        if parts[0] == "users":
            return self._users(parts, query)
        return 404, {"error": {"code": "NotFound", "message": path}}

    def _token(self, body: Any) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        if form.get("client_secret") != "s3cret" or form.get("grant_type") != "client_credentials":
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}
        self.tokens += 1
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": f"token-{self.tokens}"}

    def _subscriptions(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        if method == "POST" and len(parts) == 1:
            self.made += 1
            made = {**body, "id": f"sub-{self.made}"}
            self.subscriptions[made["id"]] = made
            return 201, made
        found = self.subscriptions.get(parts[1]) if len(parts) > 1 else None
        if found is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": "no such subscription"}}
        if method == "PATCH":
            found["expirationDateTime"] = body["expirationDateTime"]
            return 200, found
        return (204, None) if method in ("POST", "DELETE") else (200, found)

    def _users(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        mailbox, rest = parts[1], parts[2:]
        if not rest:
            return (200, self.users[mailbox]) if mailbox in self.users else (404, {"error": {"code": "NotFound"}})
        if rest[0] == "messages" and (mailbox, rest[1]) in self.messages:
            return 200, self.messages[(mailbox, rest[1])]
        if rest[0] == "events" and (mailbox, rest[1]) in self.events:
            return 200, self.events[(mailbox, rest[1])]
        if rest[0] == "mailFolders" and rest[-1] == "delta":
            return self._page(self.folders.get((mailbox, rest[1]), []), query)
        if rest == ["calendarView", "delta"]:
            return self._page(self.calendars.get(mailbox, []), query)
        return 404, {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found."}}

    def _page(self, items: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, Any]:
        start = int(query.get("$skiptoken", "0"))
        page: dict[str, Any] = {"value": items[start:start + PAGE]}
        link = f"{self.api}{self._path}?$skiptoken={start + PAGE}"
        page["@odata.nextLink" if start + PAGE < len(items) else "@odata.deltaLink"] = (
            link if start + PAGE < len(items) else f"{self.api}{self._path}?$deltatoken=latest")
        return 200, page

    _path = ""

    # --- the server ----------------------------------------------------------------------------------------

    def serve(self) -> Iterator[GraphStandIn]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                is_json = "json" in (self.headers.get("Content-Type") or "")
                body = json.loads(raw) if raw and is_json else raw
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                stand_in.requests.append(Recorded(self.command, url.path, query, dict(self.headers), body))
                stand_in._path = url.path.removeprefix("/v1.0")
                status, answer = stand_in.answer(self.command, url.path, query, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def stand_in() -> Iterator[GraphStandIn]:
    yield from GraphStandIn().serve()


def configured(settings: Settings, stand_in: GraphStandIn, **extra: Any) -> Settings:
    """Settings pointing Graph at the stand-in, which the outbound check allows."""
    return settings.model_copy(update={
        "graph_tenant_id": TENANT, "graph_client_id": "app-1", "graph_client_secret": SecretStr("s3cret"),
        "graph_notification_url": "https://evenhand.example.com/api/v1/capture/graph",
        "graph_api_base": stand_in.api, "graph_login_base": stand_in.login,
        "graph_mailboxes": ["anna@contoso.com"], "outbound_allowed_hosts": ["127.0.0.1"], **extra})


@pytest.fixture
def plain_settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, mode="test")


def test_the_token_is_fetched_once_by_client_credentials(stand_in: GraphStandIn, plain_settings: Settings) -> None:
    stand_in.users["u-1"] = {"mail": "anna@contoso.com"}
    with GraphClient(configured(plain_settings, stand_in)) as client:
        assert client.address("u-1") == "anna@contoso.com"
        assert client.address("anna@contoso.com") == "anna@contoso.com"  # an address needs no call
        client.address("u-1")
    token, *calls = stand_in.requests
    assert token.method == "POST" and token.path == f"/login/{TENANT}/oauth2/v2.0/token"
    assert parse_qs(token.body) == {"client_id": ["app-1"], "client_secret": ["s3cret"],
                                    "scope": ["https://graph.microsoft.com/.default"],
                                    "grant_type": ["client_credentials"]}
    assert [(c.method, c.path, c.headers["Authorization"]) for c in calls] == [
        ("GET", "/v1.0/users/u-1", "Bearer token-1")] * 2
    assert 'IdType="ImmutableId"' in calls[0].headers["Prefer"]


def test_a_wrong_secret_is_a_graph_error_naming_the_token_endpoints_answer(stand_in: GraphStandIn,
                                                                            plain_settings: Settings) -> None:
    with (GraphClient(configured(plain_settings, stand_in, graph_client_secret=SecretStr("wrong"))) as client,
          pytest.raises(GraphError, match="AADSTS7000215") as raised):
        client.address("u-1")
    assert raised.value.status == 401 and not raised.value.permanent


def test_a_host_the_outbound_check_refuses_is_never_reached(stand_in: GraphStandIn, plain_settings: Settings) -> None:
    with (GraphClient(configured(plain_settings, stand_in, outbound_allowed_hosts=[])) as client,
          pytest.raises(GraphError, match="loopback") as raised):
        client.token()
    assert raised.value.permanent and stand_in.requests == []


def test_a_link_outside_the_configured_bases_is_refused(stand_in: GraphStandIn, plain_settings: Settings) -> None:
    with (GraphClient(configured(plain_settings, stand_in)) as client,
          pytest.raises(GraphError, match="not under the configured Graph bases")):
        client.call("GET", "http://169.254.169.254/latest/meta-data")
    assert stand_in.graph_calls() == []


def test_delta_pages_are_followed_and_removed_items_left_out(stand_in: GraphStandIn, plain_settings: Settings) -> None:
    items = [{"id": f"m{i}"} for i in range(5)] + [{"id": "gone", "@removed": {"reason": "deleted"}}]
    stand_in.folders[("anna@contoso.com", "inbox")] = items
    with GraphClient(configured(plain_settings, stand_in)) as client:
        got = list(client.messages_since("anna@contoso.com", datetime(2026, 3, 1, tzinfo=UTC)))
    assert [m["id"] for m in got] == ["m0", "m1", "m2", "m3", "m4"]
    first = next(r for r in stand_in.requests if r.path.endswith("/inbox/messages/delta"))
    assert first.query["$filter"] == "receivedDateTime ge 2026-03-01T00:00:00Z"
    assert sum(r.path.endswith("/inbox/messages/delta") for r in stand_in.requests) == 3  # three pages


@pytest.mark.parametrize("missing", ["graph_tenant_id", "graph_client_id", "graph_client_secret"])
def test_a_missing_setting_is_named(stand_in: GraphStandIn, plain_settings: Settings, missing: str) -> None:
    with pytest.raises(NotConfigured) as raised:
        GraphClient(configured(plain_settings, stand_in, **{missing: None}))
    assert raised.value.field == missing
