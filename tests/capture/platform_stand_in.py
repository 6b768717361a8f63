"""A local HTTP server standing in for qyapi.weixin.qq.com (WeCom) and oapi.dingtalk.com (DingTalk), as their
documentation describes them: tokens, WeCom's follow users, external contacts (cursor paging) and call records
(offset paging), DingTalk's CRM follow records (cursor paging). It records every request; ``errors`` queues errcodes
to answer on a path before answering normally."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from evenhand.config import Settings

CORP_ID, CORP_SECRET = "ww1234567890", "corp-s3cret"
APP_KEY, APP_SECRET = "dingapp123", "app-s3cret"
CONTACT_PAGE = 2  # contacts per page of batch/get_by_user, so the cursor is followed
FOLLOW_PAGE = 2  # follow records per page


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class StandIn:
    follow_users: list[str] = field(default_factory=list)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # member → batch/get_by_user items
    dial_records: list[dict[str, Any]] = field(default_factory=list)
    follow_records: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # path → errcodes to answer first
    expired: set[str] = field(default_factory=set)  # tokens the platform now calls expired
    requests: list[Call] = field(default_factory=list)
    tokens: int = 0
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, settings: Settings, **extra: Any) -> Settings:
        """Settings pointing both platforms here, which the outbound check allows."""
        return settings.model_copy(update={
            "wecom_corp_id": CORP_ID, "wecom_corp_secret": SecretStr(CORP_SECRET), "wecom_api_base": self.base,
            "dingtalk_app_key": APP_KEY, "dingtalk_app_secret": SecretStr(APP_SECRET),
            "dingtalk_api_base": self.base, "outbound_allowed_hosts": ["127.0.0.1"], **extra})

    def calls(self, path: str) -> list[Call]:
        return [c for c in self.requests if c.path == path]

    # --- answering -----------------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if path in ("/cgi-bin/gettoken", "/gettoken"):
            return self._token(query)
        queued = self.errors.get(path)
        if queued:
            code, message = queued.pop(0)
            return {"errcode": code, "errmsg": message}
        if query.get("access_token") in self.expired:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if not str(query.get("access_token", "")).startswith("token-"):
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        handler = {"/cgi-bin/externalcontact/get_follow_user_list": self._follow_users,
                   "/cgi-bin/externalcontact/batch/get_by_user": self._contacts,
                   "/cgi-bin/dial/get_dial_record": self._dials,
                   "/topapi/crm/objectdata/followrecord/query": self._follow_records}.get(path)
        return handler(body) if handler else {"errcode": 404, "errmsg": f"no such API {path}"}

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        if (query.get("corpid"), query.get("corpsecret")) != (CORP_ID, CORP_SECRET) and \
                (query.get("appkey"), query.get("appsecret")) != (APP_KEY, APP_SECRET):
            return {"errcode": 40001, "errmsg": "invalid credential"}
        self.tokens += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": f"token-{self.tokens}", "expires_in": 7200}

    def _follow_users(self, body: Any) -> dict[str, Any]:
        return {"errcode": 0, "errmsg": "ok", "follow_user": self.follow_users}

    def _contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        items = [c for member in body["userid_list"] for c in self.contacts.get(member, [])]
        start = int(body.get("cursor") or 0)
        more = start + CONTACT_PAGE < len(items)
        return {"errcode": 0, "errmsg": "ok", "external_contact_list": items[start:start + CONTACT_PAGE],
                "next_cursor": str(start + CONTACT_PAGE) if more else ""}

    def _dials(self, body: dict[str, Any]) -> dict[str, Any]:
        found = [r for r in self.dial_records if body["start_time"] <= r["call_time"] <= body["end_time"]]
        offset, limit = body["offset"], min(body["limit"], 100)
        return {"errcode": 0, "errmsg": "ok", "record": found[offset:offset + limit]}

    def _follow_records(self, body: dict[str, Any]) -> dict[str, Any]:
        start = int(body.get("cursor") or 0)
        more = start + FOLLOW_PAGE < len(self.follow_records)
        return {"errcode": 0, "errmsg": "ok", "result": {
            "values": self.follow_records[start:start + FOLLOW_PAGE], "has_more": more,
            "next_cursor": str(start + FOLLOW_PAGE)}}

    # --- the server ----------------------------------------------------------------------------------------

    def serve(self) -> Iterator[StandIn]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                body = json.loads(raw) if raw else None
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                stand_in.requests.append(Call(self.command, url.path, query, body))
                data = json.dumps(stand_in.answer(url.path, query, body), ensure_ascii=False).encode()
                self.send_response(200)  # both platforms answer errors with 200 and an errcode
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

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
