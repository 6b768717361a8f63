"""Test events over real HTTP to a live server process (uvicorn, as ``evenhand serve`` runs it), on SQLite and
PostgreSQL: each connector's sample is signed and encrypted so that its own endpoint accepts it, counts it and stores
no activity; a wrong secret is refused and counted; ``evenhand capture status|test`` read and send the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evenhand.capture import connectors
from evenhand.config import Settings
from tests.capture.support import health, stored_counts
from tests.capture.test_dingtalk import AES_KEY, APP_KEY
from tests.capture.test_dingtalk import TOKEN as DINGTALK_TOKEN
from tests.capture.test_wecom_crypto import CORP_ID, ENCODING_AES_KEY
from tests.capture.test_wecom_crypto import TOKEN as WECOM_TOKEN
from tests.e2e.conftest import evenhand_serve
from tests.support import Run, clear_caches, in_a_thread, on_a_loop_of_its_own

pytestmark = pytest.mark.slow

SECRETS = {"wecom_token": WECOM_TOKEN, "wecom_encoding_aes_key": ENCODING_AES_KEY, "wecom_corp_id": CORP_ID,
           "dingtalk_token": DINGTALK_TOKEN, "dingtalk_aes_key": AES_KEY, "dingtalk_app_key": APP_KEY,
           "telephony_hmac_secret": "call-centre-secret", "graph_tenant_id": "tenant-1",
           "graph_client_id": "client-1", "graph_client_secret": "graph-secret",
           "graph_notification_url": "https://evenhand.example.cn/api/v1/capture/graph",
           "secret_key": "connectors-test-signing-key-0123456789"}
CHANGED = {"capture_receipts", "connector_status"}  # all that a test event may write


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A server over the test's database with every connector configured; its base URL."""
    with evenhand_serve(db_url, tmp_path, {"EVENHAND_WORKER_IN_SERVE": "false",
                                           **{f"EVENHAND_{k.upper()}": v for k, v in SECRETS.items()}}) as base:
        yield base


def configured(tmp_path: Path, db_url: str, **changes: str) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": db_url, "mode": "test", **SECRETS,
                                    **changes})


def test_each_test_event_is_accepted_counted_and_stores_nothing_and_a_wrong_secret_is_refused(live: str, engine: Engine,
                                                                            tmp_path: Path, db_url: str) -> None:
    settings = configured(tmp_path, db_url)
    before = stored_counts(engine)
    for name in connectors.CONNECTORS:
        result = on_a_loop_of_its_own(connectors.send_test(settings, name, live))
        assert result.ok, (name, result)
        assert result.url == f"{live}{connectors.get(name).sample(settings).path}"  # type: ignore[union-attr]
        assert (health(engine, name).events, health(engine, name).errors) == (1, 0), name
    after = stored_counts(engine)
    assert {table for table in after if after[table] != before[table]} <= CHANGED

    wrong = configured(tmp_path, db_url, telephony_hmac_secret="not-the-servers", wecom_token="nope")
    for name, field in (("telephony", "X-Evenhand-Signature"), ("wecom", "msg_signature")):
        result = on_a_loop_of_its_own(connectors.send_test(wrong, name, live))
        assert (result.ok, result.status) == (False, 401), result
        assert json.loads(result.answer)["error"]["field"] == field
        assert (health(engine, name).events, health(engine, name).errors) == (1, 1)
    unset = Settings(data_dir=tmp_path, database_url=db_url, mode="test")
    result = on_a_loop_of_its_own(connectors.send_test(unset, "dingtalk", live))
    assert (result.ok, result.status, result.missing) == (False, None, ["dingtalk_token", "dingtalk_aes_key",
                                                                         "dingtalk_app_key"])


def test_the_cli_sends_a_test_event_and_shows_the_status(live: str, run: Run, engine: Engine,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    missing = in_a_thread(run, "capture", "test", "telephony", "--url", live)
    assert missing.exit_code == 1 and "telephony_hmac_secret" in missing.output
    for key, value in SECRETS.items():
        monkeypatch.setenv(f"EVENHAND_{key.upper()}", value)
    clear_caches()  # the settings are read afresh, as by a new process
    sent = in_a_thread(run, "capture", "test", "telephony", "--url", live)
    assert sent.exit_code == 0, sent.output
    assert "accepted the test event: 200" in sent.output
    assert in_a_thread(run, "capture", "test", "fax").exit_code == 1
    status = run("capture", "status", "--json")
    assert status.exit_code == 0, status.output
    records = {r["connector"]: r for r in json.loads(status.output)["connectors"]}
    assert list(records) == ["wecom", "dingtalk", "outlook", "telephony"]
    assert (records["telephony"]["events"], records["telephony"]["configured"]) == (1, True)
    assert records["wecom"]["events"] == 0 and records["wecom"]["last_event_at"] is None
    table = run("capture", "status")
    assert table.exit_code == 0 and "Telephony" in table.output


def test_status_names_the_settings_a_connector_lacks(run: Run) -> None:
    records = {r["connector"]: r for r in json.loads(run("capture", "status", "--json").output)["connectors"]}
    assert records["outlook"]["missing"] == ["graph_tenant_id", "graph_client_id", "graph_client_secret",
                                             "graph_notification_url"]
    assert not records["telephony"]["configured"]
