"""The before/after board in a real browser, over hand-built daily points around the SMS fallback: sales ops read
delivery rising with its interval drawn above zero, add first response to the board and see it fall, a horizon rate
says when it will be ready, a metric that is no KPI is not monitored; a rep is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from evenhand.db import make_engine, session_scope
from tests.e2e.conftest import Server, _seed, serving
from tests.e2e.test_shell import sign_in
from tests.monitor.test_impact import build_fallback

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def change_id() -> list[int]:
    return []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, change_id: list[int]) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("impact-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        change_id.append(build_fallback(session))
    engine.dispose()
    with serving(data, url) as running:
        yield running


def cell(page: Page, metric: str, field: str) -> Locator:
    return page.locator(f'[data-metric="{metric}"][data-field="{field}"]')


def test_ops_read_the_board_and_add_first_response(server: Server, page: Page, change_id: list[int]) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/monitor/changes/{change_id[0]}/impact?days=7&kpi=lead_conversion")
    expect(page.get_by_test_id("impact-change")).to_contain_text("启用短信备用通道")
    expect(page.get_by_test_id("impact-windows")).to_contain_text("变更前：2026-09-17 至 2026-09-23")
    expect(page.get_by_test_id("impact-windows")).to_contain_text("变更后：2026-09-25 至 2026-10-01")
    expect(cell(page, "notification_delivery", "before")).to_have_text("70.0%")
    expect(cell(page, "notification_delivery", "after")).to_have_text("95.0%")
    expect(cell(page, "notification_delivery", "difference")).to_have_text("+25.0 个百分点 (+36%)")
    expect(cell(page, "notification_delivery", "verdict")).to_have_text("变好")
    bar = cell(page, "notification_delivery", "interval").locator("svg")
    assert float(bar.get_attribute("data-low") or "nan") > 0
    expect(cell(page, "sms_cost", "verdict")).to_contain_text("未监控")
    expect(cell(page, "lead_conversion", "verdict")).to_have_text("数据尚不足，2026-10-23 可比较")

    page.get_by_test_id("impact-add").click()
    page.get_by_role("option", name="首次响应（平均）").click()
    expect(page).to_have_url(f"{server.base}/monitor/changes/{change_id[0]}/impact?days=7&kpi=lead_conversion"
                             "&kpi=first_response_mean")
    expect(cell(page, "first_response_mean", "before")).to_have_text("6.00 小时")
    expect(cell(page, "first_response_mean", "difference")).to_have_text("-4.00 小时 (-67%)")
    expect(cell(page, "first_response_mean", "verdict")).to_have_text("变好")
    falling = cell(page, "first_response_mean", "interval").locator("svg")
    assert float(falling.get_attribute("data-high") or "nan") < 0
    page.get_by_test_id("impact-remove-first_response_mean").click()
    expect(cell(page, "first_response_mean", "verdict")).to_have_count(0)
    expect(cell(page, "lead_conversion", "verdict")).to_have_count(1)


def test_a_rep_is_refused(server: Server, page: Page, change_id: list[int]) -> None:
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/monitor/changes/{change_id[0]}/impact")
    expect(page.get_by_test_id("impact-error")).to_be_visible()
    expect(page.locator("[data-metric]")).to_have_count(0)
