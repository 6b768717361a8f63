"""The monitoring pages in a real browser, in Chinese and English, over a small monitored company (four KPIs, the
push incident, two open anomalies and an ended one, the changes around them): sales ops read the KPI tiles (the
alarming ones red) and the anomaly list, open the drill-down — the ranked explanations, the funnel trace with the
steady lead score checked, the linked changes with their before/after boards — and hover a change marker for its
title; a KPI's chart draws a dimension's top values; the supervisor finds the open anomalies on his home page; a rep
is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from evenhand.db import make_engine, session_scope
from evenhand.models import Role
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server, _seed, serving
from tests.e2e.test_shell import sign_in
from tests.monitor import company_kpis as co

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def built() -> dict[str, int]:
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, built: dict[str, int]) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("monitor-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        org_service.create_user(session, UserCreate(username="lina", display_name="李娜", role=Role.OPS,
                                                    password=PASSWORD), actor=None)
        built.update({name: row.id for name, row in co.build(session).items()})
    engine.dispose()
    with serving(data, url) as running:
        yield running


def in_english(page: Page, server: Server) -> None:
    page.goto(f"{server.base}/auth/locale/en?next=/")
    page.wait_for_url(re.compile(rf"{re.escape(server.base)}/$"))


def hover_day(page: Page, chart: Locator, day: str) -> None:
    """Rest the pointer on one day of an ECharts chart (its pixel read from the chart itself)."""
    expect(chart.locator("canvas").first).to_be_visible()
    chart.scroll_into_view_if_needed()
    x = page.evaluate("([id, day]) => getElement(id).chart.convertToPixel({xAxisIndex: 0}, day)",
                      [int((chart.get_attribute("id") or "c0").removeprefix("c")), day])
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)


def wait_for_chart(page: Page, testid: str, holds: str) -> Any:
    """Wait until the chart drawn under ``testid`` (redrawn charts are new elements) satisfies ``holds``, a JavaScript
    expression over its options ``o``; return the value of ``holds``."""
    return page.wait_for_function("""([testid, holds]) => {
        const el = document.querySelector(`[data-testid="${testid}"]`);
        const chart = el && getElement(Number(el.id.slice(1)))?.chart;
        return chart && new Function('o', `return ${holds}`)(chart.getOption());
    }""", arg=[testid, holds]).json_value()


def test_sales_ops_read_the_tiles_and_drill_into_the_conversion_drop(server: Server, page: Page,
                                                                     built: dict[str, int]) -> None:
    sign_in(page, server.base, "lina")
    page.goto(f"{server.base}/monitor")
    expect(page.get_by_test_id("monitor-as-of")).to_contain_text("2026-09-30")
    expect(page.get_by_test_id("monitor-days-off")).to_have_text(  # the company's standards list no holidays
        "阶段动作标准中没有列出节假日：节假日所在的一周会被看成转化率下降。")
    conversion = page.locator('[data-kpi="lead_conversion"]')
    expect(conversion).to_contain_text("线索转化率")
    expect(conversion).to_contain_text("6.5%")  # the newest mature cohorts
    expect(conversion).to_contain_text("低于 8.0% 时告警")
    expect(conversion.get_by_test_id("tile-anomaly")).to_be_visible()
    expect(page.locator('[data-kpi="lead_score_mean"]').get_by_test_id("tile-anomaly")).to_have_count(0)
    expect(page.get_by_test_id("spark-first_response_mean").locator("canvas").first).to_be_visible()
    response = page.locator('[data-kpi="first_response_mean"]')
    expect(response.get_by_test_id("tile-now")).to_have_attribute("data-beyond-alert", "true")  # 6 h, above 4 h
    for key, target in (("changes", "/monitor/changes"), ("canary", "/monitor/canary"),
                        ("definitions", "/monitor/kpis/edit")):
        expect(page.get_by_test_id(f"monitor-link-{key}")).to_have_attribute("href", target)
    listing = page.get_by_test_id("anomaly-list")
    expect(listing).to_contain_text("▼ -48% (12.5% → 6.5%)")
    expect(listing).to_contain_text("客户端（平台和应用版本）: android 3.2.0（占变化的 62%）")
    expect(listing).to_contain_text("CRM 升级 v3.2 / 移动端推送组件更新")
    page.screenshot(path=str(ARTIFACTS / "monitor-zh.png"), full_page=True)

    listing.locator(f'[data-anomaly="{built["conversion"]}"]').click()
    expect(page).to_have_url(re.compile(rf"/monitor/anomalies/{built['conversion']}$"))
    expect(page.get_by_test_id("anomaly-dates")).to_contain_text("检测于 2026-08-28（11 天后）")
    expect(page.get_by_test_id("anomaly-chain")).to_contain_text("线索转化率 → 首次响应（均值） → 通知送达率")
    client = page.locator('[data-dimension="client"]')
    expect(client).to_contain_text("1. 客户端（平台和应用版本）")
    expect(client.locator('[data-element="android 3.2.0"]')).to_contain_text("占变化的 62%")
    expect(client.locator('[data-element="android 3.2.0"]')).to_contain_text("12.5% → 5.0%")
    expect(page.locator('[data-dimension="channel"]')).to_contain_text("官网表单")
    trace = page.get_by_test_id("trace")
    expect(trace.locator('[data-trace-kpi="notification_delivery"][data-trace-status="shifted"]')).to_be_visible()
    expect(trace.locator('[data-trace-kpi="lead_score_mean"]')).to_contain_text("平稳——已核查")
    crm = page.locator(f'[data-change="{built["crm"]}"]')
    expect(crm).to_contain_text("CRM 升级 v3.2 / 移动端推送组件更新")
    expect(crm).to_contain_text("2026-08-15 22:00 生效，异常开始前 2 天")
    expect(crm.get_by_test_id("change-reasons")).to_contain_text("提到“推送”")
    expect(crm.get_by_test_id("change-impact")).to_have_attribute("href", f"/monitor/changes/{built['crm']}/impact")
    expect(page.locator(f'[data-marker="{built["crm"]}"]')).to_contain_text("2026-08-15")
    expect(page.locator(f'[data-marker="{built["old"]}"]')).to_contain_text("已回滚")
    chart = page.get_by_test_id("anomaly-chart")
    hover_day(page, chart, "2026-08-15")
    expect(chart).to_contain_text(f"变更 #{built['crm']}: CRM 升级 v3.2 / 移动端推送组件更新")
    page.screenshot(path=str(ARTIFACTS / "monitor-anomaly-zh.png"), full_page=True)

    trace.locator('[data-trace-kpi="notification_delivery"]').get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/monitor/anomalies/{built['delivery']}$"))
    expect(page.get_by_test_id("no-explanation")).to_be_visible()

    page.goto(f"{server.base}/monitor")
    page.get_by_test_id("monitor-link-definitions").click()  # the editor, not a KPI named "edit"
    expect(page.get_by_test_id("kpi-sources")).to_be_visible()
    expect(page.get_by_test_id("kpi-name")).to_have_count(0)


def test_in_english_a_kpi_chart_draws_a_dimensions_top_values(server: Server, page: Page,
                                                              built: dict[str, int]) -> None:
    sign_in(page, server.base, "lina")
    in_english(page, server)
    page.goto(f"{server.base}/monitor")
    expect(page.get_by_test_id("monitor-days-off")).to_contain_text("a holiday week will look like a drop")
    expect(page.locator('[data-kpi="first_response_mean"]')).to_contain_text("First response (mean)")
    expect(page.locator('[data-kpi="first_response_mean"]')).to_contain_text("Alert above 4.0 h")
    expect(page.get_by_test_id("anomaly-list")).to_contain_text("Notification delivery")
    page.locator('[data-kpi="notification_delivery"]').get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/monitor/kpis/notification_delivery$"))
    expect(page.get_by_test_id("kpi-name")).to_have_text("Notification delivery")
    chart = page.get_by_test_id("kpi-chart")
    expect(page.locator(f'[data-marker="{built["app"]}"]')).to_contain_text("移动端 App 3.2.0 发布")
    expect(page.locator(f'[data-band="{built["delivery"]}"]')).to_contain_text("2026-08-17 to 2026-09-30")
    hover_day(page, chart, "2026-08-17")
    expect(chart).to_contain_text(f"Change entry #{built['app']}: 移动端 App 3.2.0 发布")
    page.get_by_test_id("kpi-dimension").click()
    page.get_by_role("option", name="Client (platform and app version)").click()
    names = wait_for_chart(page, "kpi-chart", "o.series.length === 5 && o.series.slice(2).map(s => s.name)")
    assert names == ["ios 3.2.0", "android 3.2.0", "android 3.1.0"]
    page.get_by_test_id("kpi-range").get_by_text("1 year").click()
    assert wait_for_chart(page, "kpi-chart", "o.xAxis[0].data.length === 365")
    expect(page.locator(f'[data-marker="{built["old"]}"]')).to_contain_text("Routing pools regrouped")
    page.screenshot(path=str(ARTIFACTS / "monitor-kpi-en.png"), full_page=True)


def test_the_supervisor_sees_open_anomalies_at_home_and_a_rep_is_refused(server: Server, page: Page,
                                                                         built: dict[str, int]) -> None:
    sign_in(page, server.base, "wangqiang")
    tile = page.locator('[data-home="anomalies"]')
    expect(tile.get_by_test_id("home-count")).to_have_text("2")
    expect(tile.locator(f'[data-home-anomaly="{built["conversion"]}"]')).to_contain_text("线索转化率")
    expect(tile.locator(f'[data-home-anomaly="{built["conversion"]}"]')).to_contain_text("自 2026-08-17")
    tile.get_by_role("link", name="线索转化率").click()
    expect(page).to_have_url(re.compile(rf"/monitor/anomalies/{built['conversion']}$"))
    page.context.clear_cookies()
    sign_in(page, server.base, "xiaochen")
    expect(page.locator('[data-home="anomalies"]')).to_have_count(0)
    page.goto(f"{server.base}/monitor")
    expect(page.get_by_test_id("monitor-refused")).to_be_visible()
    page.goto(f"{server.base}/monitor/anomalies/{built['conversion']}")
    expect(page.get_by_test_id("monitor-refused")).to_be_visible()
    expect(page.get_by_test_id("anomaly-summary")).to_have_count(0)
