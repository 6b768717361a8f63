"""The WeCom and DingTalk pull clients against a local stand-in for both platforms (no database): the token kept and
fetched again when the platform says it expired, cursor and offset paging, rate limits waited out a bounded number
of times, a platform's refusal carrying its errcode and errmsg, the outbound host check, missing secrets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evenhand.capture import platform
from evenhand.capture.dingtalk_client import DingTalkClient
from evenhand.capture.platform import NotConfigured, PlatformError
from evenhand.capture.wecom_client import WeComClient
from evenhand.config import Settings
from tests.capture.platform_stand_in import CORP_ID, CORP_SECRET, StandIn

DIALS, CONTACTS = "/cgi-bin/dial/get_dial_record", "/cgi-bin/externalcontact/batch/get_by_user"
FOLLOWS = "/topapi/crm/objectdata/followrecord/query"
DAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from StandIn().serve()


@pytest.fixture
def configured(tmp_path: Any, stand_in: StandIn) -> Settings:
    return stand_in.settings(Settings(data_dir=tmp_path, mode="test"))


class Naps(list[float]):
    """A sleep that only notes how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def contact(external: str, member: str, *mobiles: str) -> dict[str, Any]:
    return {"external_contact": {"external_userid": external, "name": external, "type": 1},
            "follow_info": {"userid": member, "createtime": 1772415000, "remark_mobiles": list(mobiles)}}


def dial(at: datetime, n: int = 0) -> dict[str, Any]:
    return {"call_time": int(at.timestamp()) + n, "total_duration": 2, "call_type": 1,
            "caller": {"userid": "zhangsan", "duration": 1}, "callee": [{"phone": f"1380013{n:04d}", "duration": 1}]}


def test_the_token_is_fetched_once_and_sent_with_every_call(stand_in: StandIn, configured: Settings) -> None:
    stand_in.follow_users = ["zhangsan", "lisi"]
    with WeComClient(configured) as client:
        assert client.follow_users() == ["zhangsan", "lisi"]
        client.follow_users()
    token, *calls = stand_in.requests
    assert (token.path, token.query) == ("/cgi-bin/gettoken", {"corpid": CORP_ID, "corpsecret": CORP_SECRET})
    assert [c.query["access_token"] for c in calls] == ["token-1", "token-1"]


def test_an_expired_token_is_fetched_again_and_the_call_made_once_more(stand_in: StandIn,
                                                                       configured: Settings) -> None:
    stand_in.follow_users = ["zhangsan"]
    with WeComClient(configured) as client:
        client.follow_users()
        stand_in.expired.add("token-1")
        assert client.follow_users() == ["zhangsan"]
    assert stand_in.tokens == 2
    assert [c.query.get("access_token") for c in stand_in.requests if c.path != "/cgi-bin/gettoken"] == [
        "token-1", "token-1", "token-2"]


def test_a_token_refused_twice_is_an_error_not_a_loop(stand_in: StandIn, configured: Settings) -> None:
    stand_in.errors["/cgi-bin/externalcontact/get_follow_user_list"] = [(40014, "invalid access_token")] * 2
    with WeComClient(configured) as client, pytest.raises(PlatformError) as raised:
        client.follow_users()
    assert raised.value.errcode == 40014 and stand_in.tokens == 2


def test_contacts_follow_the_cursor_over_pages_and_batches_of_members(stand_in: StandIn,
                                                                      configured: Settings) -> None:
    members = [f"m{i}" for i in range(150)]
    stand_in.contacts = {"m0": [contact(f"wm{i}", "m0") for i in range(5)], "m149": [contact("wmLast", "m149")]}
    with WeComClient(configured) as client:
        found = [c["external_contact"]["external_userid"] for c in client.contacts(members)]
    assert found == ["wm0", "wm1", "wm2", "wm3", "wm4", "wmLast"]
    calls = stand_in.calls(CONTACTS)
    assert [(len(c.body["userid_list"]), c.body["cursor"]) for c in calls] == [
        (100, ""), (100, "2"), (100, "4"), (50, "")]  # three pages of the first 100 members, one of the rest
    assert {c.body["limit"] for c in calls} == {100}


