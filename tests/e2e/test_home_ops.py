"""The home page's figures in a real browser, in Chinese and English: sales ops (李娜) and the head of sales (赵敏) read
the company this month beside last month — funnel, first response, routing health, fairness, alerts by team — each
tile with its chart and its link; the supervisor 王强 reads his team's board in brief; the rep 陈小雨 her month so far;
the auditor keeps the counters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.alerts import service as alerts
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import (
    Activity,
    ActivityType,
    Channel,
    Direction,
    Lead,
    LeadStatus,
    Notification,
    NotificationStatus,
    Opportunity,
    Role,
    SourceSystem,
    Stage,
    StageChange,
    Team,
    User,
)
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ZONE = ZoneInfo("Asia/Shanghai")  # the settings' default zone, in which "this month" is counted
NOW = utcnow()
MONTH_START = NOW.astimezone(ZONE).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
MONTH, PREVIOUS = MONTH_START.strftime("%Y-%m"), (MONTH_START - timedelta(days=1)).strftime("%Y-%m")


def this_month(share: float) -> datetime:
    """A moment between the month's first minute and now, so the test reads the same on any day."""
    return MONTH_START + (NOW - MONTH_START) * share


def _people(session: Session) -> dict[str, User]:
    for username, name, role in (("lina", "李娜", Role.OPS), ("zhaomin", "赵敏", Role.OPS),
                                 ("sunli", "孙丽", Role.AUDITOR)):
        org_service.create_user(session, UserCreate(username=username, display_name=name, role=role,
                                                    password=PASSWORD), actor=None)
    return {u.username: u for u in session.scalars(select(User))}


def _leads(session: Session, people: dict[str, User]) -> None:
    """陈小雨 received three leads this month (two answered by a call half an hour later, one of them won), one last
    month."""
    rep = people["xiaochen"]
    for n, at in enumerate([this_month(0.2), this_month(0.4), this_month(0.6), MONTH_START - timedelta(days=3)]):
        lead = Lead(source="web", external_id=f"H-{n}", company=f"华东客户{n}", owner_id=rep.id,
                    status=LeadStatus.CONTACTED, score=60, created_at=at, assigned_at=at,
                    first_response_at=at + timedelta(minutes=30) if n < 2 else None)
        session.add(lead)
        session.flush()
        if n < 2:
            session.add(Activity(type=ActivityType.CALL, direction=Direction.OUTBOUND,
                                 source_system=SourceSystem.TELEPHONY, external_id=f"C-{n}", rep_id=rep.id,
                                 lead_id=lead.id, occurred_at=at + timedelta(minutes=30)))
        if n == 0:
            session.add(Opportunity(name="华东客户0 项目", owner_id=rep.id, lead_id=lead.id, stage=Stage.WON,
                                    created_at=at, stage_changed_at=at, closed_at=at + timedelta(minutes=40)))


def _deals(session: Session, people: dict[str, User]) -> None:
    """张伟's deal has stood in needs analysis for 20 days (the scan raises its alert); 陈小雨's moved two days ago."""
    for owner, name, stage, days in (("zhangwei", "苏州精密 MES 项目", Stage.NEEDS_ANALYSIS, 20),
                                     ("xiaochen", "杭州零售 CRM", Stage.PROPOSAL, 2)):
        deal = Opportunity(name=name, owner_id=people[owner].id, stage=stage, created_at=NOW - timedelta(days=30),
                           stage_changed_at=NOW - timedelta(days=days))
        session.add(deal)
        session.flush()
        session.add_all([StageChange(opportunity_id=deal.id, to_stage=Stage.QUALIFICATION,
                                     changed_at=NOW - timedelta(days=30)),
                         StageChange(opportunity_id=deal.id, from_stage=Stage.QUALIFICATION, to_stage=stage,
                                     changed_at=NOW - timedelta(days=days))])


