"""A rep's routing settings from the Admin page, in a real browser: caps and working hours saved (or refused
naming the day), leave recorded and cancelled — and routing honouring it — and a departure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from evenhand.auth.service import create_token
from evenhand.config import get_settings
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Leave, ProductLine, Region, Role, Team, User
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def field(dialog: Locator, attribute: str, value: str) -> Locator:
    """The text box of a form field (Quasar puts the attribute on the box itself)."""
    return dialog.locator(f'input[{attribute}="{value}"], [{attribute}="{value}"] input').first


def stored(server: Server) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        user = session.scalars(select(User).where(User.username == "sunfang")).one()
        row = {"daily_lead_cap": user.daily_lead_cap, "product_lines": org_service.product_lines(session, user.id),
               "working_hours": user.working_hours, "active": user.active,
               "left_on": user.left_on, "skills": list(user.skills or [])}
        leaves = [(x.starts_on.isoformat(), x.ends_on.isoformat()) for x in
                  session.scalars(select(Leave).where(Leave.user_id == user.id))]
    engine.dispose()
    return row, leaves


def route_one(server: Server, external_id: str) -> dict[str, str]:
    """A lead through the API; the decision's verdict for each rep considered, by username."""
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        token, _ = create_token(session, username="admin", role=Role.ADMIN)
        names = {u.id: u.username for u in session.scalars(select(User))}
    engine.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{server.base}/api/v1/leads", headers=auth, json={
        "source": "website", "external_id": external_id, "company": "无锡顺达五金有限公司", "region": "east"})
    assert created.status_code == 201, created.text
    decision = httpx.get(f"{server.base}/api/v1/routing/decisions/{created.json()['assignment']['decision_id']}",
                         headers=auth).json()
    return {names[v["rep_id"]]: v["code"] for v in decision["verdicts"]}


def test_ops_sets_caps_hours_and_leave_and_routing_follows(server: Server, page: Page) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        team = session.scalars(select(Team).where(Team.name == "华南一组")).one()
        east = session.scalars(select(Region.id).where(Region.code == "east")).one()  # a member of east leads' pool
        org_service.create_user(session, UserCreate(username="sunfang", display_name="孙芳", role=Role.REP,
                                                    team_id=team.id, region_id=east, password=PASSWORD), actor=None)
        session.add_all([ProductLine(code="crm", name="客户管理云"), ProductLine(code="erp", name="企业资源云")])
    engine.dispose()
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/admin")
    page.locator('[data-rep="sunfang"]').click()
    dialog = page.get_by_test_id("rep-settings")
    expect(dialog).to_contain_text("分配设置：孙芳 (sunfang)")

    # a span that is not one is refused naming its day, and nothing is saved
    field(dialog, "data-field", "daily_lead_cap").fill("3")
    field(dialog, "data-day", "mon").fill("9-18")
    dialog.get_by_test_id("save-rep").click()
    expect(dialog.get_by_test_id("rep-problem")).to_contain_text("周一")
    assert stored(server)[0]["daily_lead_cap"] != 3

    field(dialog, "data-day", "mon").fill("09:00-12:00, 13:00-18:00")
    field(dialog, "data-day", "fri").fill("22:00-06:00")  # a night shift into Saturday
    dialog.get_by_role("combobox", name="产品线").click()
    page.get_by_role("option", name="企业资源云").click()
    page.keyboard.press("Escape")
    dialog.get_by_test_id("save-rep").click()
    expect(page.get_by_text("已保存孙芳的分配设置。")).to_be_visible()
    row, _ = stored(server)
    assert row["daily_lead_cap"] == 3 and row["product_lines"] == ["erp"]
    assert row["working_hours"] == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "fri": [["22:00", "06:00"]],
                                    **{day: [["09:00", "18:00"]] for day in ("tue", "wed", "thu")},  # as they were
                                    "sat": [], "sun": []}

    # leave recorded here keeps the rep out of routing for its days
    today = utcnow().astimezone(get_settings().zone).date()
    field(dialog, "data-field", "starts_on").fill(today.isoformat())
    field(dialog, "data-field", "ends_on").fill((today + timedelta(days=2)).isoformat())
    field(dialog, "data-field", "reason").fill("年假")
    dialog.get_by_test_id("add-leave").click()
    expect(dialog.get_by_test_id("rep-leaves")).to_contain_text("年假")
    assert stored(server)[1] == [(today.isoformat(), (today + timedelta(days=2)).isoformat())]
    assert route_one(server, "LEAVE-1")["sunfang"] == "on_leave"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rep-settings.png"), full_page=True)

    dialog.get_by_role("button", name="取消这次请假").click()
    expect(dialog.get_by_test_id("rep-leaves")).to_contain_text("当前及之后没有请假。")
    assert stored(server)[1] == []
    assert route_one(server, "LEAVE-2")["sunfang"] != "on_leave"

    # a departure takes a second click, and the rep is never a candidate again
    dialog.get_by_test_id("depart").click()
    expect(dialog.get_by_test_id("depart")).to_contain_text("再次点击以确认")
    assert stored(server)[0]["active"] is True
    dialog.get_by_test_id("depart").click()
    expect(dialog.get_by_test_id("rep-departed")).to_contain_text(today.isoformat())
    row, _ = stored(server)
    assert row["active"] is False and row["left_on"] == today
    assert route_one(server, "LEAVE-3")["sunfang"] == "departed"


def test_a_supervisor_records_leave_for_the_team_but_not_the_settings(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.locator('[data-rep="zhangwei"]').click()
    dialog = page.get_by_test_id("rep-settings")
    expect(dialog).to_contain_text("这些设置只能由销售运营修改。")
    expect(dialog.get_by_test_id("save-rep")).to_have_count(0)
    expect(field(dialog, "data-field", "daily_lead_cap")).to_be_disabled()
    field(dialog, "data-field", "starts_on").fill("2030-02-04")
    field(dialog, "data-field", "ends_on").fill("2030-02-01")
    dialog.get_by_test_id("add-leave").click()
    expect(dialog.get_by_test_id("leave-problem")).to_contain_text("请假结束日期早于开始日期")
    field(dialog, "data-field", "ends_on").fill("2030-02-08")
    dialog.get_by_test_id("add-leave").click()
    expect(dialog.get_by_test_id("rep-leaves")).to_contain_text("2030-02-04 – 2030-02-08")
    dialog.get_by_role("button", name="取消这次请假").click()
    expect(dialog.get_by_test_id("rep-leaves")).to_contain_text("当前及之后没有请假。")
