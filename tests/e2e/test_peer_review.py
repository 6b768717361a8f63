"""Peer review in a real browser: 张伟 reads "not enough reviews yet" after two reviews (en); the third of his
reviewers writes hers in zh-CN; 张伟 then reads the aggregate and the comments, unsigned (en)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import make_engine, session_scope
from evenhand.errors import Conflict
from evenhand.models import Level, PeerReviewAssignment, Role, Team, User
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from evenhand.performance import peer_service as service
from evenhand.performance.peer_schemas import CycleOpen, ReviewSubmit
from tests.e2e.conftest import PASSWORD, Server, _seed, serving
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PERIOD = "2026-11"
EARLIER = [(5, 4, "方案写得很扎实"), (3, 4, "")]
LAST_COMMENT = "跨组协作很主动"


def _more_reps(session: Session) -> None:
    """Three more reps, so each of six has three reviewers from the other two teams."""
    south = session.scalars(select(Team).where(Team.name == "华南一组")).one()
    north = Team(name="华北一组", department_id=south.department_id)
    session.add(north)
    session.flush()
    for username, name, team in (("wufang", "吴芳", south.id), ("sunli", "孙丽", north.id),
                                 ("zhoujie", "周杰", north.id)):
        org_service.create_user(session, UserCreate(username=username, display_name=name, role=Role.REP,
                                                    level=Level.JUNIOR, team_id=team, password=PASSWORD), actor=None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("peer-e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        _more_reps(session)
        service.open_cycle(session, CycleOpen(period=PERIOD, seed=17), actor=None)
    engine.dispose()
    with serving(data, url) as running:
        yield running


def _reviewers(server: Server) -> list[tuple[str, int]]:
    """张伟's reviewers (username, assignment id), as only a test reads them."""
    engine = make_engine(server.db_url)
    with session_scope(engine, readonly=True) as session:
        zhang = session.scalars(select(User.id).where(User.username == "zhangwei")).one()
        rows = session.execute(select(User.username, PeerReviewAssignment.id)
                               .join(User, User.id == PeerReviewAssignment.reviewer_id)
                               .where(PeerReviewAssignment.reviewee_id == zhang)
                               .order_by(User.username)).all()
    engine.dispose()
    return [(name, aid) for name, aid in rows]


def _submit_directly(server: Server, username: str, assignment: int, prof: int, collab: int, comment: str) -> None:
    engine = make_engine(server.db_url)
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        service.submit(session, ReviewSubmit(assignment_id=assignment, professionalism=prof, collaboration=collab,
                                             comment=comment),
                       actor=Principal(user.id, user.username, user.display_name, user.role, user.team_id))
    engine.dispose()


def test_two_reviews_show_nothing_yet(server: Server, page: Page) -> None:
    for (reviewer, assignment), rating in zip(_reviewers(server)[:2], EARLIER, strict=True):
        _submit_directly(server, reviewer, assignment, *rating)
    sign_in(page, server.base, "zhangwei")
    page.goto(f"{server.base}/performance/peer")
    page.locator('[data-locale="en"]').click()
    mine = page.locator('[data-testid="peer-aggregate"]').filter(has_text="张伟")
    expect(mine.get_by_test_id("peer-not-enough")).to_have_text(
        "Not enough reviews yet: the aggregate shows from 3 reviews.")
    expect(mine.get_by_test_id("peer-figures")).to_have_count(0)
    expect(page.get_by_text("方案写得很扎实")).to_have_count(0)


def test_the_third_reviewer_writes_in_chinese(server: Server, page: Page) -> None:
    reviewer, assignment = _reviewers(server)[2]
    sign_in(page, server.base, reviewer)
    page.goto(f"{server.base}/performance/peer")
    expect(page.get_by_text("你要写的评议")).to_be_visible()
    card = page.locator(f'[data-assignment="{assignment}"]')
    expect(card).to_contain_text("张伟")
    card.get_by_test_id("peer-submit").click()
    expect(page.get_by_text("请同时为专业度和协作性打分。")).to_be_visible()
    card.get_by_test_id("peer-professionalism").get_by_text("4", exact=True).click()
    card.get_by_test_id("peer-collaboration").get_by_text("5", exact=True).click()
    card.locator('[data-testid="peer-comment"] textarea, textarea[data-testid="peer-comment"]').first.fill(
        LAST_COMMENT)
    card.get_by_test_id("peer-submit").click()
    expect(page.locator(f'[data-assignment="{assignment}"]').get_by_test_id("peer-done")).to_have_text(
        "已提交，谢谢。")


def _all_three_written(server: Server) -> None:
    """The reviews the steps before write (by the service, where a step ran on another test process and so on
    another server); one written already is refused, and stays as it was."""
    for (reviewer, assignment), rating in zip(_reviewers(server), [*EARLIER, (4, 5, LAST_COMMENT)], strict=True):
        with contextlib.suppress(Conflict):
            _submit_directly(server, reviewer, assignment, *rating)


def test_the_reviewee_reads_the_aggregate_unsigned_in_english(server: Server, page: Page) -> None:
    _all_three_written(server)
    sign_in(page, server.base, "zhangwei")
    page.goto(f"{server.base}/performance/peer")
    page.locator('[data-locale="en"]').click()
    mine = page.locator('[data-testid="peer-aggregate"]').filter(has_text="张伟")
    figures = mine.get_by_test_id("peer-figures")
    expect(figures).to_contain_text("Professionalism 4.00")
    expect(figures).to_contain_text("Collaboration 4.33")
    expect(figures).to_contain_text("3 reviews")
    expect(mine.get_by_test_id("peer-comment-shown")).to_have_count(2)
    expect(mine).to_contain_text(LAST_COMMENT)
    text = mine.inner_text()
    for reviewer, _ in _reviewers(server):
        assert reviewer not in text
    for name in ("陈小雨", "李华", "吴芳", "孙丽", "周杰"):
        assert name not in text
