"""A lead's outcome over the API: converted (to the deal it became) or disqualified with a reason, by whoever may
read the lead and write; timestamped and audited, a correction audited with what it replaced (R1.1)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry, Lead, LeadStatus, Opportunity
from tests.builders import Org


def outcome(client: TestClient, org: Org, who: str, lead_id: int, **body: object) -> tuple[int, dict[str, object]]:
    response = client.post(f"/api/v1/leads/{lead_id}/outcome", json=body, headers=org.headers(who))
    return response.status_code, response.json()


def entries(engine: Engine, lead_id: int) -> list[AuditEntry]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "leads.outcome",
                                                             AuditEntry.subject_id == str(lead_id))
                                    .order_by(AuditEntry.seq)))


def test_the_rep_converts_their_lead_to_its_deal_once(client: TestClient, org: Org, engine: Engine) -> None:
    lead, deal = org.leads[0], org.opportunities[0]  # rep_n1's, and the deal it became
    at = "2026-11-20T10:00:00+08:00"
    status, body = outcome(client, org, "rep_n1", lead.id, outcome="converted", opportunity_id=deal.id, at=at)
    assert status == 200 and body["status"] == "converted"
    assert body["closed_at"] is not None and datetime.fromisoformat(str(body["closed_at"])) == datetime(
        2026, 11, 20, 2, 0, tzinfo=UTC)
    assert outcome(client, org, "rep_n1", lead.id, outcome="converted", opportunity_id=deal.id, at=at)[0] == 200
    (entry,) = entries(engine, lead.id)  # the same outcome again changes nothing
    assert entry.actor_id == org.id("rep_n1") and entry.payload["opportunity_id"] == deal.id
    with session_scope(engine, readonly=True) as session:
        assert session.get(Opportunity, deal.id).lead_id == lead.id  # type: ignore[union-attr]


def test_a_correction_is_audited_with_what_it_replaced(client: TestClient, org: Org, engine: Engine) -> None:
    lead = org.leads[1]  # rep_n2's; their supervisor corrects it
    assert outcome(client, org, "rep_n2", lead.id, outcome="disqualified", reason="No budget")[0] == 200
    status, body = outcome(client, org, "sup_a", lead.id, outcome="converted")
    assert status == 200 and (body["status"], body["disqualify_reason"]) == ("converted", None)
    first, second = entries(engine, lead.id)
    assert first.payload["reason"] == "No budget"
    assert second.payload["before"]["status"] == "disqualified" and second.actor_id == org.id("sup_a")


def test_nobody_sets_the_outcome_of_a_lead_they_may_not_read_or_without_writing(client: TestClient, org: Org,
                                                                                 engine: Engine) -> None:
    lead = org.leads[0]
    assert outcome(client, org, "rep_e1", lead.id, outcome="converted")[0] == 404
    assert outcome(client, org, "auditor", lead.id, outcome="converted")[0] == 403
    status, body = outcome(client, org, "rep_n1", lead.id, outcome="converted", reason="why not")
    assert status == 422 and body["error"]["field"] == "reason"
    status, body = outcome(client, org, "rep_n1", lead.id, outcome="disqualified",
                           opportunity_id=org.opportunities[0].id)
    assert status == 422 and body["error"]["field"] == "opportunity_id"
    status, body = outcome(client, org, "rep_n1", lead.id, outcome="won")
    assert status == 422 and body["error"]["field"] == "outcome"
    with session_scope(engine, readonly=True) as session:
        assert session.get(Lead, lead.id).status is LeadStatus.ASSIGNED  # type: ignore[union-attr]
    assert entries(engine, lead.id) == []
