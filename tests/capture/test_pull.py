"""Backfill pulls from WeCom and DingTalk against a local stand-in for both platforms, on SQLite and PostgreSQL: the
mapping of each record kind, linking by WeCom's external user id (from the contacts read first) or by number, a rerun
that stores nothing twice, a pull that stops on a platform error keeping what it stored, the connector's status and
the last pull, and the commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from evenhand.capture import pull
from evenhand.capture.dingtalk_client import DingTalkClient
from evenhand.capture.platform import PlatformError
from evenhand.capture.wecom_client import WeComClient
from evenhand.config import Settings, forget_settings
from evenhand.db import session_scope
from evenhand.models import Activity, ActivityType, AuditEntry, Direction, Lead, SourceSystem, UnmatchedActivity
from tests.builders import make_lead, make_user
from tests.capture.platform_stand_in import APP_KEY, APP_SECRET, CORP_ID, CORP_SECRET, StandIn
from tests.capture.support import health
from tests.capture.test_pull_clients import contact

BEIJING = pull.BEIJING
SINCE = datetime(2026, 3, 2, tzinfo=BEIJING)
UNTIL = SINCE + timedelta(days=2)


def at(day: int, hour: int) -> int:
    return int(datetime(2026, 3, day, hour, tzinfo=BEIJING).timestamp())


def dial(when: int, caller: str, *callees: dict[str, Any]) -> dict[str, Any]:
    return {"call_time": when, "total_duration": 3, "call_type": 1 if len(callees) == 1 else 2,
            "caller": {"userid": caller, "duration": 3}, "callee": list(callees)}


CALLS = [
    dial(at(2, 9), "zhangsan", {"phone": "13800138000", "duration": 3}),  # a contact's number: linked by contact
    dial(at(2, 10), "zhangsan", {"phone": "139 0000 1111", "duration": 1}),  # a lead's own number
    dial(at(3, 11), "zhangsan", {"userid": "lisi", "duration": 2}, {"phone": "13700000000", "duration": 2}),
    dial(at(3, 12), "zhangsan", {"userid": "lisi", "duration": 5}),  # colleagues only: no customer
    dial(at(3, 13), "nobody", {"phone": "13900001111", "duration": 1}),  # a caller nobody knows
    dial(at(4, 9), "zhangsan", {"phone": "13900001111", "duration": 1}),  # after the window
]


def record(instance: str, day: int, *, way: str = "当面拜访", text: str = "拜访客户，演示产品",
           customer: str | None = "CUST-1", creator: str = "wangwu") -> dict[str, Any]:
    """A DingTalk CRM follow record as followrecord/query answers it (``data`` a JSON string)."""
    data: dict[str, Any] = {"DDSelectField-K2U5UJAC": {"extendValue": json.dumps({"label": way}), "value": way},
                            "TextareaField-K2U5UJAF": text}
    if customer:
        data["follow_record_related_customer"] = {
            "extendValue": json.dumps({"quote": 1, "list": [{"instanceId": customer}]}), "value": '["72"]'}
    return {"instance_id": instance, "creator_userid": creator, "gmt_create": f"2026-03-0{day} 10:21:07",
            "gmt_modified": f"2026-03-0{day} 10:21:07", "object_type": "crm_follow_record",
            "data": json.dumps(data, ensure_ascii=False), "extend_data": "{}",
            "permission": {"owner_userid_list": [creator], "participant_userid_list": []}}


FOLLOWS = [record("INST-1", 2), record("INST-2", 3, way="电话", text="电话沟通报价", customer=None),
           record("INST-3", 1), record("INST-4", 3, creator="stranger")]


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from StandIn().serve()


@pytest.fixture
def company(engine: Engine, settings: Settings, stand_in: StandIn) -> Settings:
    """Zhang San (WeCom) and Wang Wu (DingTalk); a lead known to WeCom by its external user id, one by its phone,
    one from DingTalk's CRM; Zhang San's contacts on WeCom."""
    with session_scope(engine) as session:
        make_user(session, username="zhangsan")
        make_user(session, username="wangwu", external_id="wangwu")
        make_lead(session, source="wecom", external_id="wmEXT001", phone="+86 188 0000 0000", phone_key="18800000000")
        make_lead(session, external_id="L-PHONE", phone="13900001111", phone_key="13900001111")
        make_lead(session, source="dingtalk", external_id="CUST-1")
    stand_in.follow_users = ["zhangsan"]
    stand_in.contacts = {"zhangsan": [contact("wmEXT001", "zhangsan", "138-0013-8000"), contact("wmOTHER", "zhangsan"),
                                      contact("wmTHIRD", "zhangsan", "13700000000")]}
    stand_in.dial_records, stand_in.follow_records = list(CALLS), list(FOLLOWS)
    return stand_in.settings(settings)


def activities(engine: Engine, source: SourceSystem) -> dict[str, Activity]:
    with session_scope(engine, readonly=True) as session:
        return {a.external_id: a for a in session.scalars(select(Activity).where(Activity.source_system == source))}


def waiting(engine: Engine) -> dict[str, str]:
    with session_scope(engine, readonly=True) as session:
        return {u.external_id: u.reason for u in session.scalars(select(UnmatchedActivity))}


def lead_id(engine: Engine, external_id: str) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(Lead.id).where(Lead.external_id == external_id)).one()


def test_wecom_calls_are_captured_linked_by_contact_or_number(engine: Engine, company: Settings) -> None:
    with WeComClient(company) as client:
        counts = pull.pull_wecom(engine, client, since=SINCE, until=UNTIL)
    assert counts.as_dict() == {"fetched": 5, "stored": 2, "already_had": 0, "unmatched": 2, "skipped": 1,
                                "waits": 0}
    got = activities(engine, SourceSystem.WECOM)
    first = got[f"dial:{at(2, 9)}:zhangsan:13800138000"]
    assert (first.lead_id, first.type, first.direction, first.answered, first.duration_seconds) == (
        lead_id(engine, "wmEXT001"), ActivityType.CALL, Direction.OUTBOUND, True, 180)
    assert first.occurred_at == datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert got[f"dial:{at(2, 10)}:zhangsan:139 0000 1111"].lead_id == lead_id(engine, "L-PHONE")
    assert waiting(engine) == {f"dial:{at(3, 11)}:zhangsan:13700000000": "no_link",  # wmTHIRD is no lead here
                               f"dial:{at(3, 13)}:nobody:13900001111": "no_rep"}


def test_a_rerun_stores_nothing_twice(engine: Engine, company: Settings) -> None:
    with WeComClient(company) as client:
        pull.pull_wecom(engine, client, since=SINCE, until=UNTIL)
        before = (activities(engine, SourceSystem.WECOM), waiting(engine))
        again = pull.pull_wecom(engine, client, since=SINCE - timedelta(days=1), until=UNTIL + timedelta(days=1))
    assert (again.fetched, again.stored, again.already_had, again.unmatched) == (6, 1, 2, 2)  # the day after: new
    assert set(activities(engine, SourceSystem.WECOM)) - set(before[0]) == {f"dial:{at(4, 9)}:zhangsan:13900001111"}
    assert waiting(engine) == before[1]


def test_the_window_is_asked_a_day_at_a_time(engine: Engine, company: Settings, stand_in: StandIn) -> None:
    days: list[tuple[int, int | None]] = []
    with WeComClient(company) as client:
        pull.pull_wecom(engine, client, since=SINCE, until=UNTIL, progress=lambda d, n: days.append((d, n)))
    asked = [(c.body["start_time"], c.body["end_time"]) for c in stand_in.calls("/cgi-bin/dial/get_dial_record")]
    assert asked == [(at(2, 0), at(3, 0) - 1), (at(3, 0), at(4, 0) - 1)] and days == [(1, 2), (2, 2)]


def test_a_platform_error_stops_the_pull_keeping_what_it_stored(engine: Engine, company: Settings,
                                                                stand_in: StandIn) -> None:
    with WeComClient(company) as client:
        client.dial_records = _failing_on_second_day(client.dial_records)  # type: ignore[method-assign]
        with pytest.raises(PlatformError, match="errcode 60020"):
            pull.pull_wecom(engine, client, since=SINCE, until=UNTIL)
    assert len(activities(engine, SourceSystem.WECOM)) == 2  # the first day's
    status = health(engine, "wecom")
    assert status.errors == 1 and status.last_error == "pull: WeCom: errcode 60020: not allow to access from your ip"
    with session_scope(engine, readonly=True) as session:
        last = pull.last_pulls(session, ["wecom", "dingtalk"])
    assert list(last) == ["wecom"] and last["wecom"].counts["stored"] == 2 and "60020" in (last["wecom"].error or "")


def _failing_on_second_day(pages: Any) -> Any:
    def failing(start: datetime, end: datetime) -> Any:
        if start > SINCE:
            raise PlatformError("WeCom", "not allow to access from your ip", errcode=60020)
        return pages(start, end)
    return failing


def test_dingtalk_follow_records_become_notes_declaring_what_they_record(engine: Engine, company: Settings) -> None:
    with DingTalkClient(company) as client:
        counts = pull.pull_dingtalk(engine, client, since=SINCE, until=UNTIL)
    assert counts.as_dict() == {"fetched": 3, "stored": 1, "already_had": 0, "unmatched": 2, "skipped": 0,
                                "waits": 0}
    note = activities(engine, SourceSystem.DINGTALK)["followrecord:INST-1"]
    assert (note.type, note.declared_type, note.body, note.subject, note.lead_id) == (
        ActivityType.NOTE, ActivityType.VISIT, "拜访客户，演示产品", "当面拜访", lead_id(engine, "CUST-1"))
    assert note.occurred_at == datetime(2026, 3, 2, 2, 21, 7, tzinfo=UTC)
    assert waiting(engine) == {"followrecord:INST-2": "no_link", "followrecord:INST-4": "no_rep"}
    with DingTalkClient(company) as client:
        again = pull.pull_dingtalk(engine, client, since=SINCE, until=UNTIL)
    assert (again.stored, again.already_had, again.unmatched) == (0, 1, 2)
    assert health(engine, "dingtalk").events == 1


def test_the_mapping_of_ways_of_following_up() -> None:
    assert [pull.declared([w]) for w in ("当面拜访", "电话", "视频会议", "微信沟通", "其他")] == [
        ActivityType.VISIT, ActivityType.CALL, ActivityType.MEETING, ActivityType.MESSAGE, None]
    assert pull.follow_row({"instance_id": "X", "gmt_create": "not a time"}) is None
    assert pull.dial_rows({"call_time": "x", "caller": {"userid": "a"}}, {}) == []


# --- the commands -----------------------------------------------------------------------------------------------

def _environment(monkeypatch: pytest.MonkeyPatch, stand_in: StandIn) -> None:
    for name, value in {"WECOM_CORP_ID": CORP_ID, "WECOM_CORP_SECRET": CORP_SECRET, "WECOM_API_BASE": stand_in.base,
                        "DINGTALK_APP_KEY": APP_KEY, "DINGTALK_APP_SECRET": APP_SECRET,
                        "DINGTALK_API_BASE": stand_in.base, "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1"}.items():
        monkeypatch.setenv(f"EVENHAND_{name}", value)
    forget_settings()


def test_the_commands_pull_a_window_and_report_the_counts(run: Any, engine: Engine, company: Settings,
                                                          stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    _environment(monkeypatch, stand_in)
    done = run("capture", "wecom", "pull", "--since", "2026-03-02", "--until", "2026-03-03", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "connector": "wecom", "since": "2026-03-02T00:00:00+08:00", "until": "2026-03-04T00:00:00+08:00",
        "fetched": 5, "stored": 2, "already_had": 0, "unmatched": 2, "skipped": 1, "waits": 0}
    said = run("capture", "dingtalk", "pull", "--since", "2026-03-02", "--until", "2026-03-03")
    assert said.exit_code == 0, said.output
    assert "Pulled 2026-03-02 to 2026-03-03: 3 fetched, 1 stored, 0 already had, 2 unmatched" in said.output
    with session_scope(engine, readonly=True) as session:
        actions = list(session.scalars(select(AuditEntry.subject_id).where(AuditEntry.action == "capture.pull")))
    assert actions == ["wecom", "dingtalk"]


def test_a_command_without_the_secret_names_the_setting(run: Any, stand_in: StandIn,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _environment(monkeypatch, stand_in)
    monkeypatch.delenv("EVENHAND_DINGTALK_APP_SECRET")
    forget_settings()
    done = run("capture", "dingtalk", "pull", "--since", "2026-03-02")
    assert done.exit_code == 1 and "dingtalk_app_secret" in done.output
    assert stand_in.requests == []


def test_a_command_prints_the_platforms_refusal(run: Any, stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    _environment(monkeypatch, stand_in)
    stand_in.errors["/cgi-bin/externalcontact/get_follow_user_list"] = [(48002, "api forbidden")]
    done = run("capture", "wecom", "pull", "--since", "2026-03-02", "--until", "2026-03-02")
    assert done.exit_code == 1 and "errcode 48002: api forbidden" in done.output


# --- the worker's jobs ------------------------------------------------------------------------------------------

def test_the_jobs_pull_the_last_days_once_configured(engine: Engine, company: Settings, stand_in: StandIn) -> None:
    from evenhand.capture import tasks
    from evenhand.config import bound

    now = datetime(2026, 3, 3, 12, tzinfo=BEIJING)
    with bound(company.model_copy(update={"wecom_corp_secret": None, "dingtalk_app_secret": None})), \
            session_scope(engine) as session:
        tasks.wecom_pull(session, now)
        tasks.dingtalk_pull(session, now)
    assert stand_in.requests == []  # not configured: the platforms are not even asked for a token
    stand_in.errors["/topapi/crm/objectdata/followrecord/query"] = [(60011, "no permission")]
    with bound(company), session_scope(engine) as session:
        tasks.wecom_pull(session, now)  # the calls of 2 March 12:00 to 3 March 12:00
        tasks.dingtalk_pull(session, now)  # refused: kept with the pull, not raised
    asked = [(c.body["start_time"], c.body["end_time"]) for c in stand_in.calls("/cgi-bin/dial/get_dial_record")]
    assert asked == [(at(2, 12), at(3, 12) - 1)]
    assert waiting(engine) == {f"dial:{at(3, 11)}:zhangsan:13700000000": "no_link"}
    assert "errcode 60011" in (health(engine, "dingtalk").last_error or "")


@pytest.mark.parametrize("days", [("--since", "2026-03-03", "--until", "2026-03-02"), ("--since", "2999-01-01")])
def test_an_empty_window_is_refused_before_asking_the_platform(run: Any, stand_in: StandIn,
                                                               monkeypatch: pytest.MonkeyPatch, days: Any) -> None:
    _environment(monkeypatch, stand_in)
    done = run("capture", "wecom", "pull", *days)
    assert done.exit_code == 1 and "The window is empty" in done.output and stand_in.requests == []
