"""The incentives page in a real browser: a supervisor reads who holds which grant last month earned and replays a
lower gold tier on the key-account pool (zh-CN); a rep reads their own grants (en)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Account, Complaint, Presence, Role, User
from evenhand.performance import document, service
from evenhand.performance.period import containing
from evenhand.routing import policy_versions
from tests.e2e.conftest import Server, _seed, seed_leads, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
POLICY = """
name: 测试策略
threshold_high_value: 80
pools:
  - id: key_accounts
    condition: 'lead.company_size != null && lead.company_size >= 300'
    key_account: true
    members: {regions: [east]}
  - id: smb
    members: {regions: [east]}
"""
TEMPLATES = """
name: 投诉越少越好
metrics:
  complaints: {target: 0, zero: 5}
templates:
  - key: everyone
    label: {zh-CN: 全员, en: Everyone}
    weights:
      junior: {complaints: 1}
      senior: {complaints: 1}
tiers:
  - key: gold
    label: {zh-CN: 金牌, en: Gold}
    min: 85
    grants: [key_account, training_priority, promotion_list]
  - key: silver
    label: {zh-CN: 银牌, en: Silver}
    min: 70
    grants: [training_priority]
"""
COMPLAINTS = {"zhangwei": 0, "xiaochen": 1, "lihua": 3}  # 100 (gold), 80 (silver), 40 (no tier)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Last month closed through the service under templates that score complaints alone: 张伟 gold (every grant),
    陈小雨 silver (training priority), 李华 no tier; a policy whose key-account pool takes the east's reps, and the
    key-account leads of today."""
    data: Path = tmp_path_factory.mktemp("incentives-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        policy_versions.save(session, POLICY, author=None, note="e2e")
        ops = Principal(user_id=0, username="e2e", display_name="e2e", role=Role.ADMIN, via="system")
        document.save(session, TEMPLATES, author=None, note="e2e")
        users = {u.username: u for u in session.scalars(select(User))}
        for name in ("zhangwei", "xiaochen"):  # online all along, at any hour: the replay's leads find them
            users[name].presence, users[name].presence_since = Presence.ONLINE, utcnow() - timedelta(days=60)
            users[name].working_hours = {}
        period = containing(utcnow().date()).previous()
        account = Account(name="苏州精密制造")
        session.add(account)
        session.flush()
        at = datetime.combine(period.starts_on, time(4), tzinfo=UTC) + timedelta(days=3)
        session.add_all([Complaint(account_id=account.id, rep_id=users[name].id, received_at=at + timedelta(hours=n))
                         for name, count in COMPLAINTS.items() for n in range(count)])
        session.flush()
        service.close(session, period, actor=ops)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def test_a_supervisor_reads_the_grants_and_replays_a_lower_gold_tier(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/performance/incentives")
    key_account = page.locator('[data-grant="key_account"]')
    expect(key_account).to_contain_text("大客户线索池")
    expect(key_account).to_contain_text("张伟")
    expect(key_account).to_contain_text("金牌")
    expect(key_account.locator('[data-status="held"]')).to_have_count(1)
    expect(key_account).not_to_contain_text("陈小雨")
    training = page.locator('[data-grant="training_priority"]')
    expect(training).to_contain_text("陈小雨")
    expect(training).to_contain_text("银牌")
    expect(page.locator('[data-grant="promotion_list"]')).to_contain_text("张伟")
    body = page.locator('[data-testid="whatif-body"] textarea, textarea[data-testid="whatif-body"]').first
    body.fill(body.input_value().replace("min: 85", "min: 75"))
    page.get_by_test_id("whatif-run").click()
    table = page.get_by_test_id("whatif-table")
    expect(table).to_be_visible(timeout=20_000)
    before = table.locator("tr").filter(has_text="张伟").locator("td")
    after = table.locator("tr").filter(has_text="陈小雨").locator("td")
    expect(before).to_have_text(["张伟", "是", "是", "3", "1", "100%", "33%"])  # round robin: 张伟, 陈小雨, 张伟
    expect(after).to_have_text(["陈小雨", "否", "是", "0", "2", "0%", "67%"])
    expect(page.get_by_test_id("whatif-summary")).to_contain_text("共 3 条大客户线索")
    page.screenshot(path=str(Path(__file__).resolve().parents[1] / "artifacts" / "incentives-zh.png"), full_page=True)
    body.fill("name: 只有名字\n")
    page.get_by_test_id("whatif-run").click()
    expect(page.get_by_test_id("whatif-error")).to_contain_text("考核模板在")


def test_a_rep_reads_only_their_own_grants_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/performance/incentives")
    page.locator('[data-locale="en"]').click()
    training = page.locator('[data-grant="training_priority"]')
    expect(training).to_contain_text("Training priority")
    expect(training).to_contain_text("陈小雨")
    expect(training).to_contain_text("Silver")
    expect(training).to_contain_text("Held")
    expect(training).not_to_contain_text("张伟")
    expect(page.locator('[data-grant="key_account"]')).to_contain_text("Nobody earned it in")
    expect(page.get_by_test_id("whatif-run")).to_have_count(0)
