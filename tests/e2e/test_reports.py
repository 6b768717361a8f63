"""The fairness report page in a real browser: a supervisor reads last month's figures for the team,
downloads the PDF and posts the report to the team; a rep of another team sees only their own team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from evenhand.db import make_engine, session_scope
from evenhand.models import Lead, LeadStatus, Notification, User
from evenhand.reports.monthly import Month
from tests.e2e.conftest import ARTIFACTS, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ZONE = ZoneInfo("Asia/Shanghai")


def last_month() -> Month:
    return Month.of(datetime.now(UTC).astimezone(ZONE).date()).previous()


def _history(url: str) -> None:
    """Last month, before routing: 张伟 got four leads, 陈小雨 one, 李华 (the other team) two."""
    engine = make_engine(url)
    day = datetime.combine(last_month().first, datetime.min.time(), tzinfo=ZONE) + timedelta(days=1, hours=10)
    with session_scope(engine) as session:
        owners = {u.username: u.id for u in session.scalars(select(User))}
        plan = [("zhangwei", 90), ("zhangwei", 85), ("zhangwei", 60), ("zhangwei", 50), ("xiaochen", 40),
                ("lihua", 70), ("lihua", 30)]
        for n, (owner, score) in enumerate(plan):
            session.add(Lead(source="import", external_id=f"HIST-{n}", company=f"历史客户{n}", owner_id=owners[owner],
                             assigned_at=day + timedelta(hours=n), created_at=day, score=score,
                             status=LeadStatus.CONTACTED))
    engine.dispose()


@pytest.fixture(scope="module")
def report_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e-reports")
    url = f"sqlite:///{data / 'reports.sqlite'}"
    _seed(url)
    _history(url)
    with serving(data, url) as running:
        yield running


def test_supervisor_reads_downloads_and_publishes_the_fairness_report(report_server: Server, page: Page) -> None:
    base, month = report_server.base, last_month().label
    sign_in(page, base, "wangqiang")
    page.locator('[data-nav="/reports/fairness"]').click()
    expect(page.get_by_test_id("fairness-month")).to_contain_text(month)  # last month by default
    reps = page.get_by_test_id("fairness-reps")
    expect(reps).to_contain_text("张伟")
    expect(reps).to_contain_text("陈小雨")
    expect(reps).not_to_contain_text("李华")  # another team's rep
    expect(reps).to_contain_text("80.0%")  # 张伟's share of the team's five leads
    expect(page.get_by_test_id("fairness-evidence")).to_contain_text("无分配决策记录：以平均份额作为对照")
    expect(page.get_by_test_id("fairness-facts")).to_contain_text("卡方检验")
    expect(page.get_by_test_id("fairness-chart").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("fairness-progress")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "fairness-report.png"), full_page=True)

    with page.expect_download() as caught:
        page.get_by_test_id("download-pdf").click()
    download = caught.value
    assert download.suggested_filename == f"fairness-{month}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    page.get_by_test_id("publish-report").click()
    expect(page.get_by_text("已发布到华东一组")).to_be_visible()
    engine = make_engine(report_server.db_url)
    with session_scope(engine, readonly=True) as session:
        links = set(session.scalars(select(Notification.link).where(Notification.kind == "fairness_report")))
    engine.dispose()
    assert len(links) == 1 and links.pop().startswith(f"/reports/fairness?month={month}&team=")


def test_a_rep_sees_only_their_own_team_and_cannot_publish(report_server: Server, page: Page) -> None:
    sign_in(page, report_server.base, "lihua")
    page.goto(f"{report_server.base}/reports/fairness?month={last_month().label}")
    reps = page.get_by_test_id("fairness-reps")
    expect(reps).to_contain_text("李华")
    expect(reps).not_to_contain_text("张伟")
    expect(page.get_by_role("tab")).to_have_count(1)
    expect(page.get_by_test_id("publish-report")).to_have_count(0)
    page.goto(f"{report_server.base}/reports/fairness?month=2026-3")
    expect(page.get_by_test_id("fairness-error")).to_contain_text("月份格式应为 2026-11")
