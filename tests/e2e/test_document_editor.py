"""The one editor of the versioned documents in a real browser: a rep reads every document with the text locked
and no way to save; the history compares an earlier version with the active one, line by line."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from evenhand.alerts import service as alerts_service
from evenhand.db import make_engine, session_scope
from tests.e2e.conftest import Server
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DOCUMENTS = (("/routing/policy", "policy"), ("/process/standards", "standards"), ("/alerts/rules", "rules"),
             ("/qa/rubric", "rubric"), ("/scoring", "model"))
ADDED = "# 对比用的注释"


def test_a_rep_reads_every_document_with_the_text_locked(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    for path, key in DOCUMENTS:
        page.goto(f"{server.base}{path}")
        expect(page.get_by_test_id(f"{key}-status")).to_have_class(re.compile(r"\btext-positive\b"))
        expect(page.get_by_test_id(f"{key}-editor").locator(".cm-content")).to_have_attribute(
            "contenteditable", "false")
        expect(page.get_by_test_id(f"{key}-versions")).to_be_visible()
        expect(page.get_by_test_id(f"save-{key}")).to_have_count(0)
        expect(page.get_by_test_id(f"{key}-note")).to_have_count(0)


def test_the_history_shows_what_the_active_version_changed(server: Server, page: Page) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        body = alerts_service.RULES.active(session).body
        number = alerts_service.save(session, body + ADDED + "\n", author=None, note="对比").version
    engine.dispose()
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/alerts/rules")
    expect(page.get_by_test_id("active-version")).to_contain_text(f"第 {number} 版")
    expect(page.get_by_test_id("diff-version")).to_contain_text(f"{number - 1}")
    diff = page.get_by_test_id("rules-diff")
    expect(diff).to_contain_text(f"+{ADDED}")
    expect(diff).to_contain_text(f"+++ v{number}")
    expect(page.get_by_test_id("rules-versions")).to_contain_text("对比")
