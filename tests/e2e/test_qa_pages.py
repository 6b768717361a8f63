"""Call QA in a real browser: a supervisor reviews a sampled call with its recording playing from the server, the
rep's open coaching in view (zh-CN); the rep reads the feedback and acknowledges it (en)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.demo.recordings import write_clips
from evenhand.kit.clock import utcnow
from evenhand.models import (
    Activity,
    ActivityType,
    Direction,
    Notification,
    QaReview,
    ReviewStatus,
    SourceSystem,
    Team,
    User,
)
from evenhand.qa import service
from evenhand.qa.schemas import ReviewSave
from tests.e2e.conftest import Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCORES = {"discovery": 2, "objection_handling": 3, "next_step": 4, "compliance": 5}
FIRST_COMMENT = "Opened well; ask about the budget before quoting."


def _calls(session: Session, users: dict[str, User]) -> None:
    period = service.previous_period(utcnow())
    start = datetime.fromisoformat(f"{period}-10T02:00:00+00:00")
    for n, who in enumerate(("xiaochen", "xiaochen", "xiaochen", "zhangwei", "zhangwei")):
        session.add(Activity(type=ActivityType.CALL, direction=Direction.OUTBOUND,
                             source_system=SourceSystem.TELEPHONY, external_id=f"QA-E2E-{n}", rep_id=users[who].id,
                             occurred_at=start + timedelta(hours=n), duration_seconds=95 + n, answered=True,
                             recording_ref=f"recordings/{period}/call-{n:09d}.mp3"))
    session.flush()
    service.draw(session, period, seed=1, share=1.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """陈小雨 and 张伟 (华东一组, supervised by 王强) made five recorded calls last month, all sampled; 王强 has
    reviewed 陈小雨's first one already, with a coaching item."""
    data: Path = tmp_path_factory.mktemp("qa-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        users = {u.username: u for u in session.scalars(select(User))}
        _calls(session, users)
        boss = users["wangqiang"]
        first = session.scalars(select(QaReview).where(QaReview.rep_id == users["xiaochen"].id)
                                .order_by(QaReview.activity_id)).first()
        assert first is not None
        service.save_review(session, first.id, ReviewSave(scores=SCORES, comment=FIRST_COMMENT,
                                                           coaching=["先问预算再报价"]),
                            actor=Principal(boss.id, boss.username, boss.display_name, boss.role, boss.team_id,
                                            _teams(session, boss.id)))
    engine.dispose()
    write_clips(data / "recordings")
    with serving(data, url) as running:
        yield running


def _teams(session: Session, boss_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(Team.id).where(Team.supervisor_id == boss_id)))


def _review(server: Server, rep: str, *, status: ReviewStatus) -> list[QaReview]:
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        rep_id = session.scalars(select(User.id).where(User.username == rep)).one()
        found = list(session.scalars(select(QaReview).where(QaReview.rep_id == rep_id, QaReview.status == status)))
    engine.dispose()
    return found


def test_a_supervisor_reviews_a_call_with_its_recording_and_the_reps_open_coaching(server: Server,
                                                                                   page: Page) -> None:
    sign_in(page, server.base, "wangqiang")
    page.locator('[data-nav="/qa"]').click()
    expect(page.get_by_text("待质检的通话")).to_be_visible()
    cards = page.locator("[data-review]")
    expect(cards).to_have_count(4)
    card = cards.filter(has_text="陈小雨").first
    audio = card.locator("audio")
    expect(audio).to_have_count(1)
    source = audio.get_attribute("src")
    assert source and source.startswith("/api/v1/qa/recordings/")
    played = page.request.get(f"{server.base}{source}")
    assert played.status == 200 and played.headers["content-type"] == "audio/wav" and played.body()[:4] == b"RIFF"
    expect(card.get_by_test_id("carried-coaching")).to_contain_text("先问预算再报价")
    expect(card.locator('[data-criterion="discovery"]')).to_contain_text("需求挖掘深度")
    for key in SCORES:
        card.locator(f'[data-criterion="{key}"]').get_by_text("4 · ", exact=False).click()
    card.locator('[data-testid="review-comment"] textarea, textarea[data-testid="review-comment"]').first.fill(
        "异议处理有进步")
    card.locator('[data-testid="review-coaching"] textarea, textarea[data-testid="review-coaching"]').first.fill(
        "约定下次通话时间")
    card.get_by_test_id("save-review").click()
    expect(page.get_by_text("质检已保存，已通知陈小雨。")).to_be_visible()
    expect(page.locator("[data-review]")).to_have_count(3)
    [done] = [r for r in _review(server, "xiaochen", status=ReviewStatus.REVIEWED) if r.comment == "异议处理有进步"]
    assert done.scores == dict.fromkeys(SCORES, 4) and done.coaching[0]["text"] == "约定下次通话时间"
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        told = session.scalars(select(Notification).where(Notification.kind == "qa_feedback")).all()
    engine.dispose()
    assert len(told) == 2 and {n.recipient_id for n in told} == {done.rep_id}


