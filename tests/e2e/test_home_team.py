"""The home pages of a rep and a supervisor in a real browser, in Chinese and English: 陈小雨 accepts a waiting lead
from her home page and sees it leave the list, with her follow-ups due, her open alerts, her QA feedback and who is
online; 王强 sees the appeal he has to rule on (and opens it), the calls to review, his team's alerts and who is
online."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evenhand.alerts import service as alerts
from evenhand.appeals import service as appeals
from evenhand.appeals.schemas import AppealCreate
from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import (
    Activity,
    ActivityType,
    Direction,
    Lead,
    LeadStatus,
    Notification,
    Opportunity,
    QaReview,
    SourceSystem,
    Stage,
    Team,
    User,
)
from evenhand.notify import service as notify
from evenhand.qa import service as qa
from evenhand.qa.schemas import ReviewSave
from evenhand.routing import reassignment, router
from tests.e2e.conftest import ARTIFACTS, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ON_TIME, LATE, BACKLOG = "无锡智能装备有限公司", "常州新材料科技", "扬州化工集团"
DEAL = "华东制造 MES 项目"
APPEALED = "宁波精工贸易有限公司"
COACHING = "先问预算再报价"
SCORES = {"discovery": 2, "objection_handling": 3, "next_step": 4, "compliance": 5}


def _principal(session: Session, user: User) -> Principal:
    teams = frozenset(session.scalars(select(Team.id).where(Team.supervisor_id == user.id)))
    return Principal(user.id, user.username, user.display_name, user.role, user.team_id, teams)


def _waiting_leads(session: Session, rep: User) -> None:
    """Two new leads for 陈小雨 not yet accepted: one escalates in 15 minutes, the other is overdue."""
    for n, company in enumerate((ON_TIME, LATE)):
        lead = Lead(source="website", external_id=f"HOME-{n}", company=company, owner_id=rep.id,
                    status=LeadStatus.ASSIGNED, score=70 + n)
        session.add(lead)
        session.flush()
        message = notify.lead_assigned(session, lead, rep.id, decision_id=100 + n)
        if company == LATE:
            message.escalate_at = utcnow() - timedelta(minutes=12)


def _follow_ups_and_alerts(session: Session, rep: User) -> None:
    """A lead assigned a week ago nobody has contacted, and a deal in proposal untouched for twelve days. Both are
    overdue whatever the day: the first contact's 48 hours, moved past a weekend, end three days ago at the latest."""
    session.add(Lead(source="website", external_id="HOME-OLD", company=BACKLOG, owner_id=rep.id,
                     status=LeadStatus.ASSIGNED, assigned_at=utcnow() - timedelta(days=7)))
    session.add(Opportunity(name=DEAL, owner_id=rep.id, stage=Stage.PROPOSAL, created_at=utcnow() - timedelta(days=12)))
    session.flush()
    alerts.scan(session)


def _qa(session: Session, users: dict[str, User]) -> None:
    """Last month's recorded calls all sampled; 王强 has reviewed one of 陈小雨's, with a coaching item."""
    period = qa.previous_period(utcnow())
    start = datetime.fromisoformat(f"{period}-10T02:00:00+00:00")
    for n, who in enumerate(("xiaochen", "xiaochen", "zhangwei")):
        session.add(Activity(type=ActivityType.CALL, direction=Direction.OUTBOUND,
                             source_system=SourceSystem.TELEPHONY, external_id=f"HOME-QA-{n}", rep_id=users[who].id,
                             occurred_at=start + timedelta(hours=n), duration_seconds=95 + n, answered=True,
                             recording_ref=f"recordings/{period}/call-{n:09d}.mp3"))
    session.flush()
    qa.draw(session, period, seed=1, share=1.0)
    first = session.scalars(select(QaReview).where(QaReview.rep_id == users["xiaochen"].id)
                            .order_by(QaReview.activity_id)).first()
    assert first is not None
    qa.save_review(session, first.id, ReviewSave(scores=SCORES, comment="Good opening.", coaching=[COACHING]),
                   actor=_principal(session, users["wangqiang"]))


