"""The HTTP client to WeCom's server API (企业微信服务端API) for backfill: the token, the follow users and their
external contacts (客户联系), and the public-phone call records (公费电话拨打记录). No database.

- ``GET /cgi-bin/gettoken?corpid=…&corpsecret=…`` gives ``access_token`` and ``expires_in``; the secret is the one of
  the app the records are granted to (客户联系 and 公费电话 each list the apps that may call them).
- ``GET /cgi-bin/externalcontact/get_follow_user_list`` names the members who have external contacts;
  ``POST /cgi-bin/externalcontact/batch/get_by_user`` lists their contacts (``userid_list`` up to 100 members,
  ``limit`` up to 100, ``cursor`` / ``next_cursor`` until it is empty). Each item holds ``external_contact``
  (``external_userid``, ``name``) and the member's ``follow_info`` (``userid``, ``remark_mobiles``, ``createtime``).
- ``POST /cgi-bin/dial/get_dial_record`` with ``start_time``, ``end_time`` (both included, at most 30 days apart),
  ``offset`` and ``limit`` (at most 100) gives the calls that connected, ``record`` holding ``call_time``,
  ``total_duration`` (minutes), ``caller`` (``userid``, ``duration``) and ``callee`` (each a ``phone`` for someone
  outside the company or a ``userid`` for a member, and its ``duration``).
- Rate limits (45009 over the frequency limit, 45033 too many concurrent calls, -1 system busy) are waited out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from evenhand.capture.platform import PlatformClient, PlatformError, required
from evenhand.config import Settings

PLATFORM = "WeCom"
PAGE = 100  # both list APIs' largest page
MEMBERS_PER_CALL = 100  # batch/get_by_user's largest userid_list


class WeComClient(PlatformClient):
    platform = PLATFORM
    rate_errors = frozenset({45009, 45033, -1})

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.corp_id, self.secret = required(settings, PLATFORM, "wecom_corp_id", "wecom_corp_secret")
        super().__init__(settings.wecom_api_base, settings.outbound_allowed_hosts, **kwargs)

    def fetch_token(self) -> tuple[str, float]:
        body = self.send("GET", "cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret})
        if body.get("errcode") or not isinstance(body.get("access_token"), str):
            raise PlatformError(PLATFORM, f"gettoken: {body.get('errmsg') or 'no access_token'}",
                                errcode=int(body.get("errcode") or 0))
        return body["access_token"], float(body.get("expires_in") or 7200)

    def follow_users(self) -> list[str]:
        """The members who have external contacts (客户联系 enabled)."""
        body = self.call("GET", "cgi-bin/externalcontact/get_follow_user_list")
        return [str(u) for u in body.get("follow_user") or []]

    def contacts(self, members: list[str]) -> Iterator[dict[str, Any]]:
        """Every external contact of the members, page after page (one item per member and contact)."""
        for start in range(0, len(members), MEMBERS_PER_CALL):
            cursor = ""
            while True:
                body = self.call("POST", "cgi-bin/externalcontact/batch/get_by_user", json={
                    "userid_list": members[start:start + MEMBERS_PER_CALL], "cursor": cursor, "limit": PAGE})
                yield from (c for c in body.get("external_contact_list") or [] if isinstance(c, dict))
                cursor = str(body.get("next_cursor") or "")
                if not cursor:
                    break

    def dial_records(self, start: datetime, end: datetime) -> Iterator[list[dict[str, Any]]]:
        """The call records from ``start`` to ``end`` (both included; at most 30 days), a page at a time."""
        offset = 0
        while True:
            body = self.call("POST", "cgi-bin/dial/get_dial_record", json={
                "start_time": int(start.timestamp()), "end_time": int(end.timestamp()), "offset": offset,
                "limit": PAGE})
            page = [r for r in body.get("record") or [] if isinstance(r, dict)]
            yield page
            if len(page) < PAGE:
                return
            offset += len(page)
