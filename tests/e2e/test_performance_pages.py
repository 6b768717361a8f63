"""The performance pages in a real browser over the demo company, in Chinese and English: sales ops reads the
third quarter's team ranking with the three reps the simulation made win on price flagged and why, 张伟's block in
the form R3.6 writes it, and drills to his page (every metric explained, the totals before as a chart) and to a
flagged rep's; a rep finds their own block on the home page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.alerts import service as alerts
from evenhand.db import make_engine, session_scope
from evenhand.demo.service import DEMO_PASSWORD
from evenhand.models import User
from evenhand.performance import document
from evenhand.qa import service as qa
from evenhand.standards import service as standards
from tests.demo.conftest import build_into
from tests.e2e.conftest import ARTIFACTS, Server, serving
from tests.performance.demo import discounters

pytestmark = [pytest.mark.browser, pytest.mark.slow]
Q3 = "/performance?period=2026-Q3"
BLOCK = re.compile(r"^张伟 \| 大客户部 \| Q3考核得分:\d{1,3}\.\d$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("performance-e2e")
    built = build_into(tmp_path_factory, data)
    with session_scope(built.engine) as session:
        # each document's first version, as a running company has them: the page and the home tiles read at once
        for doc in (document.TEMPLATES, standards.STANDARDS, alerts.RULES, qa.RUBRIC):
            doc.active(session)
    built.engine.dispose()
    with serving(data, f"sqlite:///{data / 'demo.sqlite'}") as running:
        yield running


@pytest.fixture(scope="module")
def zhang_wei(server: Server) -> int:
    """The demo's persona in key accounts, east."""
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        found = session.scalars(select(User.id).where(User.username == "zhangwei")).one()
    engine.dispose()
    return found


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(DEMO_PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))


def ranking(page: Page, server: Server) -> None:
    page.goto(server.base + Q3)
    expect(page.get_by_test_id("perf-ranking")).to_be_visible(timeout=30_000)


def test_the_team_ranking_flags_the_discounters_and_shows_the_block(server: Server, page: Page, zhang_wei: int
                                                                    ) -> None:
    sign_in(page, server.base, "lina")
    ranking(page, server)
    expect(page.get_by_test_id("perf-state")).to_contain_text("实时")
    flagged = discounters()
    expect(page.get_by_test_id("perf-flag")).to_have_count(len(flagged))
    for user_id, name in flagged.items():
        flag = page.locator(f'[data-testid="perf-flag"][data-user="{user_id}"]')
        expect(flag).to_contain_text(name)
        expect(flag).to_contain_text("远高于部门水平")
    expect(page.locator('[data-testid="perf-ranking"] tr[data-flagged="yes"]')).to_have_count(len(flagged))
    block = page.locator(f'[data-testid="perf-block"][data-user="{zhang_wei}"]')
    expect(block.get_by_test_id("perf-block-first")).to_have_text(BLOCK)
    expect(block.get_by_test_id("perf-block-second")).to_have_text(re.compile(r"^回款达成率:\d+% \| 方案提交率:"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "performance-ranking.png"), full_page=True)

    page.locator('[data-testid="perf-ranking"] a', has_text="张伟").click()
    page.wait_for_url(re.compile(rf"/performance/reps/{zhang_wei}\?period=2026-Q3$"))
    expect(page.get_by_test_id("perf-block-first")).to_have_text(BLOCK, timeout=30_000)
    metrics = page.get_by_test_id("perf-metrics")
    expect(metrics).to_contain_text("回款额")
    expect(metrics).to_contain_text("续约率")
    expect(page.get_by_test_id("perf-history").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("perf-flag")).to_have_count(0)


def test_a_flagged_reps_page_says_why(server: Server, page: Page) -> None:
    sign_in(page, server.base, "lina")
    user_id, name = next(iter(discounters().items()))
    page.goto(f"{server.base}/performance/reps/{user_id}?period=2026-Q3")
    expect(page.get_by_test_id("perf-block-first")).to_contain_text(f"{name} | 大客户部 | Q3考核得分:",
                                                                     timeout=30_000)
    expect(page.get_by_test_id("perf-flag")).to_contain_text("平均折扣")


def test_in_english(server: Server, page: Page, zhang_wei: int) -> None:
    sign_in(page, server.base, "lina")
    page.goto(f"{server.base}/auth/locale/en?next={Q3}")
    expect(page.get_by_test_id("perf-ranking")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("perf-ranking").locator("th").first).to_have_text("Rank")
    block = page.locator(f'[data-testid="perf-block"][data-user="{zhang_wei}"]')
    english = re.compile(r"^张伟 \| 大客户部 \| Q3 score: \d+\.\d$")
    expect(block.get_by_test_id("perf-block-first")).to_have_text(english)
    expect(block.get_by_test_id("perf-block-second")).to_contain_text("Cash collection attainment: ")
    expect(page.get_by_test_id("perf-flags")).to_contain_text("is far above the department's")
    expect(page.get_by_test_id("perf-download-xlsx")).to_have_attribute(
        "href", "/api/v1/scorecards/export?period=2026-Q3&format=xlsx")


def test_a_rep_finds_their_block_at_home(server: Server, page: Page) -> None:
    sign_in(page, server.base, "zhangwei")
    tile = page.locator('[data-home="scorecard"]')
    expect(tile.get_by_test_id("home-scorecard")).to_contain_text(re.compile(r"张伟 \| 大客户部 \| Q\d考核得分:"),
                                                                  timeout=30_000)
    expect(page.locator('[data-nav="/performance"]')).not_to_have_class(re.compile("disable"))


def test_sales_ops_and_a_supervisor_see_their_tiles_at_home(server: Server, page: Page) -> None:
    sign_in(page, server.base, "lina")
    tile = page.locator('[data-home="company-scorecards"]')
    expect(tile.get_by_test_id("home-chart-scorecards").locator("canvas").first).to_be_visible(timeout=30_000)
    expect(tile.get_by_test_id("home-flagged")).to_contain_text("名销售代表呈现高业绩低质量")
    page.context.clear_cookies()
    sign_in(page, server.base, "wangqiang")
    team = page.locator('[data-home="team-scorecards"]')
    expect(team.get_by_test_id("home-scorecard").first).to_contain_text(re.compile(r"\| 大客户部 \| Q\d考核得分:"),
                                                                         timeout=30_000)
    expect(team.get_by_text("前列")).to_be_visible()
    assert 2 <= team.get_by_test_id("home-scorecard").count() <= 6  # the top three, and the bottom three after them
