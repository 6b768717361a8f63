"""Notifications in a real browser: the bell and the inbox, acknowledging by opening the lead, personal
settings (own addresses, never URLs) refused with the reason, and the ops page with its figures and a dead
letter retried."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Lead, Notification, NotificationStatus, User
from evenhand.notify import service
from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_leads_pages import field
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _user(session: object, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))  # type: ignore[attr-defined]
    assert user is not None
    return user


def test_a_rep_sees_the_bell_opens_the_lead_and_it_is_acknowledged(server: Server, page: Page) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        rep = _user(session, "xiaochen")
        lead = session.scalar(select(Lead).where(Lead.company == "杭州新零售科技"))
        assert lead is not None
        lead_msg = service.lead_assigned(session, lead, rep.id, decision_id=None)
        alert = service.send(session, recipient_id=rep.id, kind="alert", title=N_("Leads"), key="e2e-alert")
        lead_id, lead_msg_id, alert_id = lead.id, lead_msg.id, alert.id
    sign_in(page, server.base, "xiaochen")
    expect(page.get_by_test_id("unread-count")).to_have_text(re.compile(r"^[1-9]\d*$"))
    page.get_by_test_id("inbox-bell").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    expect(page.get_by_test_id(f"message-{lead_msg_id}")).to_contain_text("新线索：杭州新零售科技")
    page.get_by_test_id(f"open-{lead_msg_id}").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead_id}$"))
    expect(page.get_by_test_id("lead-facts")).to_be_visible()
    with session_scope(engine, readonly=True) as session:
        message = session.get(Notification, lead_msg_id)
        assert message is not None and message.acknowledged_at is not None and message.escalate_at is None
    page.goto(f"{server.base}/notifications")
    expect(page.get_by_test_id(f"message-{lead_msg_id}")).to_contain_text("已确认")
    page.get_by_test_id(f"ack-{alert_id}").click()
    expect(page.get_by_test_id(f"message-{alert_id}")).to_contain_text("已确认")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
    page.get_by_test_id("read-all").click()
    # at once, not at the next of the bell's refreshes (every 15 s)
    expect(page.get_by_test_id("unread-count")).to_be_hidden(timeout=3_000)
    engine.dispose()


def test_settings_that_cannot_reach_the_rep_or_name_a_url_are_refused_with_the_reason(server: Server,
                                                                                       page: Page) -> None:
    sign_in(page, server.base, "zhangwei")
    page.goto(f"{server.base}/notifications/settings")
    expect(page.get_by_test_id("personal-webhook")).to_have_count(0)  # where a webhook goes is for ops to say
    page.get_by_test_id("channel-sms").click()
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text("channels.0")  # no SMS channel serves him
    page.get_by_test_id("channel-sms").click()
    field(page, "personal-sms").fill("json://127.0.0.1:9/sms?:to={phone}")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text("personal.sms")
    expect(page.get_by_test_id("settings-error")).to_contain_text("URL")
    field(page, "personal-sms").fill("13900000009")
    field(page, "personal-dingtalk").fill("zhangwei01")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    expect(page.get_by_test_id("settings-error")).to_have_text("")


def test_ops_page_shows_figures_and_retries_a_dead_letter(server: Server, page: Page) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        boss = _user(session, "wangqiang")
        message = service.send(session, recipient_id=boss.id, kind="alert", title=N_("Leads"), key="e2e-dead")
        session.add(Notification(kind="alert", recipient_id=boss.id, channel=Channel.WEBHOOK,
                                 status=NotificationStatus.FAILED, idempotency_key=f"m{message.id}.s0.webhook.x",
                                 message_id=message.id, target="json://127.0.0.1:9/hook", target_key="x",
                                 attempts=6, last_error="HTTP 500", title=message.title, created_at=utcnow()))
        dead_id = message.id
    sign_in(page, server.base, "admin")
    page.locator('[data-nav="/notifications/ops"]').click()
    expect(page).to_have_url(re.compile(r"/notifications/ops$"))
    expect(page.get_by_test_id("figures-channel")).to_contain_text("Webhook")
    expect(page.get_by_test_id("policies")).to_contain_text("新线索")
    expect(page.get_by_test_id("delivery-series")).to_be_visible()
    expect(page.get_by_test_id(f"dead-{dead_id}")).to_contain_text("HTTP 500")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notification-ops.png"), full_page=True)
    page.get_by_test_id(f"retry-{dead_id}").click()
    expect(page.get_by_test_id(f"dead-{dead_id}")).to_have_count(0)
    with session_scope(engine, readonly=True) as session:
        retried = session.scalar(select(Notification).where(Notification.message_id == dead_id))
        assert retried is not None and retried.status is NotificationStatus.PENDING
    field(page, "channel-name").fill("坏地址")
    field(page, "channel-url").fill("dingtalk://")
    page.get_by_test_id("add-channel").click()
    expect(page.get_by_test_id("channel-error")).to_contain_text("Apprise")
    field(page, "channel-url").fill("dingtalk://SECgroup@teamrobottoken/")
    page.get_by_test_id("add-channel").click()
    expect(page.get_by_test_id("channels")).to_contain_text("坏地址")
    engine.dispose()
