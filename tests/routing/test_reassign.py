"""Reassignment and manual assignment by a supervisor: decisions with evidence like any other, audited,
replayable, both owners told; only admin, ops and the right supervisor may make them."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import AuditEntry, HeldLead, Lead, LeadStatus, Leave, Presence, User
from evenhand.routing import service
from tests.appeals.factory import Company, actions, build, inbox, last_seq, lead_to, routed_lead
from tests.support import error_of

EN = {"Accept-Language": "en"}


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def reassign(client: TestClient, company: Company, who: str, lead_id: int, **body: object) -> httpx.Response:
    return client.post(f"/api/v1/leads/{lead_id}/reassign", json={"reason": "调整"} | body,
                       headers=company.headers(who) | EN)


def test_rerouting_excludes_the_owner_is_audited_and_tells_both(client: TestClient, engine: Engine,
                                                                company: Company) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    before = last_seq(engine)
    response = reassign(client, company, "boss", lead_id, reason="a 请假前交接")
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["kind"] == "reassign" and decision["rep_id"] in (company.ids["b"], company.ids["c"])
    assert actions(engine, before) == ["routing.reassign"]
    with session_scope(engine, readonly=True) as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        assert entry is not None and entry.actor_id == company.ids["boss"]
        assert (entry.payload["previous_owner_id"], entry.payload["note"]) == (company.ids["a"], "a 请假前交接")
        assert entry.payload["decision"]["excluded"] == {str(company.ids["a"]): "previous_owner"}
        recorded, replayed = service.replay(session, decision["id"])
        assert recorded.to_dict() == replayed.to_dict()
        assert session.get(Lead, lead_id).owner_id == decision["rep_id"]  # type: ignore[union-attr]
    # the first assignment, then the hand-over
    assert [k for k, _ in inbox(engine, company.ids["a"])] == ["lead_assigned", "lead_reassigned"]
    assert [k for k, _ in inbox(engine, decision["rep_id"])] == ["lead_assigned"]


def test_manual_assignment_records_what_the_supervisor_overrode(client: TestClient, engine: Engine,
                                                                company: Company) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == company.ids["c"]).values(presence=Presence.OFFLINE,
                                                                                daily_lead_cap=0))
    response = reassign(client, company, "admin", lead_id, rep_id=company.ids["c"])
    assert response.status_code == 200, response.text
    decision = response.json()
    assert (decision["kind"], decision["track"], decision["rep_id"]) == ("manual", "manual", company.ids["c"])
    evidence = client.get(f"/api/v1/routing/decisions/{decision['id']}", headers=company.headers("admin")).json()
    chosen = next(v for v in evidence["verdicts"] if v["rep_id"] == company.ids["c"])
    assert chosen["code"] == "chosen" and chosen["also"] == ["offline", "at_daily_cap"]
    assert evidence["state_before"] == evidence["state_after"]
    with session_scope(engine, readonly=True) as session:
        recorded, replayed = service.replay(session, decision["id"])
        assert recorded.to_dict() == replayed.to_dict()


@pytest.mark.parametrize("rule", ["inactive", "departed", "on_leave"])
def test_naming_a_rep_who_may_not_have_leads_is_refused_naming_the_rule(client: TestClient, engine: Engine,
                                                                        company: Company, rule: str) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    with session_scope(engine) as session:
        rep = session.get(User, company.ids["c"])
        assert rep is not None
        if rule == "inactive":
            rep.active = False
        elif rule == "departed":
            rep.left_on = date(2026, 1, 1)
        else:
            session.add(Leave(user_id=rep.id, starts_on=date(2026, 1, 1), ends_on=date(2099, 1, 1)))
    before = last_seq(engine)
    response = reassign(client, company, "admin", lead_id, rep_id=company.ids["c"])
    error = error_of(response)
    assert response.status_code == 422 and error["field"] == "rep_id"
    assert error["message"].startswith("C cannot be given leads: ")
    assert {"inactive": "inactive", "departed": "Left the company", "on_leave": "On leave"}[rule] in error["message"]
    assert last_seq(engine) == before


def test_other_refusals(client: TestClient, engine: Engine, company: Company) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    owner = reassign(client, company, "admin", lead_id, rep_id=company.ids["a"])
    assert error_of(owner)["message"] == "The lead already belongs to A."
    nobody = reassign(client, company, "admin", lead_id, rep_id=company.ids["ops"])
    assert error_of(nobody)["field"] == "rep_id"
    no_reason = client.post(f"/api/v1/leads/{lead_id}/reassign", json={"rep_id": None},
                            headers=company.headers("admin"))
    assert no_reason.status_code == 422 and error_of(no_reason)["field"] == "reason"
    with session_scope(engine) as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(status=LeadStatus.CONVERTED))
    closed = reassign(client, company, "admin", lead_id)
    assert closed.status_code == 409 and error_of(closed)["field"] == "lead_id"


def test_who_may_reassign(client: TestClient, engine: Engine, company: Company) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    assert reassign(client, company, "a", lead_id).status_code == 403  # the owner
    assert reassign(client, company, "b", lead_id).status_code == 404  # cannot read it
    assert reassign(client, company, "boss2", lead_id).status_code == 404
    assert reassign(client, company, "auditor", lead_id).status_code == 403
    assert reassign(client, company, "ops", lead_id).status_code == 200


def test_a_held_lead_is_reassigned_by_the_supervisor_of_its_pool(client: TestClient, engine: Engine,
                                                                 company: Company) -> None:
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == company.ids["s"]).values(presence=Presence.OFFLINE))
        lead, decision = routed_lead(session, 7, region="south")
        assert decision.outcome == "held"
        lead_id = lead.id
    assert reassign(client, company, "boss", lead_id).status_code == 404  # east
    again = reassign(client, company, "boss2", lead_id)  # routed again: still nobody, still waiting
    assert again.status_code == 200 and again.json()["outcome"] == "held"
    response = reassign(client, company, "boss2", lead_id, rep_id=company.ids["s"], reason="他马上上线")
    assert response.status_code == 200, response.text
    with session_scope(engine, readonly=True) as session:
        assert session.get(Lead, lead_id).owner_id == company.ids["s"]  # type: ignore[union-attr]
        assert session.get(HeldLead, lead_id) is None
    assert [k for k, _ in inbox(engine, company.ids["s"])] == ["lead_assigned"]


def test_the_owner_a_lead_is_taken_from_is_in_the_evidence_even_from_outside_the_pool(
        client: TestClient, engine: Engine, company: Company) -> None:
    lead_id, _ = lead_to(engine, company, "a")
    to_s = reassign(client, company, "admin", lead_id, rep_id=company.ids["s"], reason="华南同事代跟")
    assert to_s.status_code == 200, to_s.text
    with session_scope(engine) as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(first_response_at=utcnow()))
    back = reassign(client, company, "admin", lead_id, reason="回到华东轮转").json()
    assert back["rep_id"] in (company.ids["a"], company.ids["b"], company.ids["c"])
    seen = client.get(f"/api/v1/routing/decisions/{back['id']}", headers=company.headers("s"))
    assert seen.status_code == 200  # "why not me" for the rep it was taken from
    assert [(v["rep_id"], v["code"]) for v in seen.json()["verdicts"]] == [(company.ids["s"], "not_in_pool")]
    with session_scope(engine, readonly=True) as session:
        recorded, replayed = service.replay(session, back["id"])
        assert recorded.excluded == {company.ids["s"]: "previous_owner"}
        assert recorded.to_dict() == replayed.to_dict()
        assert session.get(Lead, lead_id).first_response_at is None  # type: ignore[union-attr]  # s's, not theirs