def test_the_rep_reads_the_feedback_and_acknowledges_it_in_english(server: Server, page: Page) -> None:
    sign_in(page, server.base, "xiaochen")
    page.goto(f"{server.base}/qa")
    page.locator('[data-locale="en"]').click()
    expect(page.get_by_text("My feedback")).to_be_visible()
    expect(page.locator("[data-review]")).to_have_count(0)  # a rep reviews nobody
    card = page.locator("[data-feedback]").filter(has_text=FIRST_COMMENT)
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("feedback-scores")).to_contain_text("Discovery depth")
    expect(card.get_by_test_id("feedback-scores")).to_contain_text("Asked only surface questions")
    expect(card.locator("audio")).to_have_count(1)
    expect(page.get_by_test_id("my-coaching")).to_contain_text("先问预算再报价")
    expect(page.get_by_test_id("trend-chart")).to_be_visible()  # the rep's own average per criterion per month
    card.get_by_test_id("acknowledge").click()
    expect(page.get_by_text("Feedback acknowledged.")).to_be_visible()
    card = page.locator("[data-feedback]").filter(has_text=FIRST_COMMENT)
    expect(card.get_by_test_id("review-status")).to_have_attribute("data-status", "acknowledged")
    expect(card.get_by_test_id("acknowledge")).to_have_count(0)
    [acknowledged] = _review(server, "xiaochen", status=ReviewStatus.ACKNOWLEDGED)
    assert acknowledged.comment == FIRST_COMMENT and acknowledged.acknowledged_at is not None
    page.get_by_test_id("my-coaching").locator('[data-coaching]').filter(has_text="先问预算再报价").get_by_test_id(
        "coaching-done").click()
    expect(page.get_by_text("Coaching item done.")).to_be_visible()


def test_an_admin_sees_a_rubric_problem_with_its_line_and_saves_a_version(server: Server, page: Page) -> None:
    sign_in(page, server.base, "admin")
    page.goto(f"{server.base}/qa")
    page.get_by_test_id("rubric-link").click()
    status, problems = page.get_by_test_id("rubric-status"), page.get_by_test_id("rubric-problems")
    expect(status).to_contain_text("评分表有效")
    page.get_by_test_id("rubric-editor").locator(".cm-content").click()
    page.keyboard.press("Control+End")
    typed = "extra: 1\n"
    page.keyboard.type(typed)
    expect(status).to_contain_text("处问题")
    expect(problems).to_contain_text("extra")
    expect(page.get_by_test_id("save-rubric")).to_be_disabled()
    for _ in typed:
        page.keyboard.press("Backspace")
    page.keyboard.type("# 合规项以公司法务口径为准\n")
    expect(status).to_contain_text("评分表有效")
    page.locator('[data-testid="rubric-note"] input, input[data-testid="rubric-note"]').first.fill("加注释")
    page.get_by_test_id("save-rubric").click()
    expect(page.get_by_test_id("active-version")).to_contain_text("版本 2", timeout=10_000)
