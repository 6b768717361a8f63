"""The web shell in a real browser: sign in, see your team, switch language, sign out."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))


def test_supervisor_signs_in_sees_team_and_switches_language(server: Server, page: Page) -> None:
    page.goto(f"{server.base}/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("用户名")).to_be_visible()

    sign_in(page, server.base, "wangqiang")
    expect(page.get_by_test_id("whoami")).to_contain_text("王强")
    team = page.locator('[data-team="华东一组"]')
    expect(team).to_contain_text("陈小雨")
    expect(team).to_contain_text("张伟")
    expect(team).to_contain_text("新人")
    expect(team.locator(".presence-online")).to_have_count(1)
    expect(page.locator('[data-team="华南一组"]')).to_have_count(0)  # not his team
    expect(page.locator('[data-nav="/leads"]')).to_contain_text("线索")

    page.locator('[data-locale="en"]').first.click()
    expect(page.locator('[data-nav="/leads"]')).to_contain_text("Leads")
    expect(page.locator('[data-team="华东一组"]')).to_contain_text("Junior")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervisor-home-en.png"), full_page=True)

    page.locator('[data-locale="zh-CN"]').first.click()
    expect(page.locator('[data-nav="/leads"]')).to_contain_text("线索")
    page.screenshot(path=str(ARTIFACTS / "supervisor-home-zh.png"), full_page=True)


def test_wrong_password_is_refused_with_a_message(server: Server, page: Page) -> None:
    page.goto(f"{server.base}/login")
    page.locator('input[name="username"]').fill("wangqiang")
    page.locator('input[name="password"]').fill("not-the-password")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")


def test_rep_sets_presence_and_signs_out(server: Server, page: Page) -> None:
    sign_in(page, server.base, "zhangwei")
    page.get_by_test_id("presence").get_by_text("在线").click()
    expect(page.locator('[data-team="华东一组"] .presence-online')).to_have_count(2, timeout=10_000)
    page.get_by_label("Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto(f"{server.base}/admin")
    expect(page).to_have_url(re.compile(r"/login"))


def test_admin_adds_a_rep_and_sees_field_errors(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/admin")
    expect(page.locator('[data-team="华南一组"]')).to_be_visible()  # admin sees every team
    page.get_by_test_id("new-user").click()
    page.locator('[data-field="username"] input, input[data-field="username"]').first.fill("bad name!")
    page.locator('[data-field="display_name"] input, input[data-field="display_name"]').first.fill("周杰")
    page.get_by_test_id("save-user").click()
    expect(page.get_by_role("alert")).to_contain_text("username")

    page.locator('[data-field="username"] input, input[data-field="username"]').first.fill("zhoujie")
    page.get_by_role("combobox", name="团队").click()
    page.get_by_role("option", name="华南一组").click()
    page.get_by_test_id("save-user").click()
    expect(page.locator('[data-team="华南一组"]')).to_contain_text("周杰 (zhoujie)", timeout=10_000)


def test_ops_grants_the_key_account_right_from_the_admin_page(server: Server, page: Page) -> None:
    from sqlalchemy import select

    from evenhand.db import make_engine, session_scope
    from evenhand.models import User, UserGrant

    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/admin")
    switch = page.locator('[data-grant-user="xiaochen"]')
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.get_by_text("陈小雨").click()
    expect(page.get_by_text("已授予大客户授权。")).to_be_visible()
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        granted = session.scalars(select(User.username).join(UserGrant, UserGrant.user_id == User.id)
                                  .where(UserGrant.grant == "key_account")).all()
    engine.dispose()
    assert granted == ["xiaochen"]
    page.reload()
    expect(page.locator('[data-grant-user="xiaochen"]')).to_have_attribute("aria-checked", "true")


def test_a_signed_out_visit_signs_in_and_comes_back_to_the_very_page(server: Server, page: Page) -> None:
    """Every page sends a visitor who is not signed in to sign in, and back to the URL asked for, its query
    included (``web.context.page``)."""
    page.goto(f"{server.base}/notifications/settings?from=mail")
    expect(page).to_have_url(re.compile(r"/login\?next=/notifications/settings%3Ffrom%3Dmail$"))
    page.locator('input[name="username"]').fill("zhangwei")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(f"{server.base}/notifications/settings?from=mail")
    expect(page.get_by_test_id("quiet-start")).to_be_visible()


def test_the_way_back_is_kept_as_text_on_the_sign_in_page(server: Server, page: Page) -> None:
    """A quote in the way back ends nothing: it stays in the hidden field's value and adds no attribute."""
    page.goto(f"{server.base}/login?next=" + quote('/leads" data-evil="1'))
    expect(page.locator('input[name="next"]')).to_have_value('/leads" data-evil="1')
    expect(page.locator("[data-evil]")).to_have_count(0)
