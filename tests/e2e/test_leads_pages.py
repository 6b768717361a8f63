"""Leads and scoring in a real browser: the list, one lead's explained score, editing the rule model."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from evenhand.models import Role
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def field(page: Page, test_id: str) -> Locator:
    """A text field by test id, whether Quasar put the attribute on the wrapper or on the input itself."""
    return page.locator(f'[data-testid="{test_id}"] input, input[data-testid="{test_id}"]').first


def test_supervisor_sees_team_leads_and_reads_why_a_lead_scored(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/leads")
    expect(page.get_by_text("苏州精密制造有限公司")).to_be_visible()
    expect(page.get_by_text("杭州新零售科技")).to_be_visible()
    expect(page.get_by_text("广州物流集团")).to_have_count(0)  # another team's lead
    field(page, "lead-search").fill("精密")
    expect(page.get_by_text("杭州新零售科技")).to_have_count(0)
    page.get_by_text("苏州精密制造有限公司").click()
    expect(page).to_have_url(re.compile(r"/leads/\d+$"))
    explanation = page.get_by_test_id("score-explanation")
    expect(explanation).to_contain_text("行业：制造业")
    expect(explanation).to_contain_text("下载白皮书")
    expect(page.get_by_test_id("behaviour-timeline")).to_contain_text("下载白皮书")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lead-detail.png"), full_page=True)


def test_ops_edits_the_rule_model_with_inline_errors_preview_and_save(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/scoring")
    expect(page.get_by_test_id("model-status")).to_contain_text("模型有效")
    editor = page.get_by_test_id("model-editor").locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nbogus_key: 1\n")
    expect(page.get_by_test_id("model-status")).to_contain_text("处问题")
    expect(page.get_by_test_id("model-problems")).to_contain_text("bogus_key")
    expect(page.get_by_test_id("save-model")).to_be_disabled()
    for _ in range(len("bogus_key: 1\n")):
        page.keyboard.press("Backspace")
    expect(page.get_by_test_id("model-status")).to_contain_text("模型有效")
    page.get_by_test_id("preview-model").click()
    # other browser tests add leads to the shared server, so the count varies; a blank-line edit changes no score
    expect(page.get_by_test_id("preview-summary")).to_contain_text(re.compile(r"最近 30 天的 \d+ 条线索"))
    expect(page.get_by_test_id("preview-summary")).to_contain_text("0 条评分发生变化")
    field(page, "model-note").fill("仅格式调整")
    page.get_by_test_id("save-model").click()
    expect(page.get_by_test_id("active-version")).to_contain_text("第 2 版", timeout=10_000)


def test_a_rep_reads_why_a_lead_went_elsewhere(server: Server, page: Page) -> None:
    """A routed lead: the feed lists it, the decision page explains the winner and, to a rep who was
    considered, only that rep's own verdict."""
    import httpx

    from evenhand.auth.service import create_token
    from evenhand.db import make_engine, session_scope

    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        token, _ = create_token(session, username="admin", role=Role.ADMIN)
    engine.dispose()
    created = httpx.post(f"{server.base}/api/v1/leads", headers={"Authorization": f"Bearer {token}"}, json={
        "source": "website", "external_id": "ROUTE-1", "company": "无锡精密机械有限公司", "region": "east"}).json()
    decision_id = created["assignment"]["decision_id"]
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/routing")
    expect(page.get_by_test_id("decision-feed")).to_contain_text("无锡精密机械有限公司")
    expect(page.get_by_test_id("decision-feed")).to_contain_text("中小企业部（其余线索）")  # the pool by its label
    page.get_by_test_id("decision-feed").get_by_role("link", name="无锡精密机械有限公司").click()
    expect(page).to_have_url(re.compile(rf"/routing/decisions/{decision_id}$"))
    expect(page.get_by_test_id("decision-summary")).to_contain_text("无锡精密机械有限公司")
    expect(page.get_by_test_id("decision-summary")).to_contain_text("线索池 中小企业部（其余线索）")
    expect(page.get_by_test_id("verdicts")).to_contain_text("张伟")


