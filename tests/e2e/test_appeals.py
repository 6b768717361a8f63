"""Appeals in a real browser: a rep appeals an assignment from the decision page, the supervisor reassigns
the lead from the appeals queue, and the rep reads the outcome."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from evenhand.auth.service import create_token
from evenhand.db import make_engine, session_scope
from evenhand.models import Role
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
COMPANY = "宁波精工贸易有限公司"


def _api(server: Server) -> tuple[dict[str, str], dict[str, int]]:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        token, _ = create_token(session, username="admin", role=Role.ADMIN)
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    users = httpx.get(f"{server.base}/api/v1/users", headers=headers, params={"limit": 100}).json()
    ids = {u["username"]: u["id"] for u in users["items"]}
    return headers, ids


def _lead_for_xiaochen(server: Server) -> tuple[int, int, dict[str, str], dict[str, int]]:
    """A new lead that ends with 陈小雨 (sales ops names her if the policy sent it elsewhere or held it)."""
    headers, ids = _api(server)
    created = httpx.post(f"{server.base}/api/v1/leads", headers=headers, json={
        "source": "website", "external_id": "APPEAL-1", "company": COMPANY, "region": "east", "industry": "制造业",
        "company_size": 40}).json()
    decision = created["assignment"]
    if decision["rep_id"] != ids["xiaochen"]:
        decision = httpx.post(f"{server.base}/api/v1/leads/{created['id']}/reassign", headers=headers,
                              json={"rep_id": ids["xiaochen"], "reason": "新人练手"}).json()
    assert decision["rep_id"] == ids["xiaochen"], decision
    return created["id"], decision["id"], headers, ids


def _as(browser: Browser, server: Server, username: str) -> Page:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, server.base, username)
    return page


def test_rep_appeals_supervisor_reassigns_and_the_rep_sees_the_outcome(server: Server, browser: Browser) -> None:
    lead_id, decision_id, headers, ids = _lead_for_xiaochen(server)
    ARTIFACTS.mkdir(exist_ok=True)

    rep = _as(browser, server, "xiaochen")
    rep.goto(f"{server.base}/leads/{lead_id}")  # where the "new lead" message takes the rep
    expect(rep.get_by_test_id("appeal")).to_be_visible()
    expect(rep.get_by_test_id("appeal-window")).to_contain_text(re.compile(r"还可以申诉 \d+ 分钟"))
    rep.goto(f"{server.base}/routing/decisions/{decision_id}")
    expect(rep.get_by_test_id("appeal-window")).to_contain_text(re.compile(r"还可以申诉 \d+ 分钟"))
    rep.get_by_test_id("appeal").click()
    dialog = rep.get_by_test_id("appeal-dialog")
    expect(dialog).to_contain_text("行业不对")  # the default reason code
    dialog.locator('[data-testid="appeal-reason"] textarea, textarea[data-testid="appeal-reason"]').first.fill(
        "是贸易公司，不是制造企业")
    dialog.locator('[data-testid="correct-industry"] input, input[data-testid="correct-industry"]').first.fill("批发")
    rep.screenshot(path=str(ARTIFACTS / "appeal-dialog.png"))
    dialog.get_by_test_id("file-appeal").click()
    expect(rep.get_by_test_id("my-appeal")).to_contain_text("待处理", timeout=10_000)
    expect(rep.get_by_test_id("appeal")).to_have_count(0)  # one appeal per assignment

    boss = _as(browser, server, "wangqiang")
    boss.goto(f"{server.base}/routing/decisions/{decision_id}")
    expect(boss.get_by_test_id("reassign-lead")).to_be_visible()  # he may reassign his team's lead from here
    expect(boss.get_by_test_id("appeal")).to_have_count(0)
    boss.goto(f"{server.base}/appeals")
    card = boss.locator("[data-appeal]").filter(has_text=COMPANY)
    expect(card).to_contain_text("是贸易公司，不是制造企业")
    expect(card).to_contain_text("行业: 批发")
    expect(card).to_contain_text("陈小雨")  # the evidence: who was considered and why
    boss.screenshot(path=str(ARTIFACTS / "appeals-queue.png"), full_page=True)
    card.locator('[data-testid="ruling-note"] input, input[data-testid="ruling-note"]').first.fill("改给张伟跟进")
    card.get_by_test_id("ruling-rep").click()
    boss.get_by_role("option", name="张伟").click()
    card.get_by_test_id("reassign").click()
    expect(boss.locator("[data-appeal]").filter(has_text=COMPANY)).to_have_count(0, timeout=10_000)
    expect(boss.get_by_test_id("appeal-metrics")).to_be_visible()

    rep.goto(f"{server.base}/appeals")
    mine = rep.get_by_test_id("my-appeals")
    expect(mine).to_contain_text(COMPANY)
    expect(mine).to_contain_text("已改派")
    expect(mine).to_contain_text("改给张伟跟进")
    rep.screenshot(path=str(ARTIFACTS / "my-appeals.png"), full_page=True)
    rep.goto(f"{server.base}/routing/decisions/{decision_id}")  # the lead is no longer hers; her appeal still is
    expect(rep.get_by_test_id("my-appeal")).to_contain_text("已改派")
    expect(rep.get_by_test_id("appeal")).to_have_count(0)
    expect(rep.get_by_test_id("reassign-lead")).to_have_count(0)
    rep.goto(f"{server.base}/appeals")
    mine.get_by_text(COMPANY).click()  # the decision that came of it, and why it is no longer hers
    expect(rep).to_have_url(re.compile(r"/routing/decisions/\d+$"))
    expect(rep.get_by_test_id("decision-summary")).to_contain_text("分配给 张伟")
    expect(rep.get_by_test_id("decision-kind")).to_contain_text("申诉裁决后分配")

    lead = httpx.get(f"{server.base}/api/v1/leads/{lead_id}", headers=headers).json()
    assert lead["owner_id"] == ids["zhangwei"]
    appeals = httpx.get(f"{server.base}/api/v1/appeals", headers=headers).json()
    ours = next(a for a in appeals if a["lead_id"] == lead_id)
    assert ours["status"] == "reassigned" and ours["outcome_decision_id"]
    rep.context.close()
    boss.context.close()
