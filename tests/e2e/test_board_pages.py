"""The process board in a real browser, in Chinese and English: the charts with the period before, a stuck-deals bar
clicked open to the deals behind it, a rep who sees only their own deals, and a new stage change on the next load."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Opportunity, Stage, StageChange, User
from tests.e2e.conftest import ARTIFACTS, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# (owner, deal, [(stage, days ago)]): 张伟's deal sits in proposal for 20 days; 李华's went back to needs analysis
DEALS = (("zhangwei", "苏州精密 MES 项目", [(Stage.QUALIFICATION, 40), (Stage.PROPOSAL, 20)]),
         ("zhangwei", "无锡纺织 ERP", [(Stage.QUALIFICATION, 25), (Stage.NEEDS_ANALYSIS, 20), (Stage.WON, 5)]),
         ("lihua", "广州物流 CRM", [(Stage.QUALIFICATION, 15), (Stage.PROPOSAL, 10), (Stage.NEEDS_ANALYSIS, 3)]))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("board-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    now = utcnow()
    with session_scope(engine) as session:
        people = {u.username: u.id for u in session.scalars(select(User))}
        for n, (owner, name, steps) in enumerate(DEALS):
            deal = Opportunity(name=name, owner_id=people[owner], stage=steps[-1][0], source="crm",
                               external_id=f"B-{n}", created_at=now - timedelta(days=steps[0][1]))
            session.add(deal)
            session.flush()
            session.add_all([StageChange(opportunity_id=deal.id, to_stage=s, changed_at=now - timedelta(days=d))
                             for s, d in steps])
    engine.dispose()
    with serving(data, url) as running:
        yield running


def click_bar(page: Page, chart: str, series: int, index: int) -> None:
    """Click the middle of one bar of an ECharts chart (its pixel position read from the chart itself)."""
    element = page.get_by_test_id(chart)
    expect(element.locator("canvas").first).to_be_visible()
    element.scroll_into_view_if_needed()
    x, y = page.evaluate("""([id, series, index]) => {
        const chart = getElement(id).chart;
        const opt = chart.getOption().series;
        const stacked = opt.slice(0, series + 1).filter(s => s.stack === opt[series].stack);
        const top = stacked.reduce((sum, s) => sum + (s.data[index] || 0), 0);
        const point = chart.convertToPixel({seriesIndex: series}, [index, top - opt[series].data[index] / 2]);
        return point;
    }""", [int(element.get_attribute("id").removeprefix("c")), series, index])  # type: ignore[union-attr]
    box = element.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_ops_reads_the_board_and_opens_the_deals_behind_a_bar(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/process")
    expect(page.get_by_text("过程看板").first).to_be_visible()
    expect(page.get_by_test_id("board-period")).to_contain_text("每项指标旁为上一周期")
    for chart in ("board-stuck", "board-time", "board-funnel", "board-response"):
        expect(page.get_by_test_id(chart)).to_be_visible()
    expect(page.get_by_test_id("board-cycle")).to_contain_text("赢单 1 个")
    expect(page.get_by_test_id("board-compliance")).to_contain_text("阶段标准按时达成率")
    expect(page.get_by_test_id("board-stages")).to_contain_text("方案")
    people = page.get_by_test_id("board-people")
    expect(people).to_contain_text("华东一组")
    expect(people).to_contain_text("张伟")
    click_bar(page, "board-stuck", 2, 2)  # proposal, 14–30 days
    expect(page.get_by_test_id("board-drill-title")).to_contain_text("卡点商机 · 方案")
    drill = page.get_by_test_id("board-drill")
    expect(drill).to_contain_text("苏州精密 MES 项目")
    expect(drill).not_to_contain_text("广州物流 CRM")
    page.screenshot(path=str(ARTIFACTS / "board-zh.png"), full_page=True)


def test_a_rep_sees_their_own_board_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "lihua")
    page.locator('[data-locale="en"]').first.click()
    expect(page.get_by_test_id("whoami")).to_contain_text("Rep")
    page.goto(f"{server.base}/process")
    expect(page.get_by_text("Process board").first).to_be_visible()
    expect(page.get_by_test_id("board-period")).to_contain_text("beside each figure")
    people = page.get_by_test_id("board-people")
    expect(people).to_contain_text("李华")
    expect(people).not_to_contain_text("张伟")
    expect(page.get_by_test_id("board-team")).to_have_count(0)  # no team rows or team filter for a rep
    people.get_by_text("李华").click()
    drill = page.get_by_test_id("board-drill")
    expect(drill).to_contain_text("广州物流 CRM")
    expect(drill).not_to_contain_text("苏州精密")
    page.screenshot(path=str(ARTIFACTS / "board-en.png"), full_page=True)


def test_a_stage_change_shows_on_the_next_load(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/process")
    expect(page.get_by_test_id("board-cycle")).to_contain_text("赢单 1 个")
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        deal = session.scalars(select(Opportunity).where(Opportunity.external_id == "B-0")).one()
        deal.stage = Stage.WON
        session.add(StageChange(opportunity_id=deal.id, from_stage=Stage.PROPOSAL, to_stage=Stage.WON,
                                changed_at=utcnow()))
    engine.dispose()
    page.reload()
    expect(page.get_by_test_id("board-cycle")).to_contain_text("赢单 2 个")
