"""The routing policy editor in a real browser: inline problems with their line, replay, then save (R1.3, R4.7)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.models import AuditEntry, RoutingPolicyVersion
from evenhand.routing import policy_versions
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_leads_pages import field
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TYPED = "bogus_key: 1\n"
NOTE = "# 备注：只加了一行注释"


def _active(url: str) -> tuple[int, str]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        row = policy_versions.active(session)
        found = row.version, row.body
    engine.dispose()
    return found


def test_ops_fixes_an_error_replays_and_saves_a_new_version(server: Server, page: Page) -> None:
    before, _ = _active(server.db_url)
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/routing/policy")
    status, problems = page.get_by_test_id("policy-status"), page.get_by_test_id("policy-problems")
    expect(status).to_contain_text("策略有效")
    expect(page.get_by_test_id("policy-diagram").locator("svg")).to_be_visible(timeout=15_000)
    editor = page.get_by_test_id("policy-editor").locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n" + TYPED)
    expect(status).to_contain_text("处问题")
    expect(problems).to_contain_text("bogus_key")
    line = int(re.search(r"第 (\d+) 行", problems.inner_text()).group(1))  # type: ignore[union-attr]
    expect(page.locator(".eh-problem-line")).to_have_count(1)
    expect(page.get_by_test_id("policy-editor").locator(".cm-gutterElement").filter(
        has_text=re.compile(rf"^{line}$"))).to_have_count(1)
    expect(page.get_by_test_id("save-policy")).to_be_disabled()
    for _ in TYPED:
        page.keyboard.press("Backspace")
    page.keyboard.type(NOTE)
    expect(status).to_contain_text("策略有效")
    expect(page.locator(".eh-problem-line")).to_have_count(0)
    expect(page.get_by_test_id("save-hint")).to_contain_text("回放")
    expect(page.get_by_test_id("save-policy")).to_be_disabled()
    page.get_by_test_id("run-replay").click()
    expect(page.get_by_test_id("replay-summary")).to_contain_text("条线索", timeout=30_000)
    expect(page.get_by_test_id("replay-reps")).to_be_visible()
    field(page, "policy-note").fill("只加注释，分配不变")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "policy-editor.png"), full_page=True)
    expect(page.get_by_test_id("save-policy")).to_be_enabled()
    page.get_by_test_id("save-policy").click()
    expect(page.get_by_test_id("active-version")).to_contain_text(f"第 {before + 1} 版", timeout=10_000)
    version, body = _active(server.db_url)
    assert version == before + 1 and NOTE in body
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        saved = session.scalar(select(RoutingPolicyVersion).where(RoutingPolicyVersion.version == version))
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "routing.policy_saved")
                                .order_by(AuditEntry.seq.desc())).first()
    engine.dispose()
    assert saved is not None and saved.note == "只加注释，分配不变" and saved.author_id is not None
    assert entry is not None and f"+{NOTE}" in entry.payload["diff"]
