"""The telephony webhook over HTTP on SQLite and PostgreSQL: calls signed here as docs/capture.md tells a call centre
to sign them (HMAC-SHA256 over ``timestamp.body``), and the shell recipe of the docs checked against them."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from evenhand.capture import telephony
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit import groupcommit
from evenhand.models import Activity, ActivityType, Direction, SourceSystem, UnmatchedActivity, User
from tests.builders import Org, make_lead
from tests.capture.support import health, stored_counts
from tests.support import audit_entries, error_of

URL = "/api/v1/capture/telephony"
SECRET = "call-centre-secret"
CUSTOMER = "+86 139 0000 1111"


@pytest.fixture
def lead_id(app: FastAPI, settings: Settings, engine: Engine, org: Org) -> int:
    app.state.settings = settings.model_copy(update={"telephony_hmac_secret": SecretStr(SECRET)})
    with session_scope(engine) as session:
        session.get_one(User, org.id("rep_n2")).phone = "8012"  # an extension
        session.get_one(User, org.id("rep_s1")).email = "s1@example.cn"
        return make_lead(session, owner=org.users["rep_n1"], phone=CUSTOMER, phone_key="13900001111").id


def call(**fields: Any) -> dict[str, Any]:
    return {"call_id": "CDR-1", "rep_external_id": "rep_n1", "customer_phone": "13900001111",
            "started_at": "2026-03-02T09:30:00+08:00", "duration_seconds": 205, "direction": "outbound",
            "recording_ref": "rec/2026/03/CDR-1.mp3", **fields}


def post(client: TestClient, payload: Any, *, secret: str = SECRET, at: float | None = None,
         headers: dict[str, str] | None = None) -> Any:
    """Signed as the docs say, written here without the module under test."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    sent = {"X-Evenhand-Timestamp": stamp, "X-Evenhand-Signature": f"sha256={digest}",
            "Content-Type": "application/json", "Accept-Language": "en", **(headers or {})}
    return client.post(URL, content=body, headers=sent)


def calls(engine: Engine) -> dict[str, Activity]:
    """The calls captured by the webhook (not the builder's)."""
    with session_scope(engine, readonly=True) as session:
        found = session.scalars(select(Activity).where(Activity.source_system == SourceSystem.TELEPHONY,
                                                       Activity.recording_ref.is_not(None)))
        return {a.external_id: a for a in found}


def test_a_signed_call_becomes_a_call_linked_by_the_customers_phone(client: TestClient, engine: Engine, org: Org,
                                                                    lead_id: int) -> None:
    answer = post(client, call())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 1, "taken": 1, "replayed": 0, "stale": False}
    [act] = calls(engine).values()
    assert (act.type, act.direction, act.rep_id, act.lead_id, act.duration_seconds, act.answered,
            act.recording_ref) == (ActivityType.CALL, Direction.OUTBOUND, org.id("rep_n1"), lead_id, 205, True,
                                   "rec/2026/03/CDR-1.mp3")
    assert act.occurred_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    [entry] = [e for e in audit_entries(engine) if e.action == "capture.telephony"]
    assert entry.payload == {"created": 1, "waiting": 0, "external_ids": ["CDR-1"]}
    assert health(engine, "telephony").events == 1


def test_a_batch_names_reps_by_external_id_email_and_extension(client: TestClient, engine: Engine, org: Org,
                                                               lead_id: int) -> None:
    batch = {"calls": [call(call_id="B-1", duration_seconds=0, direction="inbound"),
                       call(call_id="B-2", rep_external_id=None, rep_email="S1@example.cn"),
                       call(call_id="B-3", rep_external_id=None, rep_extension="8012", answered=False),
                       call(call_id="B-4", rep_external_id="nobody")]}
    answer = post(client, batch)
    assert answer.json() == {"received": 4, "taken": 4, "replayed": 0, "stale": False}, answer.text
    stored = calls(engine)
    assert {k: (a.rep_id, a.lead_id, a.answered) for k, a in stored.items()} == {
        "B-1": (org.id("rep_n1"), lead_id, False), "B-2": (org.id("rep_s1"), lead_id, True),
        "B-3": (org.id("rep_n2"), lead_id, False)}
    assert stored["B-1"].direction == Direction.INBOUND
    with session_scope(engine, readonly=True) as session:
        [waiting] = session.scalars(select(UnmatchedActivity))
    assert (waiting.external_id, waiting.reason) == ("B-4", "no_rep")
    assert health(engine, "telephony").events == 4


def test_a_replayed_call_is_acknowledged_and_stores_nothing(client: TestClient, engine: Engine, org: Org,
                                                            lead_id: int) -> None:
    post(client, call())
    before = stored_counts(engine)
    again = post(client, {"calls": [call(duration_seconds=1)]})  # the same call id, signed afresh
    assert again.json() == {"received": 1, "taken": 0, "replayed": 1, "stale": False}
    assert stored_counts(engine) == before
    mixed = post(client, {"calls": [call(), call(call_id="CDR-2")]})
    assert mixed.json()["taken"] == 1 and set(calls(engine)) == {"CDR-1", "CDR-2"}
    assert health(engine, "telephony").events == 2


