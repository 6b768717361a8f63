"""WeCom callbacks through the HTTP API: URL verification, encrypted pushes signed and encrypted here as WeCom
does, captured as activities once, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from evenhand.capture import wecom_crypto as wc
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.models import Activity, ActivityType, Direction, SourceSystem, UnmatchedActivity
from tests.builders import make_lead, make_user
from tests.capture.support import health, stored_counts
from tests.capture.test_wecom_crypto import (
    CORP_ID,
    ECHO,
    ECHO_NONCE,
    ECHO_SIGNATURE,
    ECHO_TIMESTAMP,
    ENCODING_AES_KEY,
    KEY,
    POST,
    POST_NONCE,
    POST_SIGNATURE,
    POST_TIMESTAMP,
    TOKEN,
)
from tests.support import audit_entries, error_of

URL = "/api/v1/capture/wecom"
CONFIGURED = {"wecom_token": SecretStr(TOKEN), "wecom_encoding_aes_key": SecretStr(ENCODING_AES_KEY),
              "wecom_corp_id": CORP_ID}


@pytest.fixture
def wecom(app: FastAPI, settings: Settings, engine: Engine) -> Settings:
    app.state.settings = configured = settings.model_copy(update=CONFIGURED)
    with session_scope(engine) as session:
        make_user(session, username="zhang.san", external_id="ZhangSan")
        make_lead(session, external_id="wmEXT001")
        make_lead(session, external_id="L-PHONE", phone="+86 138 0013 8000", phone_key="13800138000")
    return configured


def event(**fields: Any) -> bytes:
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" if isinstance(v, str) else f"<{k}>{v}</{k}>"
                    for k, v in fields.items())
    return f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>{inner}</xml>".encode()


def contact_added(**extra: Any) -> bytes:
    return event(CreateTime=1772415000, MsgType="event", Event="change_external_contact",
                 ChangeType="add_external_contact", UserID="ZhangSan", ExternalUserID="wmEXT001", **extra)


def push(client: TestClient, message: bytes, *, timestamp: str | None = None, token: str = TOKEN,
         receive_id: str = CORP_ID, nonce: str = "1372623149", body: str | None = None) -> Any:
    timestamp = timestamp or str(int(time.time()))
    ciphertext = wc.encrypt(KEY, message, receive_id)
    signature = wc.signature(token, timestamp, nonce, ciphertext)
    xml = body if body is not None else (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA["
                                         f"{ciphertext}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")
    return client.post(URL, params={"msg_signature": signature, "timestamp": timestamp, "nonce": nonce},
                       content=xml.encode(), headers={"Content-Type": "text/xml", "Accept-Language": "en"})


def activities(engine: Engine) -> list[Activity]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(Activity).where(Activity.source_system == SourceSystem.WECOM)))


def test_url_verification_answers_the_samples_echostr(client: TestClient, wecom: Settings) -> None:
    answer = client.get(URL, params={"msg_signature": ECHO_SIGNATURE, "timestamp": ECHO_TIMESTAMP,
                                     "nonce": ECHO_NONCE, "echostr": ECHO})
    assert answer.status_code == 200, answer.text
    assert answer.text == "1616140317555161061"
    assert answer.headers["content-type"].startswith("text/plain")


def test_url_verification_with_a_wrong_signature_is_refused(client: TestClient, wecom: Settings) -> None:
    answer = client.get(URL, params={"msg_signature": "0" * 40, "timestamp": ECHO_TIMESTAMP, "nonce": ECHO_NONCE,
                                     "echostr": ECHO}, headers={"Accept-Language": "en"})
    assert answer.status_code == 401
    assert error_of(answer)["field"] == "msg_signature"


def test_another_corp_id_is_refused(client: TestClient, app: FastAPI, wecom: Settings, engine: Engine) -> None:
    app.state.settings = wecom.model_copy(update={"wecom_corp_id": "ww-other"})
    before = stored_counts(engine)
    answer = push(client, contact_added(MsgId="1"))
    assert answer.status_code == 401
    assert error_of(answer)["field"] == "wecom_corp_id"
    assert stored_counts(engine) == before


@pytest.mark.parametrize("missing", ["wecom_token", "wecom_encoding_aes_key", "wecom_corp_id"])
def test_missing_settings_answer_503_naming_the_setting(client: TestClient, app: FastAPI, wecom: Settings,
                                                        missing: str) -> None:
    app.state.settings = wecom.model_copy(update={missing: None})
    answer = client.get(URL, params={"msg_signature": ECHO_SIGNATURE, "timestamp": ECHO_TIMESTAMP,
                                     "nonce": ECHO_NONCE, "echostr": ECHO}, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 503
    error = error_of(answer)
    assert error["field"] == missing and missing in error["message"]
    assert "企业微信" in error["message"]


def test_a_contact_event_becomes_one_message_and_a_replay_stores_nothing(client: TestClient, wecom: Settings,
                                                                         engine: Engine) -> None:
    message = contact_added()
    answer = push(client, message)
    assert answer.status_code == 200 and answer.text == "success", answer.text
    [act] = activities(engine)
    assert (act.type, act.direction, act.lead_id is not None) == (ActivityType.MESSAGE, Direction.INBOUND, True)
    assert act.occurred_at.timestamp() == 1772415000
    assert act.external_id.startswith("sha256:")  # no MsgId: the hash of the decrypted event
    entries = [e for e in audit_entries(engine) if e.action == "capture.wecom"]
    assert len(entries) == 1 and entries[0].payload["external_id"] == act.external_id

    before = stored_counts(engine)
    again = push(client, message, nonce="999")  # the same event, pushed again (freshly encrypted and signed)
    assert again.status_code == 200 and again.text == "success"
    assert stored_counts(engine) == before


def test_a_call_record_becomes_a_call_with_duration_keyed_by_its_msg_id(client: TestClient, wecom: Settings,
                                                                        engine: Engine) -> None:
    message = event(CreateTime=1772415000, MsgType="event", Event="call", UserID="ZhangSan",
                    Phone="13800138000", Duration=205, Answered=1, MsgId="CALL-42")
    assert push(client, message).text == "success"
    assert push(client, message).text == "success"
    [act] = activities(engine)
    assert (act.type, act.direction, act.duration_seconds, act.answered) == (
        ActivityType.CALL, Direction.OUTBOUND, 205, True)
    assert act.external_id == "CALL-42" and act.lead_id is not None
    assert len([e for e in audit_entries(engine) if e.action == "capture.wecom"]) == 1


def test_an_unknown_rep_waits_in_the_reconciliation_list(client: TestClient, wecom: Settings,
                                                         engine: Engine) -> None:
    message = event(CreateTime=1772415000, MsgType="event", Event="change_external_contact",
                    ChangeType="add_half_external_contact", UserID="Nobody", ExternalUserID="wmEXT001", MsgId="W-1")
    assert push(client, message).text == "success"
    assert activities(engine) == []
    with session_scope(engine, readonly=True) as session:
        [entry] = session.scalars(select(UnmatchedActivity))
    assert entry.external_id == "W-1" and entry.reason == "no_rep"
    assert [e.payload["waiting"] for e in audit_entries(engine) if e.action == "capture.wecom"] == [1]


@pytest.mark.parametrize("message", [
    event(CreateTime=1772415000, MsgType="text", FromUserName="ZhangSan", Content="hello", MsgId="9"),
    event(CreateTime=1772415000, MsgType="event", Event="change_external_contact", ChangeType="del_external_contact",
          UserID="ZhangSan", ExternalUserID="wmEXT001"),
])
def test_events_that_are_no_activity_are_acknowledged(client: TestClient, wecom: Settings, engine: Engine,
                                                      message: bytes) -> None:
    before = stored_counts(engine)
    assert push(client, message).text == "success"
    assert stored_counts(engine) == before


def test_a_stale_timestamp_is_acknowledged_and_stores_nothing(client: TestClient, wecom: Settings,
                                                              engine: Engine) -> None:
    before = stored_counts(engine)
    old = str(int(time.time()) - wecom.capture_replay_window_seconds - 5)
    assert push(client, contact_added(MsgId="OLD"), timestamp=old).text == "success"
    assert stored_counts(engine) == before


def test_the_samples_push_with_a_32_byte_pad_is_accepted(client: TestClient, wecom: Settings,
                                                         engine: Engine) -> None:
    """WeCom's own sample (pad 30, beyond a 16-byte unpadder) is signed, decrypts and carries the corp id; its
    2014 timestamp is outside the window, so it is acknowledged as a replay."""
    before = stored_counts(engine)
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{POST}]]></Encrypt></xml>"
    answer = client.post(URL, params={"msg_signature": POST_SIGNATURE, "timestamp": POST_TIMESTAMP,
                                      "nonce": POST_NONCE}, content=body.encode())
    assert answer.status_code == 200 and answer.text == "success", answer.text
    assert stored_counts(engine) == before


def test_an_own_push_with_a_pad_above_16_is_captured(client: TestClient, wecom: Settings, engine: Engine) -> None:
    for filler in range(40):
        message = contact_added(MsgId="PAD", Note="x" * filler)
        if 32 - (20 + len(message) + len(CORP_ID)) % 32 > 16:
            break
    else:
        pytest.fail("no filler gives a pad above 16")
    assert push(client, message).text == "success"
    assert [a.external_id for a in activities(engine)] == ["PAD"]


def test_a_bad_signature_is_refused_and_stores_nothing(client: TestClient, wecom: Settings,
                                                       engine: Engine) -> None:
    before = stored_counts(engine)
    answer = push(client, contact_added(MsgId="X"), token="not-the-token")
    assert answer.status_code == 401
    assert error_of(answer)["field"] == "msg_signature"
    assert stored_counts(engine) == before
    counted = health(engine, "wecom")
    assert (counted.events, counted.errors) == (0, 1)
    assert counted.last_error == "401: The WeCom signature does not match. (msg_signature)"


def test_a_test_event_is_acknowledged_and_counted_and_stores_no_activity(client: TestClient, wecom: Settings,
                                                                         engine: Engine) -> None:
    before = stored_counts(engine)
    assert push(client, contact_added(MsgId="evenhand-test-1")).text == "success"
    assert activities(engine) == [] and audit_entries(engine) == []
    assert stored_counts(engine) == {**before, "capture_receipts": before["capture_receipts"] + 1}
    assert push(client, contact_added(MsgId="evenhand-test-1")).text == "success"  # a replay: not counted
    assert health(engine, "wecom").events == 1


@pytest.mark.parametrize("body", [
    '<!DOCTYPE xml [<!ENTITY x "y">]><xml><Encrypt>&x;</Encrypt></xml>',
    "<xml><Encrypt>unclosed",
    "<xml><ToUserName>no encrypt</ToUserName></xml>",
])
def test_unsafe_or_broken_xml_is_refused(client: TestClient, wecom: Settings, engine: Engine, body: str) -> None:
    before = stored_counts(engine)
    answer = push(client, contact_added(), body=body)
    assert answer.status_code == 422
    assert error_of(answer)["field"] in ("body", "Encrypt")
    assert stored_counts(engine) == before


def test_a_decrypted_event_with_a_doctype_is_refused(client: TestClient, wecom: Settings, engine: Engine) -> None:
    answer = push(client, b'<!DOCTYPE xml [<!ENTITY a "b">]>' + contact_added())
    assert answer.status_code == 422
    assert activities(engine) == []