def test_call_records_are_paged_by_offset_until_a_short_page(stand_in: StandIn, configured: Settings) -> None:
    stand_in.dial_records = [dial(DAY, n) for n in range(250)]
    with WeComClient(configured) as client:
        pages = list(client.dial_records(DAY, DAY + timedelta(days=1, seconds=-1)))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [(c.body["offset"], c.body["limit"]) for c in stand_in.calls(DIALS)] == [(0, 100), (100, 100), (200, 100)]
    first = stand_in.calls(DIALS)[0].body
    assert (first["start_time"], first["end_time"]) == (int(DAY.timestamp()), int(DAY.timestamp()) + 86_399)


def test_a_rate_limit_is_waited_out_with_growing_pauses(stand_in: StandIn, configured: Settings) -> None:
    stand_in.errors[DIALS] = [(45009, "api freq out of limit")] * 3
    stand_in.dial_records = [dial(DAY)]
    naps = Naps()
    with WeComClient(configured, sleep=naps) as client:
        assert [len(p) for p in client.dial_records(DAY, DAY + timedelta(hours=1))] == [1]
        assert client.waits == 3
    assert naps == [1.0, 2.0, 4.0]


def test_a_rate_limit_that_does_not_lift_is_an_error_after_the_retries(stand_in: StandIn,
                                                                       configured: Settings) -> None:
    stand_in.errors[DIALS] = [(45009, "api freq out of limit")] * (platform.RETRIES + 1)
    naps = Naps()
    with WeComClient(configured, sleep=naps) as client, pytest.raises(PlatformError) as raised:
        list(client.dial_records(DAY, DAY + timedelta(hours=1)))
    assert len(naps) == platform.RETRIES
    assert raised.value.errcode == 45009 and str(raised.value) == "WeCom: errcode 45009: api freq out of limit"


def test_a_platform_error_carries_its_errcode_and_errmsg(stand_in: StandIn, configured: Settings) -> None:
    stand_in.errors[DIALS] = [(60020, "not allow to access from your ip")]
    with WeComClient(configured) as client, pytest.raises(PlatformError) as raised:
        list(client.dial_records(DAY, DAY + timedelta(hours=1)))
    assert (raised.value.errcode, raised.value.errmsg) == (60020, "not allow to access from your ip")


def test_a_wrong_secret_is_the_token_endpoints_error(stand_in: StandIn, configured: Settings) -> None:
    from pydantic import SecretStr

    with (WeComClient(configured.model_copy(update={"wecom_corp_secret": SecretStr("wrong")})) as client,
          pytest.raises(PlatformError, match="errcode 40001: gettoken: invalid credential")):
        client.follow_users()


def test_a_host_the_outbound_check_refuses_is_never_reached(stand_in: StandIn, configured: Settings) -> None:
    with (WeComClient(configured.model_copy(update={"outbound_allowed_hosts": []})) as client,
          pytest.raises(PlatformError, match="loopback")):
        client.follow_users()
    assert stand_in.requests == []


@pytest.mark.parametrize(("make", "missing"), [(WeComClient, "wecom_corp_secret"), (WeComClient, "wecom_corp_id"),
                                               (DingTalkClient, "dingtalk_app_secret"),
                                               (DingTalkClient, "dingtalk_app_key")])
def test_a_missing_setting_is_named(configured: Settings, make: Any, missing: str) -> None:
    with pytest.raises(NotConfigured) as raised:
        make(configured.model_copy(update={missing: None}))
    assert raised.value.field == missing and raised.value.params["setting"] == missing


def test_dingtalk_follow_records_follow_the_cursor_and_wait_out_its_rate_limit(stand_in: StandIn,
                                                                               configured: Settings) -> None:
    stand_in.follow_records = [{"instance_id": f"INST-{i}"} for i in range(5)]
    stand_in.errors[FOLLOWS] = [(90018, "当前企业调用该接口超过限流阈值")]
    naps = Naps()
    with DingTalkClient(configured, sleep=naps) as client:
        pages = [[r["instance_id"] for r in page] for page in client.follow_records()]
    assert pages == [["INST-0", "INST-1"], ["INST-2", "INST-3"], ["INST-4"]]
    assert [c.body["cursor"] for c in stand_in.calls(FOLLOWS)] == ["0", "0", "2", "4"] and naps == [1.0]
    assert stand_in.requests[0].query == {"appkey": "dingapp123", "appsecret": "app-s3cret"}