def _appeal(session: Session, rep: User) -> None:
    """陈小雨 appeals a lead given to her (by the policy, or by sales ops when the policy held it)."""
    data = LeadCreate(source="website", external_id="HOME-APPEAL", company=APPEALED, industry="制造业", region="east",
                      company_size=40)
    lead = lead_service.intake(session, data, actor=None, dedup=[]).lead
    decision = router.route(session, lead)
    if decision.rep_id != rep.id:
        decision = reassignment.reassign(session, lead, actor=None, to_rep_id=rep.id, kind="manual", note="新人练手")
    assert decision.rep_id == rep.id
    appeals.file(session, AppealCreate(decision_id=decision.id, reason_code="wrong_industry", reason="是经销商"),
                 actor=_principal(session, rep), window=timedelta(hours=1))
    session.execute(update(Notification).where(Notification.lead_id == lead.id).values(acknowledged_at=utcnow()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("home-team-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        users = {u.username: u for u in session.scalars(select(User))}
        _waiting_leads(session, users["xiaochen"])
        _follow_ups_and_alerts(session, users["xiaochen"])
        _qa(session, users)
        _appeal(session, users["xiaochen"])
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _acknowledged(server: Server, company: str) -> bool:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        stmt = select(Notification.acknowledged_at).join(Lead, Lead.id == Notification.lead_id).where(
            Lead.company == company, Notification.kind == "lead_assigned", Notification.channel == "in_app")
        found = session.scalars(stmt).one()
    engine.dispose()
    return found is not None


def test_the_rep_accepts_a_waiting_lead_from_her_home_page(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    leads = page.locator('[data-home="waiting-leads"]')
    expect(leads).to_contain_text("待接收的新线索")
    expect(leads.get_by_test_id("home-count")).to_have_text("2")
    on_time = leads.locator(f'[data-waiting-lead]:has-text("{ON_TIME}")')
    late = leads.locator(f'[data-waiting-lead]:has-text("{LATE}")')
    expect(late.get_by_test_id("countdown")).to_have_text(re.compile(r"已超时 1[12] 分钟"))
    expect(late.get_by_test_id("countdown")).to_have_attribute("data-overdue", "true")
    expect(late.get_by_test_id("countdown")).to_have_class(re.compile("text-negative"))
    expect(on_time.get_by_test_id("countdown")).to_have_text(re.compile(r"1[45] 分钟后升级"))
    expect(leads.locator("[data-waiting-lead]").first).to_contain_text(LATE)  # the one escalating first on top
    expect(on_time.get_by_role("link", name=ON_TIME)).to_have_attribute("href", re.compile(r"^/leads/\d+$"))

    on_time.get_by_role("button", name="接收").click()
    expect(page.get_by_text(f"已接收线索：{ON_TIME}。")).to_be_visible()
    expect(on_time).to_have_count(0)
    expect(leads.get_by_test_id("home-count")).to_have_text("1")
    assert _acknowledged(server, ON_TIME) and not _acknowledged(server, LATE)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rep-home-zh.png"), full_page=True)


def test_the_reps_follow_ups_alerts_feedback_and_team_in_chinese(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    follow_ups = page.locator('[data-home="follow-ups"]')
    expect(follow_ups).to_contain_text("今日到期的跟进")
    backlog = follow_ups.locator(f'[data-follow-up]:has-text("{BACKLOG}")')
    expect(backlog).to_have_attribute("data-status", "overdue")
    expect(backlog).to_contain_text("初次接触")
    expect(backlog).to_contain_text("缺少：")
    expect(backlog.get_by_test_id("follow-up-deadline")).to_contain_text("起已超期")
    expect(follow_ups.locator(f'[data-follow-up]:has-text("{DEAL}")')).to_contain_text("方案")
    expect(follow_ups.get_by_role("link", name=DEAL)).to_have_attribute("href", re.compile(r"^/opportunities/\d+$"))

    alert_tile = page.locator('[data-home="alerts"]')
    expect(alert_tile).to_contain_text("我的未处理预警")
    expect(alert_tile).to_contain_text(DEAL)
    expect(alert_tile.get_by_test_id("see-all")).to_have_attribute("href", "/alerts")

    feedback = page.locator('[data-home="qa-feedback"]')
    expect(feedback).to_contain_text("待确认的质检反馈")
    expect(feedback.get_by_test_id("home-count")).to_have_text("1")
    expect(feedback).to_contain_text("王强")
    expect(feedback.locator("[data-home-coaching]")).to_contain_text(COACHING)

    expect(page.locator('[data-home="online"]').get_by_test_id("online-count")).to_have_text("2 人中 1 人在线")
    expect(page.locator('[data-home="appeals"]')).to_have_count(0)  # a rep rules on no appeal
    expect(page.locator('[data-home="qa-reviews"]')).to_have_count(0)


def test_the_reps_home_page_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.locator('[data-locale="en"]').first.click()
    late = page.locator(f'[data-waiting-lead]:has-text("{LATE}")')
    expect(page.locator('[data-home="waiting-leads"]')).to_contain_text("New leads to accept")
    expect(late.get_by_test_id("countdown")).to_have_text(re.compile(r"Overdue by 1[1-9] min"))
    expect(late.get_by_role("button", name="Accept")).to_be_visible()
    expect(page.locator('[data-home="follow-ups"]')).to_contain_text("Follow-ups due today")
    expect(page.locator(f'[data-follow-up]:has-text("{BACKLOG}")')).to_contain_text("First contact")
    expect(page.locator('[data-home="alerts"]')).to_contain_text("My open alerts")
    expect(page.locator('[data-home="qa-feedback"]')).to_contain_text("Coaching items carried over")
    expect(page.locator('[data-home="online"]')).to_contain_text("Who is online")
    expect(page.locator('[data-home="online"]').get_by_test_id("online-count")).to_have_text("1 of 2 online")
    page.screenshot(path=str(ARTIFACTS / "rep-home-en.png"), full_page=True)


def test_the_supervisor_sees_appeals_reviews_alerts_and_who_is_online(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    appeal_tile = page.locator('[data-home="appeals"]')
    expect(appeal_tile).to_contain_text("待裁决的申诉")
    expect(appeal_tile.get_by_test_id("home-count")).to_have_text("1")
    expect(appeal_tile).to_contain_text("陈小雨")
    reviews = page.locator('[data-home="qa-reviews"]')
    expect(reviews).to_contain_text("待质检的通话")
    expect(reviews.get_by_test_id("home-count")).to_have_text("2")
    expect(reviews).to_contain_text("张伟")
    alert_tile = page.locator('[data-home="alerts"]')
    expect(alert_tile).to_contain_text("我团队的未处理预警")
    expect(alert_tile).to_contain_text("陈小雨")
    online = page.locator('[data-home="online"]')
    expect(online.get_by_test_id("online-count")).to_have_text("2 人中 1 人在线")
    expect(online.locator('[data-online="陈小雨"]')).to_be_visible()
    expect(online.locator('[data-online="张伟"]')).to_have_count(0)
    for rep_only in ("waiting-leads", "follow-ups", "qa-feedback"):
        expect(page.locator(f'[data-home="{rep_only}"]')).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "supervisor-home-work-zh.png"), full_page=True)

    appeal_tile.get_by_role("link", name=APPEALED).click()
    expect(page).to_have_url(re.compile(r"/appeals#appeal-\d+$"))
    expect(page.locator("[data-appeal]").filter(has_text=APPEALED)).to_be_visible()
    expect(page.locator('[id^="appeal-"]').filter(has_text=APPEALED)).to_have_count(1)  # where the link lands


def test_the_supervisors_home_page_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.locator('[data-locale="en"]').first.click()
    expect(page.locator('[data-home="appeals"]')).to_contain_text("Appeals to rule on")
    expect(page.locator('[data-home="appeals"]')).to_contain_text(APPEALED)
    expect(page.locator('[data-home="qa-reviews"]')).to_contain_text("Calls to review")
    expect(page.locator('[data-home="alerts"]')).to_contain_text("Open alerts in my teams")
    expect(page.locator('[data-home="online"]').get_by_test_id("online-count")).to_have_text("1 of 2 online")
    expect(page.locator('[data-home="appeals"]').get_by_test_id("see-all")).to_have_text("See all")
    page.screenshot(path=str(ARTIFACTS / "supervisor-home-work-en.png"), full_page=True)
