"""The connectors page in a real browser, on a server of its own with telephony configured: the admin sees which
settings each connector lacks, sends telephony a test event over HTTP and sees it accepted and counted, with the
time in the admin's own zone; a rep is told the page is not theirs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.models import Activity, ConnectorStatus, User
from tests.e2e.conftest import ARTIFACTS, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ZONE = "Europe/London"


def test_the_admin_sends_a_test_event_and_sees_it_counted(page: Page, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'connectors.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        admin.timezone = ZONE
    monkeypatch.setenv("EVENHAND_TELEPHONY_HMAC_SECRET", "browser-test-secret")
    with serving(tmp_path, url) as server:
        sign_in(page, server.base, "admin")
        page.get_by_test_id("whoami").wait_for()
        page.locator('[data-nav="/admin/connectors"]').click()
        telephony, dingtalk = page.get_by_test_id("connector-telephony"), page.get_by_test_id("connector-dingtalk")
        expect(telephony.get_by_test_id("configured")).to_be_visible()
        expect(dingtalk.get_by_test_id("missing")).to_contain_text("dingtalk_token, dingtalk_aes_key")
        expect(telephony.get_by_test_id("events")).to_have_text("0")

        page.get_by_test_id("test-telephony").click()
        expect(page.get_by_test_id("result-telephony")).to_contain_text("已接受 · HTTP 200")
        expect(telephony.get_by_test_id("events")).to_have_text("1")
        zone = datetime.now(ZoneInfo(ZONE)).strftime("%Z")
        expect(telephony.get_by_test_id("last-event")).to_contain_text(zone)

        page.get_by_test_id("test-dingtalk").click()
        expect(page.get_by_test_id("result-dingtalk")).to_contain_text("尚未配置")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "connectors.png"), full_page=True)
        with session_scope(engine, readonly=True) as session:
            assert session.scalar(select(ConnectorStatus.events).where(ConnectorStatus.connector == "telephony")) == 1
            assert session.scalars(select(Activity)).all() == []  # a test event stores no activity

        page.context.clear_cookies()
        sign_in(page, server.base, "xiaochen")
        expect(page.locator('[data-nav="/admin/connectors"]')).to_have_count(0)
        page.goto(f"{server.base}/admin/connectors")
        expect(page.get_by_text("只有管理员和销售运营可以查看连接器。")).to_be_visible()
    engine.dispose()
