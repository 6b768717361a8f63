"""Appeals through the service: who may file, the window, one appeal per decision, and each ruling's effect
on the lead, the routing evidence, the audit chain and the inboxes (R1.4)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from evenhand.appeals import service
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import t
from evenhand.kit import audit_check
from evenhand.models import Appeal, AppealStatus, Lead, RoutingDecision, User
from evenhand.routing import reassignment
from evenhand.routing import service as routing_service
from evenhand.routing.reasons import REASONS
from tests.appeals.factory import Company, actions, age_decision, build, file, inbox, last_seq, lead_to, principal, rule


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def test_filing_is_audited_and_tells_the_team_supervisor(engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    before = last_seq(engine)
    appeal_id = file(engine, company, "a", decision_id, corrections={"industry": "批发"})
    with session_scope(engine, readonly=True) as session:
        appeal = session.get(Appeal, appeal_id)
        assert appeal is not None and appeal.status is AppealStatus.OPEN
        assert (appeal.appellant_id, appeal.team_id) == (company.ids["a"], company.teams["east"])
        assert appeal.corrections == {"industry": "批发"}
    assert actions(engine, before) == ["appeals.filed"]
    assert [kind for kind, _ in inbox(engine, company.ids["boss"])] == ["appeal_filed"]
    assert inbox(engine, company.ids["boss2"]) == []


def test_the_window_closes_and_the_refusal_says_when(engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    age_decision(engine, decision_id, minutes=121)
    with pytest.raises(Conflict) as refused:
        file(engine, company, "a", decision_id)
    assert refused.value.field == "decision_id" and "closed at" in refused.value.message
    assert refused.value.params["minutes"] == 120
    age_decision(engine, decision_id, minutes=119)
    assert file(engine, company, "a", decision_id)


@pytest.mark.parametrize(("who", "error"), [("b", Forbidden), ("boss", Forbidden), ("s", NotFound)])
def test_only_the_rep_the_lead_went_to_may_appeal(engine: Engine, company: Company, who: str,
                                                 error: type[Exception]) -> None:
    _, decision_id = lead_to(engine, company, "a")
    with pytest.raises(error) as refused:
        file(engine, company, who, decision_id)
    assert refused.value.field == "decision_id"  # type: ignore[attr-defined]


def test_one_appeal_per_decision_unless_withdrawn(engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    first = file(engine, company, "a", decision_id)
    with pytest.raises(Conflict, match="appealed already"):
        file(engine, company, "a", decision_id)
    with session_scope(engine) as session:
        with pytest.raises(Forbidden):
            service.withdraw(session, first, actor=principal(session, "boss", company))
        service.withdraw(session, first, actor=principal(session, "a", company))
    assert [kind for kind, _ in inbox(engine, company.ids["boss"])] == ["appeal_filed", "appeal_withdrawn"]
    second = file(engine, company, "a", decision_id)
    assert second != first
    rule(engine, company, "boss", second, outcome="uphold")
    with pytest.raises(Conflict):
        file(engine, company, "a", decision_id)


def test_only_the_latest_assignment_may_be_appealed(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    with session_scope(engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        reassignment.reassign(session, lead, actor=principal(session, "admin", company), to_rep_id=company.ids["a"],
                              exclude={}, kind="manual", note="back to a")
    with pytest.raises(Conflict, match="assigned again"):
        file(engine, company, "a", decision_id)


def test_corrections_must_name_things_that_exist(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    with pytest.raises(Invalid) as region:
        file(engine, company, "a", decision_id, corrections={"region": "mars"})
    assert region.value.field == "corrections.region" and "east, south" in region.value.params["known"]
    with pytest.raises(Invalid) as itself:
        file(engine, company, "a", decision_id, reason_code="duplicate", corrections={"duplicate_of_id": lead_id})
    assert itself.value.field == "corrections.duplicate_of_id"
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(Appeal.id)) is None


def test_uphold_keeps_the_assignment_and_tells_the_appellant(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    before = last_seq(engine)
    appeal = rule(engine, company, "boss", appeal_id, outcome="uphold", note="制造业没错")
    assert (appeal.status, appeal.ruling, appeal.outcome_decision_id) == (AppealStatus.UPHELD, "制造业没错", None)
    assert appeal.decided_by_id == company.ids["boss"] and appeal.decided_at is not None
    assert actions(engine, before) == ["appeals.ruled"]
    with session_scope(engine, readonly=True) as session:
        assert session.get(Lead, lead_id).owner_id == company.ids["a"]  # type: ignore[union-attr]
    assert inbox(engine, company.ids["a"])[-1][0] == "appeal_ruled"
    with pytest.raises(Conflict, match="ruled or withdrawn once"):
        rule(engine, company, "boss", appeal_id, outcome="reassign")


def test_rescore_applies_the_corrections_and_routes_the_lead_again(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id, reason_code="out_of_territory",
                     corrections={"region": "south", "industry": "批发"})
    before = last_seq(engine)
    appeal = rule(engine, company, "boss", appeal_id, outcome="rescore", note="区域改为华南")
    assert appeal.status is AppealStatus.RESCORED and appeal.outcome_decision_id is not None
    assert actions(engine, before) == ["leads.corrected", "routing.appeal", "appeals.ruled"]
    with session_scope(engine, readonly=True) as session:
        lead = session.get(Lead, lead_id)
        new = session.get(RoutingDecision, appeal.outcome_decision_id)
        assert lead is not None and new is not None
        assert (lead.region, lead.industry, lead.owner_id) == ("south", "批发", company.ids["s"])
        assert (new.kind, new.pool_id, new.rep_id, new.actor_id) == ("appeal", "rest", company.ids["s"],
                                                                     company.ids["boss"])
        recorded, replayed = routing_service.replay(session, new.id)
        assert recorded.to_dict() == replayed.to_dict()
        assert audit_check.verify(session)[1] is None
    assert inbox(engine, company.ids["a"])[-1][0] == "appeal_ruled"
    assert "lead_assigned" in [kind for kind, _ in inbox(engine, company.ids["s"])]


def test_reassign_routes_again_without_the_appellant(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    appeal = rule(engine, company, "admin", appeal_id, outcome="reassign")
    with session_scope(engine, readonly=True) as session:
        owner = session.get(Lead, lead_id).owner_id  # type: ignore[union-attr]
        assert owner in (company.ids["b"], company.ids["c"])
        recorded, replayed = routing_service.replay(session, appeal.outcome_decision_id)  # type: ignore[arg-type]
        assert recorded.to_dict() == replayed.to_dict()
        assert recorded.verdict_for(company.ids["a"]).code == "appealed"  # type: ignore[union-attr]
        assert recorded.excluded == {company.ids["a"]: "appealed"} and recorded.track == "round_robin"
    assert appeal.status is AppealStatus.REASSIGNED
    assert inbox(engine, company.ids["a"])[-1][0] == "appeal_ruled"
    assert [k for k, _ in inbox(engine, owner)] == ["lead_assigned"]


def test_reassign_to_a_named_rep_is_a_manual_decision(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    with pytest.raises(Invalid, match="appealed this lead") as refused:  # the appellant cannot be named
        rule(engine, company, "boss", appeal_id, outcome="reassign", rep_id=company.ids["a"])
    assert refused.value.field == "rep_id"
    with session_scope(engine) as session:
        session.get(User, company.ids["c"]).active = False  # type: ignore[union-attr]
    with pytest.raises(Invalid) as inactive:
        rule(engine, company, "boss", appeal_id, outcome="reassign", rep_id=company.ids["c"])
    assert inactive.value.field == "rep_id" and inactive.value.params == {"rep": "C", "rule": t(REASONS["inactive"])}
    appeal = rule(engine, company, "boss", appeal_id, outcome="reassign", rep_id=company.ids["s"], note="给华南")
    with session_scope(engine, readonly=True) as session:
        new = session.get(RoutingDecision, appeal.outcome_decision_id)
        assert new is not None and (new.track, new.kind, new.rep_id) == ("manual", "appeal", company.ids["s"])
        recorded, replayed = routing_service.replay(session, new.id)
        assert recorded.to_dict() == replayed.to_dict()
        assert recorded.verdict_for(company.ids["s"]).also == ("not_in_pool",)  # type: ignore[union-attr]
        assert session.get(Lead, lead_id).owner_id == company.ids["s"]  # type: ignore[union-attr]


def test_who_may_rule(engine: Engine, company: Company) -> None:
    _, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    with pytest.raises(NotFound):
        rule(engine, company, "boss2", appeal_id, outcome="uphold")  # another team's supervisor
    with pytest.raises(Forbidden):
        rule(engine, company, "a", appeal_id, outcome="uphold")
    assert rule(engine, company, "ops", appeal_id, outcome="uphold").status is AppealStatus.UPHELD


def test_a_reassignment_nobody_can_take_changes_nothing(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    with session_scope(engine) as session:
        for name in ("b", "c"):
            session.get(User, company.ids[name]).active = False  # type: ignore[union-attr]
    before = last_seq(engine)
    with pytest.raises(Conflict, match="Nobody else"):
        rule(engine, company, "boss", appeal_id, outcome="reassign")
    assert last_seq(engine) == before
    with session_scope(engine, readonly=True) as session:
        assert session.get(Appeal, appeal_id).status is AppealStatus.OPEN  # type: ignore[union-attr]
        assert session.get(Lead, lead_id).owner_id == company.ids["a"]  # type: ignore[union-attr]


def test_after_the_lead_moved_on_only_uphold_is_left(engine: Engine, company: Company) -> None:
    lead_id, decision_id = lead_to(engine, company, "a")
    appeal_id = file(engine, company, "a", decision_id)
    with session_scope(engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        reassignment.reassign(session, lead, actor=principal(session, "admin", company), kind="reassign",
                              note="管理员调整")
    with pytest.raises(Conflict, match="only be upheld"):
        rule(engine, company, "boss", appeal_id, outcome="rescore")
    assert rule(engine, company, "boss", appeal_id, outcome="uphold").status is AppealStatus.UPHELD
