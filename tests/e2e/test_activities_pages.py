"""The reconciliation page in a real browser: a supervisor links a waiting activity to a rep and a lead, and it
leaves the list for the Activities page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.activities import service
from evenhand.activities.schemas import ActivityCreate
from evenhand.db import make_engine, session_scope
from evenhand.models import Activity, Lead, UnmatchedActivity, User
from tests.e2e.conftest import Server, _seed, seed_leads, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WHEN = datetime(2024, 3, 12, 6, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The browser tests' company, with a call whose agent nobody knows waiting to be matched."""
    data: Path = tmp_path_factory.mktemp("activities-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        service.capture(session, ActivityCreate(source_system="telephony", external_id="C-404", type="call",
                                                direction="outbound", occurred_at=WHEN, duration_seconds=205,
                                                rep="A404", phone="+86 139 0000 0404", subject="报价跟进"),
                        actor=None)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def test_a_supervisor_links_a_waiting_call_from_the_page(server: Server, page: Page) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        lead = session.scalars(select(Lead).where(Lead.external_id == "E-0")).one()
        rep = session.scalars(select(User).where(User.username == "zhangwei")).one()
    sign_in(page, server.base, "wangqiang")
    page.goto(f"{server.base}/activities/unmatched")
    card = page.locator('[data-entry="C-404"]')
    expect(card.locator('[data-reason="no_rep"]')).to_have_text("销售未知")
    expect(card).to_contain_text("A404")

    card.locator('[data-field="rep_id"]').click()
    page.get_by_role("option", name="张伟").click()
    card.locator('[data-field="lead_id"] input, input[data-field="lead_id"]').first.fill(str(lead.id))
    card.get_by_test_id("link").click()
    expect(page.get_by_text("已关联")).to_be_visible()
    expect(page.locator('[data-entry="C-404"]')).to_have_count(0)
    expect(page.get_by_test_id("waiting-count")).to_contain_text("0")

    with session_scope(engine, readonly=True) as session:
        act = session.scalars(select(Activity).where(Activity.external_id == "C-404")).one()
        entry = session.scalars(select(UnmatchedActivity)).one()
    engine.dispose()
    assert (act.rep_id, act.lead_id, act.duration_seconds) == (rep.id, lead.id, 205)
    assert entry.activity_id == act.id and entry.resolved_at is not None

    page.goto(f"{server.base}/activities")
    table = page.get_by_test_id("activities")
    expect(table).to_contain_text(lead.company)
    expect(table).to_contain_text("报价跟进")
