"""The HTTP client to DingTalk's server API (钉钉服务端API) for backfill: the token and the follow records of
DingTalk's own CRM (客户管理, 跟进记录). No database.

- ``GET /gettoken?appkey=…&appsecret=…`` gives ``access_token`` and ``expires_in`` (an in-house app's token).
- ``POST /topapi/crm/objectdata/followrecord/query`` (permission ``qyapi_crm_maindata_read``) with ``cursor`` and
  ``page_size`` (at most 200) answers ``result.values`` — each with ``instance_id``, ``creator_userid``,
  ``gmt_create`` (``YYYY-MM-DD HH:MM:SS``, Beijing time), ``data`` (the record's fields as a JSON string) and
  ``permission.owner_userid_list`` — with ``has_more`` and ``next_cursor``.
- DingTalk documents no server API that lists call records for every edition (its office-phone call list is a
  JSAPI for the page, and call centres push their own records: the webhook takes those), so the pull reads the CRM.
- Rate limits (88 and 90018: over the app's or the company's call frequency; 90002 system busy) are waited out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evenhand.capture.platform import PlatformClient, PlatformError, required
from evenhand.config import Settings

PLATFORM = "DingTalk"
PAGE = 100


class DingTalkClient(PlatformClient):
    platform = PLATFORM
    rate_errors = frozenset({88, 90018, 90002})

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.app_key, self.secret = required(settings, PLATFORM, "dingtalk_app_key", "dingtalk_app_secret")
        super().__init__(settings.dingtalk_api_base, settings.outbound_allowed_hosts, **kwargs)

    def fetch_token(self) -> tuple[str, float]:
        body = self.send("GET", "gettoken", params={"appkey": self.app_key, "appsecret": self.secret})
        if body.get("errcode") or not isinstance(body.get("access_token"), str):
            raise PlatformError(PLATFORM, f"gettoken: {body.get('errmsg') or 'no access_token'}",
                                errcode=int(body.get("errcode") or 0))
        return body["access_token"], float(body.get("expires_in") or 7200)

    def follow_records(self) -> Iterator[list[dict[str, Any]]]:
        """Every follow record the app may read, a page at a time."""
        cursor = "0"
        while True:
            body = self.call("POST", "topapi/crm/objectdata/followrecord/query",
                             json={"cursor": cursor, "page_size": PAGE})
            found = body.get("result")
            result: dict[str, Any] = found if isinstance(found, dict) else {}
            yield [v for v in result.get("values") or [] if isinstance(v, dict)]
            cursor = str(result.get("next_cursor") or "")
            if not result.get("has_more") or not cursor:
                return
