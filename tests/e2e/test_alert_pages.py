"""The alert inbox in a real browser: the supervisor 王强 finds 陈小雨's deal gone quiet, acknowledges it, comments and
snoozes it with a reason until a time; 陈小雨 sees the alert on her own deal without the supervisor's buttons; the
rules editor names a CEL error and its line as it is typed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.alerts import service
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import local, utcnow
from evenhand.models import Alert, AlertAction, AlertStatus, Opportunity, Stage, User
from tests.e2e.conftest import Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DEAL = "华东制造 ERP 升级"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The browser tests' company, where 陈小雨 (华东一组, supervised by 王强) has not touched a deal in proposal for
    twelve days; the scan has raised its alert."""
    data: Path = tmp_path_factory.mktemp("alerts-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        rep = session.scalars(select(User).where(User.username == "xiaochen")).one()
        session.add(Opportunity(name=DEAL, owner_id=rep.id, stage=Stage.PROPOSAL,
                                created_at=utcnow() - timedelta(days=12)))
        session.flush()
        service.scan(session)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _stale(server: Server) -> Alert:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        alert = session.scalars(select(Alert).where(Alert.rule == "stale_opportunity")).one()
    engine.dispose()
    return alert


def test_the_rep_sees_the_alert_on_her_deal_without_the_supervisors_buttons(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.locator('[data-nav="/alerts"]').click()
    card = page.locator('[data-rule="stale_opportunity"]')
    expect(card).to_have_count(1)
    expect(card).to_contain_text("商机长时间未更新")
    expect(card).to_contain_text(DEAL)
    expect(card.get_by_test_id("acknowledge")).to_be_visible()
    expect(card.get_by_test_id("snooze")).to_have_count(0)
    expect(card.get_by_test_id("resolve")).to_have_count(0)


def test_the_supervisor_acknowledges_comments_and_snoozes_with_a_reason(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/alerts")
    card = page.locator('[data-rule="stale_opportunity"]')
    expect(card).to_contain_text("陈小雨")
    expect(card.get_by_test_id("alert-facts")).to_contain_text("距上次更新的天数")
    card.get_by_test_id("acknowledge").click()
    expect(page.get_by_text("预警已确认。")).to_be_visible()
    expect(card.get_by_test_id("alert-status")).to_have_attribute("data-status", "acknowledged")

    comment = card.locator('[data-testid="alert-comment"] input, input[data-testid="alert-comment"]').first
    comment.fill("客户在做内部评审，下周一回复")
    card.get_by_test_id("comment").click()
    expect(page.get_by_text("评论已添加。")).to_be_visible()

    until = local(utcnow() + timedelta(days=3), service.standards.get_settings().zone)
    comment = card.locator('[data-testid="alert-comment"] input, input[data-testid="alert-comment"]').first
    comment.fill("等客户评审结果")
    card.locator('[data-testid="alert-until"] input, input[data-testid="alert-until"]').first.fill(
        until.strftime("%Y-%m-%dT%H:%M"))
    card.get_by_test_id("snooze").click()
    expect(page.get_by_text("预警已暂缓。")).to_be_visible()
    expect(page.locator('[data-rule="stale_opportunity"]')).to_have_count(0)

    alert = _stale(server)
    assert alert.status is AlertStatus.SNOOZED and alert.snoozed_until is not None
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        done = [(a.action, a.comment) for a in session.scalars(
            select(AlertAction).where(AlertAction.alert_id == alert.id).order_by(AlertAction.id))]
    engine.dispose()
    assert done == [("acknowledged", ""), ("commented", "客户在做内部评审，下周一回复"), ("snoozed", "等客户评审结果")]
    page.goto(f"{server.base}/alerts/{alert.id}")
    expect(page.get_by_test_id("alert-actions")).to_contain_text("等客户评审结果")
    expect(page.get_by_test_id("alert-actions")).to_contain_text("已暂缓")


def test_the_rules_editor_names_a_cel_error_and_its_line(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/alerts/rules")
    expect(page.get_by_test_id("rules-status")).to_have_text("规则有效。")
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\n  - id: broken\n    label: 坏规则\n    entity: lead\n    when: days_since_update >=\n")
    expect(page.get_by_test_id("rules-status")).to_have_text("1 处问题")
    expect(page.get_by_test_id("rules-problems")).to_contain_text("rules.6.when")
    expect(page.get_by_test_id("rules-problems")).to_contain_text("CEL")
    expect(page.get_by_test_id("save-rules")).to_be_disabled()
