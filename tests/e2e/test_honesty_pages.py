"""The honesty checks page in a real browser: a supervisor reads a flagged note's evidence and confirms it with a
note; the rep sees the flag on their own note, and cannot decide it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.honesty import service
from evenhand.models import Activity, ActivityType, Direction, FlagStatus, HonestyFlag, Lead, SourceSystem, User
from tests.e2e.conftest import Server, _seed, seed_leads, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WHEN = datetime(2024, 3, 12, 6, 5, tzinfo=UTC)
FAKE = "已电话沟通，客户有意向"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The browser tests' company, where 陈小雨 (华东一组, supervised by 王强) wrote up a call never made, after a
    dial nobody answered."""
    data: Path = tmp_path_factory.mktemp("honesty-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        rep = session.scalars(select(User).where(User.username == "xiaochen")).one()
        lead = session.scalars(select(Lead).where(Lead.external_id == "E-1")).one()
        session.add_all([
            Activity(type=ActivityType.CALL, direction=Direction.OUTBOUND, source_system=SourceSystem.TELEPHONY,
                     external_id="T-1", rep_id=rep.id, lead_id=lead.id, occurred_at=WHEN - timedelta(hours=2),
                     answered=False, duration_seconds=0),
            Activity(type=ActivityType.NOTE, direction=Direction.INTERNAL, source_system=SourceSystem.CRM,
                     external_id="N-1", rep_id=rep.id, lead_id=lead.id, occurred_at=WHEN, body=FAKE, subject=FAKE,
                     declared_type=ActivityType.CALL)])
        session.flush()
        service.scan(session, since=WHEN - timedelta(days=1), until=WHEN + timedelta(days=1))
    engine.dispose()
    with serving(data, url) as running:
        yield running


def test_a_supervisor_confirms_a_flag_with_its_evidence_in_view(server: Server, page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.locator('[data-nav="/process/honesty"]').click()
    card = page.locator("[data-flag]").filter(has_text=FAKE)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("无据可查的记录")
    expect(card).to_contain_text("陈小雨")
    expect(card.get_by_test_id("flag-window")).to_contain_text("声称电话")
    nearest = card.get_by_test_id("flag-nearest")
    expect(nearest).to_contain_text("之前")
    expect(nearest).to_contain_text("电话")

    note = card.locator('[data-testid="decision-note"] input, input[data-testid="decision-note"]').first
    note.fill("系统中没有接通记录")
    card.get_by_test_id("confirm").click()
    expect(page.get_by_text("标记已确认。")).to_be_visible()
    expect(page.get_by_test_id("no-open-flags")).to_be_visible()
    expect(page.get_by_test_id("decided-flags")).to_contain_text("系统中没有接通记录")

    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        flag = session.scalars(select(HonestyFlag)).one()
        boss = session.scalars(select(User).where(User.username == "wangqiang")).one()
    engine.dispose()
    assert (flag.status, flag.decided_by, flag.decision_note) == (FlagStatus.CONFIRMED, boss.id, "系统中没有接通记录")


def test_the_rep_sees_the_flag_on_their_note_and_no_buttons(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/process/honesty")
    mine = page.get_by_test_id("my-flags")
    expect(mine).to_contain_text(FAKE)
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    expect(page.locator("[data-flag]")).to_have_count(0)
