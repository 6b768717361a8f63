"""The activity timeline below a lead's and a deal's page, in a real browser: newest first, each source with its icon
and count, a call's length and answer, a chat's messages, an e-mail's attachments and reply, a note's declared type
and its text cut until asked for, times in the viewer's zone; filtered by source; the deal page shows the deal's work
and its lead's from before the deal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.activities import service
from evenhand.activities.schemas import ActivityCreate
from evenhand.db import make_engine, session_scope
from evenhand.models import Lead, Opportunity, User
from tests.e2e.conftest import Server, _seed, seed_leads, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CALLED = datetime(2024, 3, 12, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai, the viewer's zone
DEAL_MADE = CALLED + timedelta(days=2)
NOTE = "电话沟通了扩产项目的报价，客户关心交期和付款方式。" * 8  # longer than the timeline shows at first


@dataclass(frozen=True)
class Work:
    server: Server
    lead: int
    deal: int


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Work]:
    """张伟's lead 苏州精密 worked by a call and a WeCom chat, then made a deal; after it, an e-mail with the deal and a
    CRM note on the lead alone — all captured through the one ingest door."""
    data: Path = tmp_path_factory.mktemp("timeline-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        lead = session.scalars(select(Lead).where(Lead.external_id == "E-0")).one()
        rep = session.scalars(select(User).where(User.username == "zhangwei")).one()
        deal = Opportunity(name="苏州精密扩产", owner_id=rep.id, lead_id=lead.id, source="crm", external_id="006E2E",
                           created_at=DEAL_MADE)
        session.add(deal)
        session.flush()
        common = {"rep": "zhangwei", "lead": "E-0"}
        service.capture_many(session, [ActivityCreate.model_validate({**common, **row}) for row in (
            {"source_system": "telephony", "external_id": "C-1", "type": "call", "direction": "outbound",
             "occurred_at": CALLED, "duration_seconds": 205, "answered": True, "recording_ref": "rec/C-1.mp3"},
            {"source_system": "wecom", "external_id": "W-1", "type": "message", "direction": "inbound",
             "occurred_at": CALLED + timedelta(hours=3), "message_count": 14},
            {"source_system": "outlook", "external_id": "M-1", "type": "email", "direction": "outbound",
             "occurred_at": DEAL_MADE + timedelta(hours=1), "attachment_count": 2, "replied": True,
             "subject": "扩产报价单", "opportunity": "006E2E"},
            {"source_system": "crm", "external_id": "N-1", "type": "note", "direction": "internal",
             "occurred_at": DEAL_MADE + timedelta(hours=2), "declared_type": "call", "body": NOTE})])
        ids = (lead.id, deal.id)
    engine.dispose()
    with serving(data, url) as running:
        yield Work(running, *ids)


def test_a_supervisor_reads_a_leads_timeline_and_filters_it_by_source(work: Work, page: Page) -> None:
    sign_in(page, work.server.base, "wangqiang")
    page.goto(f"{work.server.base}/leads/{work.lead}")
    timeline = page.get_by_test_id("activity-timeline")
    expect(timeline).to_contain_text("活动时间线")
    lines = timeline.locator("[data-activity]")
    expect(lines).to_have_count(4)
    assert [lines.nth(i).get_attribute("data-activity") for i in range(4)] == ["N-1", "M-1", "W-1", "C-1"]

    call = timeline.locator('[data-activity="C-1"]')
    expect(call).to_contain_text("2024-03-12 14:05")
    expect(call).to_contain_text("张伟")
    expect(call).to_contain_text("3:25")
    expect(call).to_contain_text("已接通")
    expect(call).to_contain_text("录音：rec/C-1.mp3")
    expect(timeline.locator('[data-activity="W-1"]')).to_contain_text("14 条消息")
    mail = timeline.locator('[data-activity="M-1"]')
    expect(mail).to_contain_text("2 个附件")
    expect(mail).to_contain_text("已回复")
    expect(mail).to_contain_text("扩产报价单")

    note = timeline.locator('[data-activity="N-1"]')
    expect(note.locator("[data-declared]")).to_have_text("声称记录：电话")
    body = note.locator('[data-part="body"]')
    expect(body).not_to_have_text(NOTE)
    note.get_by_test_id("show-body").click()
    expect(body).to_have_text(NOTE)

    timeline.get_by_test_id("timeline-sources").get_by_text("企业微信 (1)").click()
    expect(lines).to_have_count(1)
    expect(lines.first).to_have_attribute("data-source", "wecom")
    timeline.get_by_test_id("timeline-sources").get_by_text("全部 (4)").click()
    expect(lines).to_have_count(4)


def test_a_deal_shows_its_work_and_its_leads_from_before_it(work: Work, page: Page) -> None:
    sign_in(page, work.server.base, "zhangwei")
    page.goto(f"{work.server.base}/opportunities/{work.deal}")
    lines = page.get_by_test_id("activity-timeline").locator("[data-activity]")
    expect(lines).to_have_count(3)
    assert [lines.nth(i).get_attribute("data-activity") for i in range(3)] == ["M-1", "W-1", "C-1"]


def test_a_rep_of_another_team_sees_no_timeline(work: Work, page: Page) -> None:
    sign_in(page, work.server.base, "lihua")
    page.goto(f"{work.server.base}/leads/{work.lead}")
    expect(page.get_by_text("该线索不存在，或你无权查看。")).to_be_visible()
    expect(page.get_by_test_id("activity-timeline")).to_have_count(0)
