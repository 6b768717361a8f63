"""The connectors' bookkeeping on SQLite and PostgreSQL: receipts refuse replays (also when two requests race),
events are counted in the request's transaction, refusals in their own."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from evenhand.app import create_app
from evenhand.capture import service
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.deps import DbSession
from evenhand.errors import Unauthorized
from evenhand.kit.clock import utcnow
from evenhand.models import CaptureReceipt
from tests.capture.support import health
from tests.support import row_counts


def test_an_event_is_taken_the_first_time_only(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert service.first_time(session, "wecom", "MSG-1")
        assert not service.first_time(session, "wecom", "MSG-1")
        assert service.first_time(session, "dingtalk", "MSG-1")  # another connector's key space
    with session_scope(engine) as session:
        assert not service.first_time(session, "wecom", "MSG-1")


def test_a_receipt_rolled_back_with_its_request_leaves_the_event_untaken(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        assert service.first_time(session, "telephony", "CALL-1")
        raise RuntimeError("the request failed after its receipt")
    with session_scope(engine) as session:
        assert service.first_time(session, "telephony", "CALL-1")


def test_two_requests_racing_for_one_event_take_it_once(engine: Engine, backend: str) -> None:
    """On PostgreSQL the second insert waits for the first transaction and then inserts nothing."""
    taken: list[bool] = []
    inserted = threading.Event()

    def first() -> None:
        with session_scope(engine) as session:
            taken.append(service.first_time(session, "telephony", "RACE"))
            inserted.set()
            threading.Event().wait(0.3)  # the other request arrives while this one is still open

    def second() -> None:
        inserted.wait(5)
        with session_scope(engine) as session:
            taken.append(service.first_time(session, "telephony", "RACE"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(taken) == [False, True]


def test_events_are_counted_in_the_callers_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        service.took(session, "wecom")
        service.took(session, "wecom", 3)
        service.took(session, "wecom", 0)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        service.took(session, "wecom", 10)
        raise RuntimeError("rolled back")
    counted = health(engine, "wecom")
    assert (counted.events, counted.errors, counted.last_error) == (4, 0, None)
    assert counted.last_event_at is not None and abs(counted.last_event_at - utcnow()) < timedelta(minutes=1)


def test_a_refusal_is_counted_with_its_reason(engine: Engine) -> None:
    service.refused(engine, "dingtalk", "401: bad signature")
    service.refused(engine, "dingtalk", "x" * 900)
    counted = health(engine, "dingtalk")
    assert (counted.events, counted.errors) == (0, 2)
    assert counted.last_error == "x" * 500 and counted.last_error_at is not None


def test_old_receipts_are_pruned(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        session.add_all([CaptureReceipt(connector="wecom", event_key="old", received_at=now - timedelta(days=2)),
                         CaptureReceipt(connector="wecom", event_key="new", received_at=now - timedelta(hours=2))])
    with session_scope(engine) as session:
        assert service.prune(session, now=now, window_seconds=300) == 1
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(CaptureReceipt.event_key)).all() == ["new"]
    assert service.keep_receipts(86_400) == timedelta(days=4)


def test_test_events_are_known_by_their_prefix() -> None:
    assert service.is_test("evenhand-test-3f2a")
    assert not service.is_test("CALL-1") and not service.is_test(None) and not service.is_test("")


# --- a webhook watched ----------------------------------------------------------------------------------------

class Body(BaseModel):
    key: str
    secret: str


@pytest.fixture
def watched(settings: Settings, engine: Engine) -> TestClient:
    """An app with one watched webhook that takes an event, then refuses a wrong secret (after writing)."""
    app: FastAPI = create_app(settings, engine, ui=False)

    @app.post("/hook", dependencies=[Depends(service.watch("probe"), scope="function")])
    def hook(body: Body, session: DbSession) -> dict[str, bool]:
        fresh = service.first_time(session, "probe", body.key)
        service.took(session, "probe")
        if body.secret != "right":
            raise Unauthorized("The signature does not match.", field="signature")
        return {"fresh": fresh}

    return TestClient(app)


def test_a_refused_request_is_counted_and_stores_nothing_else(watched: TestClient, engine: Engine) -> None:
    assert watched.post("/hook", json={"key": "A", "secret": "right"}).json() == {"fresh": True}
    before = row_counts(engine)
    answer = watched.post("/hook", json={"key": "B", "secret": "wrong"})
    assert answer.status_code == 401 and answer.json()["error"]["field"] == "signature"
    answer = watched.post("/hook", json={"key": "C"})  # malformed: refused before the handler
    assert answer.status_code == 422
    after = row_counts(engine)
    assert after["capture_receipts"] == before["capture_receipts"] == 1
    assert {k: v for k, v in after.items() if v != before[k]} == {}  # the status row existed: only updated
    counted = health(engine, "probe")
    assert (counted.events, counted.errors) == (1, 2)
    assert counted.last_error is not None and counted.last_error.startswith("422")
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(CaptureReceipt)) == 1
