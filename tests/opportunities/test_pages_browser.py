"""The opportunity pages in a real browser, on a small company whose Maven export was imported: a supervisor's
list shows their team's deals only, filters by stage, and a deal opens on its stage history with derived steps
marked; its account opens on the account's deals."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade
from evenhand.models import Role
from evenhand.opportunities import importer
from tests.builders import make_product_line, make_team, make_user
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Server, missing, serving
from tests.e2e.test_shell import sign_in
from tests.files import write_csv
from tests.opportunities.exports import (
    MAVEN_ACCOUNTS,
    MAVEN_ACCOUNTS_HEADER,
    MAVEN_ACCOUNTS_MAPPING,
    PIPELINE,
    PIPELINE_HEADER,
    PIPELINE_MAPPING,
    PRODUCTS,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _company(url: str, data: Path) -> None:
    """Dustin supervises Moses and Darcel; Zane is in nobody's team. The Maven files come in as a user imports them."""
    from zoneinfo import ZoneInfo

    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        for code, name in PRODUCTS:
            make_product_line(session, code=code, name=name)
        boss = make_user(session, username="dustin", display_name="Dustin Brinkmann", role=Role.SUPERVISOR,
                         password=PASSWORD)
        team = make_team(session, name="Central", supervisor=boss)
        for name in ("Moses Frase", "Darcel Schlecht", "Zane Levy"):
            make_user(session, username=name.lower().replace(" ", "."), display_name=name,
                      team=team if name != "Zane Levy" else None)
    zone = ZoneInfo("Asia/Shanghai")
    with session_scope(engine) as session:
        accounts = write_csv(data / "accounts.csv", MAVEN_ACCOUNTS_HEADER, MAVEN_ACCOUNTS)
        importer.import_accounts(session, accounts, MAVEN_ACCOUNTS_MAPPING, zone=zone, skip_invalid=False,
                                 refused=importer.Refused())
        pipeline = write_csv(data / "sales_pipeline.csv", PIPELINE_HEADER, PIPELINE)
        importer.import_opportunities(session, pipeline, PIPELINE_MAPPING, zone=zone, skip_invalid=False,
                                      refused=importer.Refused())
    engine.dispose()


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("deals")
    url = f"sqlite:///{data / 'deals.sqlite'}"
    _company(url, data)
    with serving(data, url) as running:
        yield running


def in_a_browser(scenario: Callable[[Page], None]) -> None:
    """Run ``scenario`` on a fresh page of its own Chromium, in a thread of its own: Playwright's sync API keeps one
    event loop per thread, and the browser tests under tests/e2e hold this thread's for the whole session."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
                try:
                    scenario(context.new_page())
                finally:
                    chromium.close()
        except BaseException as exc:  # handed to the test's own thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the browser scenario did not finish in 5 minutes"
    if failures:
        raise failures[0]


def test_a_supervisor_follows_a_deal_to_its_stage_history(company: Server) -> None:
    in_a_browser(lambda page: _follow_a_deal(page, company))


def _follow_a_deal(page: Page, company: Server) -> None:
    sign_in(page, company.base, "dustin")
    page.locator('[data-nav="/opportunities"]').click()
    expect(page).to_have_url(re.compile(r"/opportunities$"))
    table = page.get_by_test_id("deal-table")
    expect(table).to_contain_text("Cancity · GTX Plus Basic")
    expect(table).to_contain_text("1,054.00")
    expect(table).not_to_contain_text("Hatfan")  # Zane's deal: not in Dustin's team
    expect(page.get_by_test_id("deal-count")).to_contain_text("6")

    page.get_by_test_id("stage-filter").click()
    page.get_by_role("option", name="赢单").click()
    expect(table).not_to_contain_text("MG Advanced")
    page.get_by_text("Cancity · GTX Plus Basic").click()

    expect(page).to_have_url(re.compile(r"/opportunities/\d+$"))
    history = page.get_by_test_id("stage-history")
    expect(history).to_contain_text("初步接洽")
    expect(history).to_contain_text("需求分析")
    expect(history).to_contain_text("赢单")
    expect(history.locator('[data-derived="True"]')).to_have_count(3)
    expect(history).to_contain_text("推导")
    expect(page.get_by_test_id("deal-facts")).to_contain_text("Moses Frase")

    page.get_by_test_id("deal-facts").get_by_text("Cancity").click()
    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))
    expect(page.get_by_test_id("account-facts")).to_contain_text("retail")
    expect(page.get_by_test_id("deal-table")).to_contain_text("Cancity · MG Special")