def _notifications(session: Session, people: dict[str, User]) -> None:
    """Three copies in the last hours: two delivered, one failed for good."""
    for n, status in enumerate((NotificationStatus.DELIVERED, NotificationStatus.DELIVERED,
                                NotificationStatus.FAILED)):
        at = max(NOW - timedelta(hours=1), this_month(0.9))
        session.add(Notification(kind="lead_assigned", recipient_id=people["xiaochen"].id, channel=Channel.SMS,
                                 status=status, idempotency_key=f"home-{n}", created_at=at, sent_at=at,
                                 delivered_at=at if status is NotificationStatus.DELIVERED else None))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("home-ops-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        people = _people(session)
        _leads(session, people)
        _deals(session, people)
        _notifications(session, people)
        session.flush()
        alerts.scan(session)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _team_id(server: Server, name: str) -> int:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        found = session.scalars(select(Team.id).where(Team.name == name)).one()
    engine.dispose()
    return found


def in_english(page: Page, server: Server) -> None:
    page.goto(f"{server.base}/auth/locale/en?next=/")
    page.wait_for_url(re.compile(rf"{re.escape(server.base)}/$"))


def expect_chart(page: Page, name: str) -> None:
    expect(page.get_by_test_id(f"home-chart-{name}").locator("canvas").first).to_be_visible()


def test_sales_ops_reads_the_company_this_month_beside_last_month(server: Server, page: Page) -> None:
    sign_in(page, server.base, "lina")
    expect(page.get_by_text("本月公司概况")).to_be_visible()
    expect(page.get_by_test_id("home-period")).to_contain_text(f"{MONTH} 截至目前；括号内为上月（{PREVIOUS}）")
    funnel = page.locator('[data-home="funnel"]')
    expect(funnel.locator('[data-step="0"]')).to_contain_text("新进线索3 (1)")
    expect(funnel.locator('[data-step="1"]')).to_contain_text("上一步的 67%")
    expect(funnel.locator('[data-step="3"]')).to_contain_text("赢单商机1 (0)")
    response = page.locator('[data-home="first-response"]')
    expect(response.locator('[data-figure="median"]')).to_contain_text("0.5 小时 (—)")
    routing = page.locator('[data-home="routing-health"]')
    expect(routing.locator('[data-figure="held"]')).to_contain_text("0")
    expect(routing.locator('[data-figure="delivery-day"]')).to_contain_text("67%")
    expect(routing.locator('[data-figure="delivery-day"]')).to_contain_text("3 条中送达 2 条")
    fairness = page.locator('[data-home="fairness"]')
    expect(fairness.get_by_test_id("fairness-flagged")).to_contain_text("参与检验的 0 个团队")
    expect(fairness.get_by_test_id("fairness-largest")).to_contain_text("陈小雨（华东一组）")
    alerts_tile = page.locator('[data-home="alerts-by-team"]')
    expect(alerts_tile.get_by_test_id("alerts-total")).to_have_text("3")  # the stale deal, two leads unanswered
    for chart in ("funnel", "response", "alerts"):
        expect_chart(page, chart)
    expect(page.locator("[data-tile]")).to_have_count(0)  # the counters are the admin's and the auditor's
    page.screenshot(path=str(ARTIFACTS / "home-ops.png"), full_page=True)
    funnel.get_by_test_id("home-link").click()
    page.wait_for_url(re.compile(rf"/process\?period={MONTH}$"))
    expect(page.get_by_text("过程看板").first).to_be_visible()


def test_the_head_of_sales_reads_it_in_english_and_follows_the_links(server: Server, page: Page) -> None:
    sign_in(page, server.base, "zhaomin")
    in_english(page, server)
    expect(page.get_by_text("The company this month")).to_be_visible()
    funnel = page.locator('[data-home="funnel"]')
    expect(funnel.locator('[data-step="0"]')).to_contain_text("Leads arrived3 (1)")
    expect(funnel.locator('[data-step="2"]')).to_contain_text("50% of the step before")
    expect(page.locator('[data-home="routing-health"]')).to_contain_text("Leads waiting for a rep")
    expect(page.locator('[data-home="alerts-by-team"]').get_by_test_id("alerts-total")).to_have_text("3")
    expect_chart(page, "response")
    page.locator('[data-home="fairness"]').get_by_test_id("home-link").click()
    page.wait_for_url(re.compile(rf"/reports/fairness\?month={MONTH}$"))
    expect(page.get_by_test_id("fairness-reps")).to_contain_text("陈小雨")
    page.goto(f"{server.base}/")
    page.locator('[data-home="routing-health"]').get_by_test_id("home-link-routing").click()
    page.wait_for_url(re.compile(r"/routing$"))
    page.goto(f"{server.base}/")
    page.locator('[data-home="alerts-by-team"]').get_by_test_id("home-link").click()
    page.wait_for_url(re.compile(r"/alerts$"))
    expect(page.locator('[data-rule="stale_opportunity"]')).to_contain_text("苏州精密 MES 项目")


def test_the_supervisor_reads_the_teams_board_in_brief(server: Server, page: Page) -> None:
    team = _team_id(server, "华东一组")
    sign_in(page, server.base, "wangqiang")
    brief = page.locator(f'[data-team-board="{team}"]')
    expect(brief).to_contain_text("团队看板：华东一组")
    expect(brief.get_by_test_id("team-bottleneck")).to_have_text("瓶颈：需求分析，1 个商机停留 14 天或以上。")
    expect(brief.locator('[data-figure="first-response"]')).to_contain_text("0.5 h (—)")
    expect_chart(page, "team-board")
    page.screenshot(path=str(ARTIFACTS / "home-supervisor.png"), full_page=True)
    expect(page.locator('[data-home="funnel"]')).to_have_count(0)  # the company's figures are ops'
    in_english(page, server)
    expect(brief.get_by_test_id("team-bottleneck")).to_have_text(
        "Bottleneck: Needs analysis, 1 deal in it for 14 days or more.")
    brief.get_by_test_id("home-link").click()
    page.wait_for_url(re.compile(rf"/process\?team={team}$"))
    expect(page.get_by_test_id("board-stages")).to_contain_text("Needs analysis")


def test_a_rep_reads_her_month_so_far_against_the_policys_share(server: Server, page: Page) -> None:
    team = _team_id(server, "华东一组")
    sign_in(page, server.base, "xiaochen")
    month = page.locator('[data-home="my-month"]')
    expect(month).to_contain_text("本月至今")
    expect(month.locator('[data-figure="leads"]')).to_contain_text("获得线索数3 (1)")
    expect(month.locator('[data-figure="won"]')).to_contain_text("1 (0)")
    expect(month.locator('[data-figure="conversion"]')).to_contain_text("33%")
    expect_chart(page, "my-month")
    in_english(page, server)
    expect(month.locator('[data-figure="share"]')).to_contain_text("Your share / the policy's")
    page.screenshot(path=str(ARTIFACTS / "home-rep-month.png"), full_page=True)
    month.get_by_test_id("home-link").click()
    page.wait_for_url(re.compile(rf"/reports/fairness\?month={MONTH}&team={team}$"))


def test_the_auditor_keeps_the_counters_and_not_the_company_tiles(server: Server, page: Page) -> None:
    sign_in(page, server.base, "sunli")
    expect(page.locator('[data-tile="leads"]')).to_contain_text("4")
    expect(page.locator('[data-home="company"]')).to_have_count(0)
