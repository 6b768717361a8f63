"""The stage standards in a real browser: the editor's problems with their lines, the 30-day preview, saving a
version; the checklist under a lead and a deal, overdue in red."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.activities import service as activity_service
from evenhand.activities.schemas import ActivityCreate
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import AuditEntry, Lead, Opportunity, Stage, StageChange, StandardVersion, User
from tests.e2e.conftest import ARTIFACTS, Server, _seed, serving
from tests.e2e.test_leads_pages import field
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TYPED = "  closing:\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The browser tests' company; 张伟 owns a lead assigned five days ago (a call and an e-mail, no note) and a
    deal that entered needs analysis yesterday (a meeting)."""
    data: Path = tmp_path_factory.mktemp("standards-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    now = utcnow()
    with session_scope(engine) as session:
        rep = session.scalars(select(User).where(User.username == "zhangwei")).one()
        lead = Lead(source="website", external_id="S-1", company="苏州精密制造有限公司", owner_id=rep.id,
                    assigned_at=now - timedelta(days=5), created_at=now - timedelta(days=5))
        deal = Opportunity(name="苏州精密 MES 项目", owner_id=rep.id, stage=Stage.NEEDS_ANALYSIS, source="crm",
                           external_id="SO-1", created_at=now - timedelta(days=3))
        session.add_all([lead, deal])
        session.flush()
        deal.lead_id = lead.id
        session.add(StageChange(opportunity_id=deal.id, to_stage=Stage.NEEDS_ANALYSIS,
                                changed_at=now - timedelta(days=1)))
        rows = [("s1", "call", now - timedelta(days=5, hours=-1), {"lead": "S-1"}),
                ("s2", "email", now - timedelta(days=4), {"lead": "S-1"}),
                ("s3", "meeting", now - timedelta(hours=20), {"opportunity": "SO-1"})]
        activity_service.capture_many(session, [ActivityCreate.model_validate(
            {"external_id": n, "type": kind, "direction": "outbound", "rep": "zhangwei",
             "occurred_at": at.isoformat(), **link}) for n, kind, at, link in rows])
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _ids(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with session_scope(engine, readonly=True) as session:
        found = (session.scalars(select(Lead.id).where(Lead.external_id == "S-1")).one(),
                 session.scalars(select(Opportunity.id).where(Opportunity.external_id == "SO-1")).one())
    engine.dispose()
    return found


def test_ops_sees_a_problem_with_its_line_previews_and_saves(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/process/standards")
    status, problems = page.get_by_test_id("standards-status"), page.get_by_test_id("standards-problems")
    expect(status).to_contain_text("标准有效")
    editor = page.get_by_test_id("standards-editor").locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(TYPED)
    expect(status).to_contain_text("处问题")
    expect(problems).to_contain_text("closing")
    assert re.search(r"第 \d+ 行", problems.inner_text())
    expect(page.locator(".eh-problem-line")).to_have_count(1)
    expect(page.get_by_test_id("save-standards")).to_be_disabled()
    for _ in TYPED:
        page.keyboard.press("Backspace")
    page.keyboard.type("# 备注：只加注释\n")
    expect(status).to_contain_text("标准有效")
    page.get_by_test_id("run-preview").click()
    teams = page.get_by_test_id("preview-teams")
    expect(teams).to_contain_text("华东一组", timeout=30_000)
    expect(teams).to_contain_text("Σ")
    field(page, "standards-note").fill("只加注释")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "standards-editor.png"), full_page=True)
    page.get_by_test_id("save-standards").click()
    expect(page.get_by_test_id("active-version")).to_contain_text("第 2 版", timeout=10_000)
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        saved = session.scalars(select(StandardVersion).where(StandardVersion.active.is_(True))).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "standards.saved")).one()
    engine.dispose()
    assert saved.note == "只加注释" and saved.author_id is not None
    assert "+# 备注：只加注释" in entry.payload["diff"]


def test_the_checklist_under_a_lead_and_a_deal(server: Server, page: Page) -> None:
    lead_id, deal_id = _ids(server.db_url)
    sign_in(page, server.base, "zhangwei")
    page.goto(f"{server.base}/leads/{lead_id}")
    checklist = page.get_by_test_id("stage-checklist")
    expect(checklist).to_contain_text("初次接触")
    expect(checklist.get_by_test_id("checklist-status")).to_have_text("已超期")
    expect(checklist.get_by_test_id("checklist-deadline")).to_have_class(re.compile("text-negative"))
    expect(checklist.locator('[data-testid="checklist-line"][data-done="True"]')).to_have_count(2)
    expect(checklist.locator('[data-testid="checklist-line"][data-done="False"]')).to_contain_text("缺失")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "standards-lead-checklist.png"), full_page=True)
    page.goto(f"{server.base}/opportunities/{deal_id}")
    checklist = page.get_by_test_id("stage-checklist")
    expect(checklist).to_contain_text("需求分析")
    expect(checklist.get_by_test_id("checklist-status")).to_have_text("待处理")
    expect(checklist.locator('[data-testid="checklist-line"][data-done="True"]')).to_contain_text("张伟")
    expect(checklist.locator('[data-testid="checklist-line"][data-done="False"]')).to_contain_text("附方案邮件")
