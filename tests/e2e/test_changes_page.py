"""The change registry in a real browser, in Chinese and English: sales ops find the CRM upgrade among the
registry's changes (a saved stage standard recorded by itself beside it), fill its impact checklist and monitors
while the release button stays disabled and says what is missing, release it, and roll another one back with a
reason; the supervisor reads without the form; a rep is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from evenhand.db import make_engine, session_scope
from evenhand.models import ChangeEntry, ChangeStatus, Role
from evenhand.monitor import changes
from evenhand.monitor.change_schemas import ChangeCreate
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from evenhand.standards import service as standards_service
from tests.e2e.conftest import PASSWORD, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CRM = "CRM 升级 v3.2 / 移动端推送组件更新"
APP = "移动端 App 3.2.0 发布"
ANSWERS = {"user_change": "商机看板新增筛选项；推送组件更新", "business_metrics": "首次响应、线索转化",
           "affected_scope": "安卓与 iOS 的 App 用户", "watch_plan": "首响 P90 超过 4 小时告警",
           "rollback_plan": "回滚到 v3.1 与旧推送组件", "follow_up_owner": "李娜"}


@pytest.fixture(scope="module")
def ids() -> dict[str, int]:
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ids: dict[str, int]) -> Iterator[Server]:
    """The browser tests' company with sales ops 李娜, a planned CRM upgrade that declares first response, a
    released app version, and a stage standard saved with a note."""
    data: Path = tmp_path_factory.mktemp("changes-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        org_service.create_user(session, UserCreate(username="lina", display_name="李娜", role=Role.OPS,
                                                    password=PASSWORD), actor=None)
        crm = changes.add(session, ChangeCreate(title=CRM, kind="release", system="crm", affected_metrics=[
            "first_response_p90", "crm_availability"], effective_at="2026-08-15T22:00:00+08:00"), actor=None)
        app = changes.add(session, ChangeCreate(title=APP, kind="release", system="mobile_app", checklist=ANSWERS,
                                                monitors=[{"kpi": "notification_delivery"}],
                                                effective_at="2026-08-17T10:00:00+08:00"), actor=None)
        changes.release(session, app.id, actor=None)
        standards_service.save(session, standards_service.STANDARDS.active(session).body + "\n#\n", author=None,
                               note="首次联系时限改为 4 小时")
        ids.update(crm=crm.id, app=app.id)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _status(server: Server, change_id: int) -> ChangeStatus:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        entry = session.get(ChangeEntry, change_id)
        assert entry is not None
        found = entry.status
    engine.dispose()
    return found


def _answer(page: Page, key: str, text: str) -> None:
    page.locator(f'[data-testid="answer-{key}"] textarea, textarea[data-testid="answer-{key}"]').first.fill(text)


def test_ops_fill_the_checklist_and_release_once_nothing_is_missing(server: Server, page: Page,
                                                                    ids: dict[str, int]) -> None:
    sign_in(page, server.base, "lina")
    page.goto(f"{server.base}/monitor/changes")
    expect(page.locator("[data-change]")).to_have_count(3)
    expect(page.locator("[data-change]").first).to_contain_text("阶段动作标准")  # the newest: the saved standard
    crm = page.locator(f'[data-change="{ids["crm"]}"]')
    expect(crm).to_contain_text("计划中")
    expect(crm).to_contain_text("发布前还缺 8 项")
    crm.get_by_role("link", name=CRM).click()

    release, missing = page.get_by_test_id("release-change"), page.get_by_test_id("release-missing")
    expect(release).to_be_disabled()
    expect(missing).to_contain_text("尚未回答：如何回滚？")
    expect(missing).to_contain_text("first_response_p90 是一个 KPI，请为它添加监控")
    for key, text in ANSWERS.items():
        _answer(page, key, text)
    expect(missing).not_to_contain_text("尚未回答")
    expect(release).to_be_disabled()  # still no monitor
    page.get_by_test_id("change-monitors").click()
    page.get_by_role("option", name="首次响应时长（P90） (first_response_p90)").click()
    page.keyboard.press("Escape")
    line = page.locator('[data-monitor="first_response_p90"]')
    line.locator('[data-testid="line-above"] input, input[data-testid="line-above"]').first.fill("4")
    expect(missing).to_have_text("")
    expect(release).to_be_enabled()
    _answer(page, "rollback_plan", "")
    expect(release).to_be_disabled()
    expect(missing).to_contain_text("尚未回答：如何回滚？")
    _answer(page, "rollback_plan", ANSWERS["rollback_plan"])
    release.click()
    expect(page.get_by_text("变更已发布。")).to_be_visible()
    expect(page.get_by_test_id("change-status")).to_have_attribute("data-status", "released")
    expect(page.get_by_test_id("change-said")).to_contain_text("高于 4.0 告警")
    expect(page.get_by_test_id("change-history")).to_contain_text("已发布")
    assert _status(server, ids["crm"]) is ChangeStatus.RELEASED


def test_ops_roll_back_a_released_change_with_a_reason(server: Server, page: Page, ids: dict[str, int]) -> None:
    sign_in(page, server.base, "lina")
    page.goto(f"{server.base}/monitor/changes/{ids['app']}")
    page.get_by_test_id("rollback").click()
    expect(page.locator(".q-notification").first).to_contain_text("reason")  # refused: no reason given
    reason = page.locator('[data-testid="rollback-reason"] input, input[data-testid="rollback-reason"]').first
    reason.fill("安卓推送送达率下降")
    page.get_by_test_id("rollback").click()
    expect(page.get_by_test_id("change-status")).to_have_attribute("data-status", "rolled_back")
    expect(page.get_by_test_id("change-history")).to_contain_text("安卓推送送达率下降")
    assert _status(server, ids["app"]) is ChangeStatus.ROLLED_BACK


def test_in_english_the_registry_filters_and_links_each_change_to_its_before_and_after(
        server: Server, page: Page, ids: dict[str, int]) -> None:
    sign_in(page, server.base, "lina")
    page.goto(f"{server.base}/auth/locale/en?next=/monitor/changes")
    page.wait_for_url(re.compile(r"/monitor/changes$"))
    expect(page.get_by_test_id("change-count")).to_have_text("3 changes")
    page.get_by_test_id("filter-source").click()
    page.get_by_role("option", name="evenhand configuration").click()
    expect(page.locator("[data-change]")).to_have_count(1)
    expect(page.locator("[data-change]")).to_contain_text("Stage standards")
    expect(page.locator("[data-change]")).to_contain_text("stage_standards v2: 首次联系时限改为 4 小时")
    page.goto(f"{server.base}/monitor/changes/{ids['crm']}")
    expect(page.get_by_test_id("change-facts")).to_contain_text("Release")
    expect(page.get_by_test_id("change-facts")).to_contain_text("takes effect 2026-08-15 22:00")
    expect(page.get_by_test_id("impact-link")).to_have_attribute("href", f"/monitor/changes/{ids['crm']}/impact")
    expect(page.get_by_test_id("impact-link")).to_have_text("Before and after")


def test_the_supervisor_reads_without_the_form_and_a_rep_is_refused(server: Server, page: Page,
                                                                  ids: dict[str, int]) -> None:
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/monitor/changes/{ids['app']}")
    expect(page.get_by_test_id("change-title")).to_have_text(APP)
    expect(page.get_by_test_id("change-said")).to_contain_text("如何回滚？ 回滚到 v3.1 与旧推送组件")
    expect(page.get_by_test_id("change-form")).to_have_count(0)
    expect(page.get_by_test_id("add-change")).to_have_count(0)
    page.goto(f"{server.base}/monitor/changes")
    expect(page.get_by_test_id("add-change")).to_have_count(0)
    page.context.clear_cookies()
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/monitor/changes")
    expect(page.get_by_test_id("changes-refused")).to_contain_text("只有销售运营、管理员、主管和审计员可以查看变更登记")
    expect(page.locator("[data-change]")).to_have_count(0)
