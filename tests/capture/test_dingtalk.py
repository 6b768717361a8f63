"""The DingTalk callback over real HTTP: payloads encrypted and signed here as DingTalk does, on SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Activity, ActivityType, Direction, SourceSystem, UnmatchedActivity
from tests.builders import Org, make_lead
from tests.capture.support import health, stored_counts
from tests.support import audit_entries, error_of

TOKEN = "callback-token"
AES_KEY = "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus"
APP_KEY = "dingappkey123"
URL = "/api/v1/capture/dingtalk"
CUSTOMER = "138 0013 8000"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url, mode="test", dingtalk_token=TOKEN,
                    dingtalk_aes_key=AES_KEY, dingtalk_app_key=APP_KEY)


# --- DingTalk's side, written from its documentation (not with the module under test) ----------------------

def _key() -> bytes:
    return base64.b64decode(AES_KEY + "=")


def seal(message: bytes, owner: str = APP_KEY) -> str:
    body = os.urandom(16) + struct.pack(">I", len(message)) + message + owner.encode()
    pad = 32 - len(body) % 32
    encryptor = Cipher(algorithms.AES(_key()), modes.CBC(_key()[:16])).encryptor()
    return base64.b64encode(encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()).decode()


def unseal(encrypted: str) -> tuple[bytes, bytes]:
    decryptor = Cipher(algorithms.AES(_key()), modes.CBC(_key()[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[:-plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + length], plain[20 + length:]


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def post(client: TestClient, event: dict[str, Any] | bytes, *, token: str = TOKEN, owner: str = APP_KEY,
         at: datetime | None = None, nonce: str = "n0nce", millis: bool = True) -> Any:
    message = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
    encrypted = seal(message, owner)
    moment = (at or utcnow()).timestamp()
    timestamp = str(int(moment * 1000) if millis else int(moment))
    query = {"signature": sign(token, timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
    return client.post(URL, params=query, json={"encrypt": encrypted}, headers={"Accept-Language": "en"})


def assert_success(response: Any) -> None:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert answer["msg_signature"] == sign(TOKEN, answer["timeStamp"], answer["nonce"], answer["encrypt"])
    assert unseal(answer["encrypt"]) == (b"success", APP_KEY.encode())


def call(**fields: Any) -> dict[str, Any]:
    return {"EventType": "call_record", "EventId": "evt-call-1", "callId": "C-1", "userId": "rep_n1",
            "calleeNumber": CUSTOMER, "startTime": int(datetime(2026, 3, 2, 1, 30, tzinfo=UTC).timestamp() * 1000),
            "duration": 205, "direction": "outbound", **fields}


def message(**fields: Any) -> dict[str, Any]:
    return {"EventType": "chat_message", "eventId": "evt-msg-1", "msgId": "M-1", "senderStaffId": "rep_n1",
            "customerPhone": "+86 138-0013-8000", "createAt": "2026-03-02T09:45:00+08:00", "direction": "inbound",
            **fields}


@pytest.fixture
def lead_id(engine: Engine, org: Org) -> int:
    with session_scope(engine) as session:
        return make_lead(session, owner=org.users["rep_n1"], phone=CUSTOMER, phone_key="13800138000").id


def stored(engine: Engine) -> list[Activity]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(Activity).where(Activity.source_system == SourceSystem.DINGTALK)))


def test_check_url_is_answered_with_encrypted_success_and_stores_nothing(client: TestClient, engine: Engine,
                                                                          org: Org) -> None:
    before = stored_counts(engine)
    assert_success(post(client, {"EventType": "check_url"}))
    assert_success(post(client, {"EventType": "check_url"}, millis=False))
    assert stored_counts(engine) == before


def test_a_call_record_becomes_a_call(client: TestClient, engine: Engine, org: Org, lead_id: int) -> None:
    before = len(audit_entries(engine))
    assert_success(post(client, call()))
    [activity] = stored(engine)
    assert (activity.type, activity.direction, activity.external_id, activity.rep_id, activity.lead_id,
            activity.duration_seconds, activity.answered) == (
        ActivityType.CALL, Direction.OUTBOUND, "C-1", org.id("rep_n1"), lead_id, 205, True)
    assert activity.occurred_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    entries = audit_entries(engine)[before:]
    assert [(e.action, e.subject_type, e.subject_id) for e in entries] == [
        ("capture.dingtalk", "dingtalk_event", "evt-call-1")]
    assert entries[0].payload["created"] == 1


def test_a_message_becomes_a_message_with_its_direction(client: TestClient, engine: Engine, org: Org,
                                                        lead_id: int) -> None:
    assert_success(post(client, message()))
    [activity] = stored(engine)
    assert (activity.type, activity.direction, activity.external_id, activity.rep_id, activity.lead_id) == (
        ActivityType.MESSAGE, Direction.INBOUND, "M-1", org.id("rep_n1"), lead_id)
    assert activity.occurred_at == datetime(2026, 3, 2, 1, 45, tzinfo=UTC)


def test_an_unanswered_inbound_call_and_several_records_in_one_event(client: TestClient, engine: Engine,
                                                                     org: Org, lead_id: int) -> None:
    records = [{"user_id": "rep_n1", "caller_number": CUSTOMER, "start_time": "2026-03-02T10:00:00+08:00",
                "duration": 0, "direction": "呼入"},
               {"staffId": "rep_n1", "phone": CUSTOMER, "startTime": 1772420400, "talkTime": 60, "answered": True},
               {"staffId": "rep_n1", "phone": CUSTOMER, "duration": 5}]  # no time: skipped
    assert_success(post(client, {"EventType": "call_record", "EventId": "batch-1", "records": records}))
    calls = {a.external_id: a for a in stored(engine)}
    assert set(calls) == {"batch-1:0", "batch-1:1"}
    assert (calls["batch-1:0"].direction, calls["batch-1:0"].answered) == (Direction.INBOUND, False)
    assert (calls["batch-1:1"].duration_seconds, calls["batch-1:1"].answered) == (60, True)
    [entry] = [e for e in audit_entries(engine) if e.action == "capture.dingtalk"]
    assert (entry.payload["created"], entry.payload["skipped"]) == (2, 1)


def test_an_unknown_rep_waits_in_the_reconciliation_list(client: TestClient, engine: Engine, org: Org) -> None:
    assert_success(post(client, call(userId="nobody-here")))
    assert stored(engine) == []
    with session_scope(engine, readonly=True) as session:
        [waiting] = session.scalars(select(UnmatchedActivity))
    assert (waiting.source_system, waiting.external_id, waiting.reason) == (SourceSystem.DINGTALK, "C-1", "no_rep")


def test_the_same_event_again_is_acknowledged_and_not_stored_again(client: TestClient, engine: Engine, org: Org,
                                                                   lead_id: int) -> None:
    assert_success(post(client, call()))
    before = stored_counts(engine)
    assert_success(post(client, call(callId="C-2", duration=1), nonce="other"))  # same EventId
    assert stored_counts(engine) == before
    without_id = {k: v for k, v in message().items() if k != "eventId"}
    assert_success(post(client, without_id))
    after_first = stored_counts(engine)
    assert_success(post(client, without_id, nonce="again"))  # the same plaintext: the same hash
    assert stored_counts(engine) == after_first


# A time ahead of the window by more than the request can take on a loaded machine: the server's clock reads later.
@pytest.mark.parametrize("shift", [timedelta(seconds=-301), timedelta(hours=-2), timedelta(seconds=360)])
def test_a_timestamp_outside_the_window_is_acknowledged_and_not_stored(client: TestClient, engine: Engine,
                                                                       org: Org, lead_id: int,
                                                                       shift: timedelta) -> None:
    before = stored_counts(engine)
    assert_success(post(client, call(), at=utcnow() + shift))
    assert stored_counts(engine) == before


def test_a_bad_signature_is_refused_and_nothing_stored(client: TestClient, engine: Engine, org: Org,
                                                       lead_id: int) -> None:
    before = stored_counts(engine)
    response = post(client, call(), token="not-the-token")
    assert response.status_code == 401 and error_of(response)["field"] == "signature", response.text
    encrypted = seal(json.dumps(call()).encode())
    response = client.post(URL, json={"encrypt": encrypted})  # no signature at all
    assert response.status_code == 401
    assert stored_counts(engine) == before
    counted = health(engine, "dingtalk")
    assert (counted.events, counted.errors) == (0, 2)
    assert counted.last_error == "401: The DingTalk callback's signature does not match. (signature)"


def test_a_test_event_is_answered_and_counted_and_stores_no_activity(client: TestClient, engine: Engine, org: Org,
                                                                     lead_id: int) -> None:
    before = len(audit_entries(engine))
    assert_success(post(client, call(EventId="evenhand-test-1")))
    assert stored(engine) == [] and len(audit_entries(engine)) == before
    assert_success(post(client, call()))
    assert [a.external_id for a in stored(engine)] == ["C-1"]
    assert health(engine, "dingtalk").events == 2


def test_another_app_key_is_refused(client: TestClient, engine: Engine, org: Org, lead_id: int) -> None:
    before = stored_counts(engine)
    response = post(client, call(), owner="dingsomeoneelse")
    assert response.status_code == 401 and error_of(response)["field"] == "encrypt", response.text
    assert stored_counts(engine) == before


def test_an_event_that_is_no_json_object_is_refused(client: TestClient, org: Org) -> None:
    response = post(client, b"[1, 2]")
    assert response.status_code == 422 and error_of(response)["field"] == "encrypt"


def test_other_events_are_acknowledged_and_store_nothing(client: TestClient, engine: Engine, org: Org) -> None:
    before = stored_counts(engine)
    assert_success(post(client, {"EventType": "user_add_org", "UserId": ["rep_n1"]}))
    assert stored_counts(engine) == before


@pytest.mark.parametrize("missing", ["dingtalk_token", "dingtalk_aes_key", "dingtalk_app_key"])
def test_missing_secrets_answer_503_naming_the_setting(client: TestClient, engine: Engine, org: Org,
                                                       settings: Settings, missing: str) -> None:
    client.app.state.settings = settings.model_copy(update={missing: None})  # type: ignore[attr-defined]
    before = stored_counts(engine)
    response = post(client, call())
    assert response.status_code == 503, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("not_configured", missing)
    assert missing in error["message"]
    chinese = client.post(URL, json={"encrypt": "x"}, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 503 and missing in error_of(chinese)["message"]
    assert error_of(chinese)["message"] != error["message"]
    assert stored_counts(engine) == before