def test_ops_sees_the_holding_queue_and_routes_it_again(server: Server, page: Page) -> None:
    """A lead nobody in its pool can take waits on the routing page; once a rep is there, "Route them now"
    gives it to them (the worker would within a minute)."""
    import httpx
    from sqlalchemy import select, update

    from evenhand.auth.service import create_token
    from evenhand.db import make_engine, session_scope
    from evenhand.models import Lead, Presence, Region, RoutingDecision, Team, User
    from evenhand.org import service as org_service
    from evenhand.org.schemas import UserCreate

    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        north = Region(code="north", name="华北")
        session.add(north)
        session.flush()
        team = session.scalars(select(Team).where(Team.name == "华南一组")).one()
        rep = org_service.create_user(session, UserCreate(username="zhoumin", display_name="周敏", team_id=team.id,
                                                          region_id=north.id), actor=None)
        rep.working_hours, rep_id = {}, rep.id
        token, _ = create_token(session, username="admin", role=Role.ADMIN)
    created = httpx.post(f"{server.base}/api/v1/leads", headers={"Authorization": f"Bearer {token}"}, json={
        "source": "website", "external_id": "HELD-1", "company": "天津北辰机电有限公司", "region": "north"}).json()
    assert created["assignment"]["outcome"] == "held"  # 周敏 is offline, and nobody else sells in the north

    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/routing")
    queue = page.get_by_test_id("holding-queue")
    expect(queue).to_contain_text("天津北辰机电有限公司")
    expect(queue).to_contain_text("中小企业部（其余线索）")
    with session_scope(engine) as session:  # online without the presence flow, which would release it at once
        session.execute(update(User).where(User.id == rep_id).values(presence=Presence.ONLINE))
    page.get_by_test_id("release-held").click()
    expect(page.get_by_text("条在等待。")).to_be_visible()  # other tests' leads may still wait (outside hours)
    expect(page.get_by_test_id("holding-queue").or_(page.get_by_text("等待队列：0 条线索在等待"))).not_to_contain_text(
        "天津北辰机电有限公司")
    with session_scope(engine, readonly=True) as session:
        lead = session.scalars(select(Lead).where(Lead.external_id == "HELD-1")).one()
        kinds = session.scalars(select(RoutingDecision.kind).where(RoutingDecision.lead_id == lead.id)).all()
        assert lead.owner_id == rep_id and list(kinds) == ["intake", "release"]
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == rep_id).values(presence=Presence.OFFLINE))
    engine.dispose()


def test_a_rep_disqualifies_a_lead_with_a_reason_and_then_records_it_converted(server: Server, page: Page) -> None:
    """The outcome card on a lead's page: disqualified with the reason typed beside the button, then corrected."""
    import httpx

    from evenhand.auth.service import create_token
    from evenhand.db import make_engine, session_scope

    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        token, _ = create_token(session, username="admin", role=Role.ADMIN)
    engine.dispose()
    created = httpx.post(f"{server.base}/api/v1/leads", headers={"Authorization": f"Bearer {token}"}, json={
        "source": "website", "external_id": "OUTCOME-1", "company": "常州结果测试有限公司", "region": "east"}).json()
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/leads/{created['id']}")
    card = page.get_by_test_id("lead-outcome")
    expect(card).to_contain_text("尚未有结果")
    field(page, "disqualify-reason").fill("预算不足")
    page.get_by_test_id("mark-disqualified").click()
    expect(page.get_by_test_id("outcome-text")).to_contain_text("已淘汰", timeout=10_000)
    expect(card).to_contain_text("原因：预算不足")
    page.get_by_test_id("mark-converted").click()
    expect(page.get_by_test_id("outcome-text")).to_contain_text("已转化", timeout=10_000)
    response = httpx.get(f"{server.base}/api/v1/leads/{created['id']}", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["status"] == "converted" and response.json()["disqualify_reason"] is None
