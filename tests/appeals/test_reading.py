"""What the appeal pages and the API read: what each person may do about a decision, the supervisor's queue
with the evidence, and the tables of appeals — each through the owners' visibility rules."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update

from evenhand.appeals import reading
from evenhand.db import session_scope
from evenhand.models import AppealStatus, Lead, LeadStatus, User
from tests.appeals.factory import WINDOW, Company, build, file, lead_to, principal, rule


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def options(engine: Engine, company: Company, who: str, decision_id: int) -> reading.DecisionOptions | None:
    with session_scope(engine, readonly=True) as session:
        return reading.decision_options(session, principal(session, who, company), decision_id, window=WINDOW)


def queue(engine: Engine, company: Company, who: str) -> list[reading.QueueItem]:
    with session_scope(engine, readonly=True) as session:
        return reading.queue(session, principal(session, who, company))


def test_the_rep_may_appeal_and_the_team_supervisor_and_ops_may_reassign(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    rep = options(engine, company, "a", decision_id)
    assert rep is not None and rep.appeal_closes is not None and rep.own_appeal is None
    assert rep.regions == {"east": "华东", "south": "华南"}
    assert (rep.lead_id, rep.reps) == (None, {})
    for who in ("boss", "ops", "admin"):
        boss = options(engine, company, who, decision_id)
        assert boss is not None and boss.lead_id == lead_id and boss.appeal_closes is None, who
        # whoever carries leads, but the owner; staff do not carry leads
        assert boss.reps == {company.ids[n]: n.upper() for n in ("b", "boss", "boss2", "c", "s")}, who
    nothing = reading.DecisionOptions(own_appeal=None, appeal_closes=None, regions={}, lead_id=None, reps={})
    for who in ("b", "boss2", "auditor"):  # b and boss2 may not read the lead; the auditor writes nothing
        assert options(engine, company, who, decision_id) == nothing, who
    assert options(engine, company, "a", decision_id + 1000) is None


def test_nobody_reassigns_a_closed_lead(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    with session_scope(engine) as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(status=LeadStatus.CONVERTED))
    found = options(engine, company, "boss", decision_id)
    assert found is not None and found.lead_id is None


def test_the_appellant_sees_their_appeal_after_the_lead_went_to_someone_else(engine: Engine,
                                                                            company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    found = options(engine, company, "a", decision_id)
    assert found is not None and (found.own_appeal, found.appeal_closes) == (AppealStatus.OPEN, None)
    rule(engine, company, "boss", appeal_id, outcome="reassign", rep_id=company.ids["b"])
    found = options(engine, company, "a", decision_id)  # the lead is b's now: a may not read it
    assert found is not None and (found.own_appeal, found.appeal_closes, found.lead_id) == (
        AppealStatus.REASSIGNED, None, None)
    other = options(engine, company, "b", decision_id)
    assert other is not None and other.own_appeal is None


def test_the_queue_shows_the_evidence_and_whom_a_ruling_may_name(engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    [item] = queue(engine, company, "boss")
    assert (item.appeal.id, item.company, item.appellant, item.may_rule) == (appeal_id, "公司1", "A", True)
    assert item.score is not None
    assert [(name, v.code) for name, v in item.verdicts] == [
        ("BOSS", "offline"), ("A", "chosen"), ("B", "away"), ("C", "away")]
    assert company.ids["a"] not in item.reps and item.reps[company.ids["b"]] == "B"
    assert queue(engine, company, "boss2") == []
    assert [i.may_rule for who in ("ops", "auditor") for i in queue(engine, company, who)] == [True, False]


def test_an_appeal_whose_lead_moved_out_of_sight_stays_in_the_queue(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:  # the supervisor is no member of the pool: not among the verdicts
        session.execute(update(User).where(User.id == company.ids["boss"]).values(team_id=None))
    lead_id, decision_id = lead_to(engine, company, "a")
    file(engine, company, "a", decision_id)
    with session_scope(engine) as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(owner_id=company.ids["s"]))
    [item] = queue(engine, company, "boss")
    assert (item.company, item.appellant, item.score, item.verdicts, item.may_rule) == ("公司1", "A", None, [], True)


def test_the_tables_of_decided_and_own_appeals(engine: Engine, company: Company) -> None:
    ruled = file(engine, company, "a", lead_to(engine, company, "a", 1)[1])
    rule(engine, company, "boss", ruled, outcome="uphold", note="维持")
    still_open = file(engine, company, "b", lead_to(engine, company, "b", 2)[1])
    with session_scope(engine, readonly=True) as session:
        decided = reading.decided(session, principal(session, "boss", company))
        mine = reading.filed_by(session, principal(session, "a", company))
        theirs = reading.filed_by(session, principal(session, "boss", company))
        other_team = reading.decided(session, principal(session, "boss2", company))
    assert [(r.appeal.id, r.company, r.appellant, r.appeal.ruling) for r in decided] == [(ruled, "公司1", "A", "维持")]
    assert [r.appeal.id for r in mine] == [ruled] and still_open not in [r.appeal.id for r in decided]
    assert theirs == [] and other_team == []
