"""Drawing, verifying, reviewing, acknowledging, coaching and trends, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.models import Activity, AuditEntry, Notification, QaReview, QaSample, ReviewStatus, User
from evenhand.qa import service
from evenhand.qa.schemas import ReviewRead, ReviewSave
from tests.builders import Org
from tests.qa import company
from tests.qa.company import PERIOD

SCORES = {"discovery": 4, "objection_handling": 3, "next_step": 5, "compliance": 4}


@pytest.fixture
def calls(engine: Engine, org: Org) -> dict[str, list[int]]:
    with session_scope(engine) as session:
        return company.build(session, org)


def principal(session: Session, org: Org, name: str) -> Principal:
    user = session.get(User, org.id(name))
    assert user is not None
    supervised = frozenset(t.id for t in org.teams.values() if t.supervisor_id == user.id)
    return Principal(user.id, user.username, user.display_name, user.role, user.team_id, supervised)


def draw(engine: Engine, seed: int | None = 11, **options: object) -> service.Drawn:
    with session_scope(engine) as session:
        return service.draw(session, PERIOD, seed=seed, **options)  # type: ignore[arg-type]


def review_of(engine: Engine, org: Org, rep: str) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalars(select(QaReview.id).where(QaReview.rep_id == org.id(rep))
                               .order_by(QaReview.id)).first() or 0


def save(engine: Engine, org: Org, who: str, review_id: int, **fields: object) -> ReviewRead:
    given = {"scores": SCORES, "comment": "开场很好", "coaching": ["先问预算再报价"], **fields}
    data = ReviewSave.model_validate(given)
    with session_scope(engine) as session:
        return service.save_review(session, review_id, data, actor=principal(session, org, who))


def test_a_draw_takes_the_periods_recorded_outbound_calls_stratified_by_rep(engine: Engine, org: Org,
                                                                             calls: dict[str, list[int]]) -> None:
    drawn = draw(engine)
    assert drawn.sample.calls == 49 and drawn.sample.share == 0.1 and drawn.sample.current
    population = {i for ids in calls.values() for i in ids}
    assert set(drawn.ids) <= population
    per_rep = {rep: len(set(drawn.ids) & set(ids)) for rep, ids in calls.items()}
    assert per_rep == {"rep_n1": 3, "rep_n2": 1, "rep_s1": 1, "rep_e1": 1}  # 10% of 49 is 5; 李 e1's one call too
    with session_scope(engine, readonly=True) as session:
        reviews = session.scalars(select(QaReview)).all()
        assert sorted(r.activity_id for r in reviews) == drawn.ids
        assert {r.status for r in reviews} == {ReviewStatus.PENDING}
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "qa.sampled")).one()
        assert entry.payload["seed"] == 11 and entry.payload["drawn"] == 6


def test_the_same_seed_draws_the_same_calls_and_a_new_seed_a_new_current_sample(engine: Engine, org: Org,
                                                                                 calls: dict[str, list[int]]) -> None:
    first = draw(engine, 11)
    again = draw(engine, 11)
    assert again.ids == first.ids and not again.fresh and again.sample.id == first.sample.id
    other = draw(engine, 12)
    assert other.fresh and other.ids != first.ids
    with session_scope(engine, readonly=True) as session:
        assert [s.seed for s in session.scalars(select(QaSample).where(QaSample.current.is_(True)))] == [12]
    back = draw(engine, 11)  # drawing the first seed again makes its sample current, with the same calls
    assert back.ids == first.ids and back.sample.current
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(QaSample)) == 2
    with pytest.raises(Conflict) as refused:
        draw(engine, 11, share=0.2)
    assert refused.value.field == "share"


def test_a_fresh_seed_is_recorded_and_verifies(engine: Engine, calls: dict[str, list[int]]) -> None:
    drawn = draw(engine, None)
    with session_scope(engine, readonly=True) as session:
        result = service.verify(session, PERIOD)
    assert result.matches and result.seed == drawn.sample.seed and result.stored == drawn.ids


def test_verify_says_when_the_population_changed_since(engine: Engine, org: Org, calls: dict[str, list[int]]) -> None:
    draw(engine, 5)
    with session_scope(engine) as session:
        session.execute(update(Activity).where(Activity.id.in_(calls["rep_n2"])).values(recording_ref=None))
    with session_scope(engine, readonly=True) as session:
        result = service.verify(session, PERIOD)
    assert not result.matches and (result.calls_then, result.calls_now) == (49, 37)


def test_a_period_is_a_month(engine: Engine, calls: dict[str, list[int]]) -> None:
    with session_scope(engine) as session, pytest.raises(Invalid) as refused:
        service.draw(session, "2026-13")
    assert refused.value.field == "period"
    with session_scope(engine, readonly=True) as session, pytest.raises(NotFound):
        service.verify(session, "2026-02")


def test_the_worker_draws_last_month_once_at_the_start_of_the_next(engine: Engine,
                                                                   calls: dict[str, list[int]]) -> None:
    from evenhand.notify import jobs
    from evenhand.qa import tasks

    assert "qa.monthly_draw" in {job.name for job in jobs.registered()}
    with session_scope(engine) as session:
        tasks.monthly_draw(session, datetime(2026, 3, 31, 15, 0, tzinfo=UTC))  # 23:00 on 31 March: February's turn
        tasks.monthly_draw(session, datetime(2026, 3, 31, 16, 5, tzinfo=UTC))  # 00:05 on 1 April in Shanghai
        tasks.monthly_draw(session, datetime(2026, 4, 2, 9, 0, tzinfo=UTC))
    with session_scope(engine, readonly=True) as session:
        samples = session.scalars(select(QaSample)).all()
    # February had one recorded call (28 Feb 23:00 in Shanghai), so it gets its sample; March gets one, once.
    assert sorted((s.period, s.calls) for s in samples) == [("2026-02", 1), (PERIOD, 49)]


def test_the_supervisor_reviews_and_the_rep_is_told(engine: Engine, org: Org, calls: dict[str, list[int]]) -> None:
    draw(engine)
    review = review_of(engine, org, "rep_n1")
    with session_scope(engine, readonly=True) as session:
        queue = service.queue(session, principal(session, org, "sup_a"))
        assert {r.rep_id for r in queue} == {org.id("rep_n1"), org.id("rep_n2"), org.id("rep_s1")}
        assert service.queue(session, principal(session, org, "rep_n1")) == []
        assert {r.rep for r in service.queue(session, principal(session, org, "sup_b"))} == {"Rep E1"}
    saved = save(engine, org, "sup_a", review)
    assert saved.status is ReviewStatus.REVIEWED and saved.average == 4.0
    with session_scope(engine, readonly=True) as session:
        told = session.scalars(select(Notification).where(Notification.kind == "qa_feedback")).one()
        row = session.get(QaReview, review)
        assert row is not None and row.rubric_version == 1 and row.reviewer_id == org.id("sup_a")
        assert row.coaching == [{"text": "先问预算再报价", "done": False, "done_at": None}]
        assert session.scalar(select(func.count()).where(AuditEntry.action == "qa.reviewed")) == 1
    assert told.recipient_id == org.id("rep_n1") and told.link == "/qa"


@pytest.mark.parametrize(("who", "error"), [("rep_n1", Forbidden), ("sup_b", NotFound), ("auditor", Forbidden)])
def test_who_may_not_review(engine: Engine, org: Org, calls: dict[str, list[int]], who: str,
                            error: type[Exception]) -> None:
    draw(engine)
    with pytest.raises(error):
        save(engine, org, who, review_of(engine, org, "rep_n1"))


def test_ops_review_anyone_but_scores_must_fit_the_rubric(engine: Engine, org: Org,
                                                          calls: dict[str, list[int]]) -> None:
    draw(engine)
    review = review_of(engine, org, "rep_e1")
    with pytest.raises(Invalid) as unknown:
        save(engine, org, "ops", review, scores={**SCORES, "charm": 5})
    assert unknown.value.field == "scores.charm"
    with pytest.raises(Invalid) as missing:
        save(engine, org, "ops", review, scores={"discovery": 3})
    assert missing.value.field == "scores.objection_handling"
    assert save(engine, org, "ops", review).status is ReviewStatus.REVIEWED


def test_the_rep_acknowledges_once_and_the_review_is_then_fixed(engine: Engine, org: Org,
                                                                calls: dict[str, list[int]]) -> None:
    draw(engine)
    review = review_of(engine, org, "rep_n1")
    with session_scope(engine) as session, pytest.raises(Conflict):  # nothing to acknowledge yet
        service.acknowledge(session, review, actor=principal(session, org, "rep_n1"))
    save(engine, org, "sup_a", review)
    with session_scope(engine) as session, pytest.raises(Forbidden):
        service.acknowledge(session, review, actor=principal(session, org, "sup_a"))
    with session_scope(engine) as session:
        done = service.acknowledge(session, review, actor=principal(session, org, "rep_n1"))
    assert done.status is ReviewStatus.ACKNOWLEDGED and done.acknowledged_at is not None
    with pytest.raises(Conflict):
        save(engine, org, "sup_a", review)
    with session_scope(engine, readonly=True) as session:
        mine = service.feedback(session, principal(session, org, "rep_n1"))
    assert [(r.id, r.comment, r.scores) for r in mine] == [(review, "开场很好", SCORES)]


def test_coaching_items_carry_over_until_marked_done(engine: Engine, org: Org, calls: dict[str, list[int]]) -> None:
    draw(engine)
    first = review_of(engine, org, "rep_n1")
    save(engine, org, "sup_a", first, coaching=["先问预算再报价", "约定下次通话时间"])
    with session_scope(engine) as session:  # next month's sample: the open items show on the rep's next review
        company.call(session, org, "rep_n1", datetime(2026, 4, 3, 2, 0, tzinfo=UTC))
        service.draw(session, "2026-04", seed=1)
    with session_scope(engine, readonly=True) as session:
        boss = principal(session, org, "sup_a")
        [april] = [r for r in service.queue(session, boss) if r.period == "2026-04"]
        carried = service.open_coaching(session, boss, april.rep_id)
    assert [(c.text, c.period) for c in carried] == [("先问预算再报价", PERIOD), ("约定下次通话时间", PERIOD)]
    with session_scope(engine) as session:
        service.coaching_done(session, first, 0, actor=principal(session, org, "rep_n1"))
        with pytest.raises(NotFound):  # another rep does not read it
            service.coaching_done(session, first, 1, actor=principal(session, org, "rep_n2"))
        with pytest.raises(Forbidden):
            service.coaching_done(session, first, 1, actor=principal(session, org, "auditor"))
    with session_scope(engine, readonly=True) as session:
        left = service.open_coaching(session, principal(session, org, "rep_n1"), org.id("rep_n1"))
    assert [c.text for c in left] == ["约定下次通话时间"]


def test_a_new_draw_keeps_finished_reviews(engine: Engine, org: Org, calls: dict[str, list[int]]) -> None:
    first = draw(engine, 11)
    review = review_of(engine, org, "rep_e1")  # 李 e1 has one call: every draw samples it
    save(engine, org, "ops", review)
    second = draw(engine, 12)
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(QaReview).where(QaReview.rep_id == org.id("rep_e1"))).all()
        pending = service.queue(session, principal(session, org, "sup_b"))
    assert {(r.sample_id, r.status) for r in rows} == {(first.sample.id, ReviewStatus.REVIEWED),
                                                      (second.sample.id, ReviewStatus.REVIEWED)}
    assert pending == []  # the call drawn again keeps its review: nobody reviews it twice


def test_trends_average_each_criterion_per_month_per_rep_and_team(engine: Engine, org: Org,
                                                                  calls: dict[str, list[int]]) -> None:
    draw(engine)
    with session_scope(engine, readonly=True) as session:
        reviews = session.scalars(select(QaReview.id).where(QaReview.rep_id == org.id("rep_n1"))).all()
    save(engine, org, "sup_a", reviews[0])
    save(engine, org, "sup_a", reviews[1], scores={**SCORES, "discovery": 2})
    with session_scope(engine, readonly=True) as session:
        found = service.trends(session, principal(session, org, "sup_a"), until="2026-04", periods=2, locale="zh-CN")
        other = service.trends(session, principal(session, org, "sup_b"), until="2026-04", periods=2)
    assert found["periods"] == [PERIOD, "2026-04"] and found["labels"]["discovery"] == "需求挖掘深度"
    [rep] = found["reps"]
    assert rep["name"] == "Rep N1" and rep["periods"][0]["reviews"] == 2
    assert rep["periods"][0]["averages"] == {"discovery": 3.0, "objection_handling": 3.0, "next_step": 5.0,
                                             "compliance": 4.0}
    assert rep["periods"][1] == {"period": "2026-04", "reviews": 0, "averages": dict.fromkeys(SCORES)}
    assert [t["name"] for t in found["teams"]] == ["North"] and other["reps"] == []
