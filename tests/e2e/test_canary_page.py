"""The canary page in a real browser: a supervisor reads the running canary's board in English (no rollback button);
an admin reads it in Chinese and rolls the canary back through the confirmation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.models import Canary, CanaryStatus
from tests.e2e.conftest import Server, _seed, seed_leads, serving
from tests.e2e.test_shell import sign_in
from tests.monitor.test_canary import decided, start

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A canary started two days ago on half the leads, with the hand-built decided leads of the board's test: the
    canary slower to first response and accepting fewer new leads in time, its leads all on one rep."""
    data: Path = tmp_path_factory.mktemp("canary-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        found = start(session)
        found.started_at -= timedelta(days=2)
        session.flush()
        decided(session, found)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def test_a_supervisor_reads_the_board_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/monitor/canary")
    page.locator('[data-locale="en"]').click()
    expect(page.get_by_test_id("canary-status")).to_have_text("running")
    expect(page.get_by_test_id("canary-arms")).to_contain_text("Policy version 2 routes 50% of new leads")
    mean = page.locator('[data-metric="first_response_mean"]')
    expect(mean).to_contain_text("First response, mean")
    expect(mean.locator('[data-field="control"]')).to_have_text("2.00 h (n = 40)")
    expect(mean.locator('[data-field="canary"]')).to_have_text("6.00 h (n = 40)")
    expect(mean.locator('[data-field="verdict"]')).to_have_text("Worse")
    expect(mean.locator('[data-field="difference"] svg')).to_have_count(1)
    conversion = page.locator('[data-metric="lead_conversion"]')
    expect(conversion.locator('[data-field="canary"]')).to_have_text("75.0% (n = 20)")
    expect(conversion.locator('[data-field="verdict"]')).to_have_text("No evidence yet")
    expect(page.get_by_test_id("rollback")).to_have_count(0)  # a supervisor reads, admin and ops roll back


def test_an_admin_rolls_the_canary_back_in_chinese(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/monitor/canary")
    expect(page.get_by_text("灰度发布").first).to_be_visible()
    accepted = page.locator('[data-metric="lead_accepted_in_time"]')
    expect(accepted).to_contain_text("新线索按时接收率")
    expect(accepted.locator('[data-field="control"]')).to_have_text("90.0%（n = 40）")
    expect(accepted.locator('[data-field="verdict"]')).to_have_text("变差")
    page.screenshot(path=str(Path(__file__).resolve().parents[1] / "artifacts" / "canary-zh.png"), full_page=True)
    page.get_by_test_id("rollback").click()
    dialog = page.get_by_test_id("rollback-dialog")
    expect(dialog).to_contain_text("回滚灰度 1？")
    dialog.locator('[data-field="reason"] input, input[data-field="reason"]').first.fill("首次响应变慢")
    page.get_by_test_id("confirm-rollback").click()
    expect(page.get_by_test_id("canary-status")).to_have_text("已回滚")
    expect(page.get_by_test_id("rollback")).to_have_count(0)
    expect(page.get_by_test_id("canary-history")).to_contain_text("已回滚")
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(Canary.status)) == CanaryStatus.ROLLED_BACK
    engine.dispose()
