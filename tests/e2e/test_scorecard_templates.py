"""The scorecard templates' editor in a real browser: a problem typed shows with its line, the preview ranks the reps
under the draft beside the active templates, and a rep reads the text locked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from evenhand.performance.template import default_text
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KEY = "scorecard-templates"
TYPED = "bonus: 1"


def test_a_typed_problem_shows_its_line_and_the_preview_ranks_the_reps(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/performance/templates")
    status, problems = page.get_by_test_id(f"{KEY}-status"), page.get_by_test_id(f"{KEY}-problems")
    expect(status).to_contain_text("模板有效")
    editor = page.get_by_test_id(f"{KEY}-editor").locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(TYPED)
    expect(status).to_contain_text("处问题")
    expect(problems).to_contain_text("bonus")
    line = len(default_text().splitlines()) + 1
    expect(problems).to_contain_text(f"第 {line} 行")
    expect(page.locator(".eh-problem-line")).to_have_count(1)
    expect(page.get_by_test_id(f"save-{KEY}")).to_be_disabled()
    for _ in TYPED:
        page.keyboard.press("Backspace")
    expect(status).to_contain_text("模板有效")
    page.get_by_test_id("run-preview").click()
    ranking = page.get_by_test_id("preview-ranking")
    expect(ranking).to_contain_text("张伟", timeout=30_000)
    expect(ranking).to_contain_text("陈小雨")
    expect(ranking).to_contain_text("草稿：名次")
    expect(page.get_by_test_id("preview-period")).to_contain_text(re.compile(r"\d{4}-\d{2}"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "scorecard-templates.png"), full_page=True)


def test_a_rep_reads_the_templates_locked(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/performance/templates")
    expect(page.get_by_test_id(f"{KEY}-editor").locator(".cm-content")).to_have_attribute("contenteditable", "false")
    expect(page.get_by_test_id(f"save-{KEY}")).to_have_count(0)