# A timestamp ahead of the window by half a minute: one only a second ahead was inside it by the time a slow run
# checked it.
@pytest.mark.parametrize("shift", [-301, 330, -86_400])
def test_a_stale_timestamp_is_acknowledged_and_stores_nothing(client: TestClient, engine: Engine, org: Org,
                                                              lead_id: int, shift: int) -> None:
    before = stored_counts(engine)
    answer = post(client, call(), at=time.time() + shift)
    assert answer.status_code == 200 and answer.json()["stale"] is True
    assert stored_counts(engine) == before


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"secret": "not-the-secret"}, "X-Evenhand-Signature"),
    ({"headers": {"X-Evenhand-Signature": ""}}, "X-Evenhand-Signature"),
    ({"headers": {"X-Evenhand-Timestamp": ""}}, "X-Evenhand-Timestamp"),
    ({"headers": {"X-Evenhand-Timestamp": str(int(time.time()) + 1)}}, "X-Evenhand-Signature"),  # not what was signed
])
def test_a_bad_or_missing_signature_is_refused_counted_and_stores_nothing(
        client: TestClient, engine: Engine, org: Org, lead_id: int, kwargs: dict[str, Any], field: str) -> None:
    before = stored_counts(engine)
    answer = post(client, call(), **kwargs)
    assert answer.status_code == 401, answer.text
    assert error_of(answer)["field"] == field
    assert stored_counts(engine) == before
    counted = health(engine, "telephony")
    assert (counted.events, counted.errors) == (0, 1) and (counted.last_error or "").startswith("401")


def test_an_oversize_body_is_refused_before_it_is_read_whole(client: TestClient, engine: Engine, org: Org,
                                                             lead_id: int) -> None:
    before = stored_counts(engine)
    filler = call(recording_ref="x" * 200)
    big = {"calls": [dict(filler, call_id=f"BIG-{i}") for i in range(5000)]}
    answer = post(client, big)
    assert answer.status_code == 413 and error_of(answer)["field"] == "body"
    assert stored_counts(engine) == before
    assert health(engine, "telephony").errors == 1


def test_a_batch_with_a_bad_call_stores_nothing_and_names_it(client: TestClient, engine: Engine, org: Org,
                                                             lead_id: int) -> None:
    before = stored_counts(engine)
    bad = {"calls": [call(call_id="OK-1"), call(call_id="BAD", started_at="yesterday"),
                     call(call_id="NOREP", rep_external_id=None)]}
    answer = post(client, bad)
    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert error["field"] == "calls.1.started_at"
    assert [d["field"] for d in error["details"]] == ["calls.1.started_at", "calls.2"]
    assert stored_counts(engine) == before
    payloads: list[Any] = [b"not json", b"[]", {"calls": []}, {"calls": [1]}]
    for payload in payloads:
        assert post(client, payload).status_code == 422


def test_a_test_call_is_counted_and_stores_no_activity(client: TestClient, engine: Engine, org: Org,
                                                       lead_id: int) -> None:
    answer = post(client, call(call_id="evenhand-test-7"))
    assert answer.json()["taken"] == 1
    assert calls(engine) == {} and not [e for e in audit_entries(engine) if e.action == "capture.telephony"]
    assert health(engine, "telephony").events == 1


def test_without_a_secret_every_request_is_refused_naming_the_setting(client: TestClient, app: FastAPI,
                                                                      engine: Engine, org: Org,
                                                                      settings: Settings) -> None:
    app.state.settings = settings
    answer = post(client, call())
    assert answer.status_code == 503
    assert error_of(answer)["field"] == "telephony_hmac_secret"
    assert calls(engine) == {}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_docs_shell_recipe_signs_as_the_server_checks() -> None:
    body = json.dumps({"calls": [call()]}, ensure_ascii=False)
    script = ('printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed \'s/^.* //\'')
    out = subprocess.run(["bash", "-c", script], env={"TS": "1772415000", "BODY": body, "SECRET": SECRET,
                                                      "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert f"sha256={out}" == telephony.signature(SECRET, "1772415000", body.encode())


def test_requests_sharing_a_transaction_take_each_call_once(engine: Engine, org: Org, lead_id: int) -> None:
    """Group commit: requests at the same moment are written together, each answered for its own calls; a call
    two of them carry is taken by the first."""
    first, second = [telephony.Call.model_validate(call(call_id=c)) for c in ("G-1", "G-2")], [
        telephony.Call.model_validate(call(call_id=c)) for c in ("G-2", "G-3", "G-3")]
    with session_scope(engine) as session:
        answers = telephony.take(session, [first, second])
    assert [(a.received, a.taken, a.replayed) for a in answers] == [(2, 2, 0), (3, 1, 2)]
    assert set(calls(engine)) == {"G-1", "G-2", "G-3"}
    assert health(engine, "telephony").events == 3


def test_concurrent_requests_are_all_answered_after_their_commit(engine: Engine, org: Org, lead_id: int) -> None:
    arrivals = telephony.Arrivals(engine)
    batches = [[telephony.Call.model_validate(call(call_id=f"T-{i}"))] for i in range(24)]
    batches.append([telephony.Call.model_validate(call(call_id="T-0"))])  # the same call again
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(arrivals.take, batches))
    assert sum(a.taken for a in answers) == 24 and sum(a.replayed for a in answers) == 1
    assert len(calls(engine)) == 24
    assert health(engine, "telephony").events == 24


def test_a_request_that_fails_in_a_group_fails_alone(engine: Engine, org: Org, lead_id: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_take = telephony.take

    def refusing(session: Any, requests: Any) -> Any:
        if any(c.call_id == "POISON" for calls in requests for c in calls):
            raise RuntimeError("this call cannot be stored")
        return real_take(session, requests)

    monkeypatch.setattr(telephony, "take", refusing)
    arrivals = telephony.Arrivals(engine)
    group = [groupcommit._Waiting([telephony.Call.model_validate(call(call_id=c))]) for c in ("OK-1", "POISON", "OK-2")]
    arrivals._write(group)  # one group, as when the three arrive at once
    assert [w.result.taken if w.result else None for w in group] == [1, None, 1]
    assert isinstance(group[1].error, RuntimeError)
    assert set(calls(engine)) == {"OK-1", "OK-2"}
