"""The Admin page in a real browser: sales ops creates a region and a team (department, region, supervisor) and
sees the team listed with its roster; an imported person's external id shows beside their name."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.models import Region, Team, User
from tests.e2e import conftest as e2e
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
server = e2e.server  # the end-to-end company: 中小企业部, 华东一组, 华南一组, the supervisor 王强 and the admin


def in_chromium(scenario: Callable[[Page], None]) -> None:
    """Run the scenario in a browser of its own, on a thread of its own: tests/e2e keeps a Playwright session open
    on this thread for the whole run, and Playwright's sync API allows one per thread."""
    if not (Path(e2e.CHROMIUM).exists() or shutil.which(e2e.CHROMIUM)):
        e2e.missing(f"Chromium not found at {e2e.CHROMIUM}; install Debian's chromium package")
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=e2e.CHROMIUM, headless=True,
                                                      args=e2e.CHROMIUM_ARGS)
                try:
                    scenario(chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page())
                finally:
                    chromium.close()
        except BaseException as exc:  # raised again on the test's own thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def box(page: Page, field: str) -> Locator:
    return page.locator(f'[data-field="{field}"] input, input[data-field="{field}"]').first


def test_ops_creates_a_region_and_a_team_from_the_admin_page(server: e2e.Server) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        session.scalars(select(User).where(User.username == "zhangwei")).one().external_id = "E003"
    in_chromium(lambda page: create_a_team(page, server.base))
    with session_scope(engine, readonly=True) as session:
        team = session.scalars(select(Team).where(Team.name == "华北一组")).one()
        region = session.scalars(select(Region).where(Region.code == "huabei")).one()
        boss = session.scalars(select(User).where(User.username == "wangqiang")).one()
        assert (team.region_id, team.supervisor_id) == (region.id, boss.id)
    engine.dispose()


def create_a_team(page: Page, base: str) -> None:
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin")
    expect(page.locator('[data-external-id="E003"]')).to_be_visible()

    page.get_by_test_id("new-region").click()
    box(page, "name").fill("华北")
    page.get_by_test_id("save-region").click()
    expect(page.get_by_text("已创建 华北 (huabei)。")).to_be_visible()

    page.get_by_test_id("new-team").click()
    dialog = page.get_by_test_id("team-dialog")
    box(page, "team-name").fill("华北一组")
    page.get_by_test_id("save-team").click()
    expect(dialog.get_by_role("alert")).to_contain_text("department_id")  # no department chosen: nothing saved
    dialog.get_by_role("combobox", name="部门").click()
    page.get_by_role("option", name="中小企业部").click()
    dialog.get_by_role("combobox", name="区域").click()
    page.get_by_role("option", name="华北").click()
    dialog.get_by_role("combobox", name="主管").click()
    page.get_by_role("option", name="王强").click()
    page.get_by_test_id("save-team").click()

    card = page.locator('[data-team="华北一组"]')
    expect(card).to_be_visible(timeout=10_000)
    expect(card).to_contain_text("中小企业部 · 华北")
    expect(card).to_contain_text("王强")
    e2e.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(e2e.ARTIFACTS / "admin-org.png"), full_page=True)
