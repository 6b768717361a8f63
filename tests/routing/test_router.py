"""Routing many leads in one transaction (``router.Router``) decides exactly what routing each lead in its own
transaction does: the same reps, tracks and pools, and evidence equal field for field — while caps fill up
and round-robin pointers and weighted credits move inside the batch (R1.2, R1.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.intake import flows as intake_flows
from evenhand.kit import audit, audit_check
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import (
    AuditEntry,
    Department,
    Lead,
    LeadStatus,
    Level,
    Notification,
    Opportunity,
    Presence,
    Region,
    Role,
    RoutingDecision,
    Stage,
    Team,
    User,
)
from evenhand.routing import service
from evenhand.routing.router import Router, route

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 11:00 in Shanghai
LEADS = 48


def company(session: Session) -> list[int]:
    """Two departments in two regions, four reps a team (one junior, one with a daily cap of 2), a little
    history (leads taken today, closed deals) so counts and win rates differ; then the leads to route,
    scored so that both tracks and both departments' pools are used."""
    regions = [Region(code=c, name=c) for c in ("east", "south")]
    depts = [Department(code=c, name=c) for c in ("key_accounts", "smb")]
    session.add_all([*regions, *depts])
    session.flush()
    reps: list[User] = []
    for dept in depts:
        for region in regions:
            team = Team(name=f"{dept.code}-{region.code}", department_id=dept.id, region_id=region.id)
            session.add(team)
            session.flush()
            for i in range(4):
                reps.append(User(username=f"{team.name}-{i}", display_name=f"{team.name}-{i}", role=Role.REP,
                                 team_id=team.id, level=Level.JUNIOR if i == 0 else Level.SENIOR,
                                 presence=Presence.ONLINE, working_hours={}, max_open_leads=50,
                                 daily_lead_cap=2 if i == 3 else 20, monthly_quota=Decimal(100_000)))
    session.add_all(reps)
    session.flush()
    for n, rep in enumerate(reps):
        for k in range(n % 3):  # leads already taken today
            session.add(Lead(source="crm", external_id=f"old-{rep.id}-{k}", company=f"旧{rep.id}-{k}", owner_id=rep.id,
                             assigned_at=NOW - timedelta(hours=1), status=LeadStatus.ASSIGNED, score=50 + 20 * k))
        for k in range(n % 4 + 1):  # closed deals: win rates and quota attainment differ
            session.add(Opportunity(name=f"deal-{rep.id}-{k}", owner_id=rep.id, amount=Decimal(10_000 * (k + 1)),
                                    stage=Stage.WON if k % 2 == 0 else Stage.LOST,
                                    closed_at=NOW - timedelta(days=3 + k)))
    rows = [LeadCreate(source="website", external_id=f"new-{n}", company=f"新公司{n}",
                       region=("east", "south")[n % 2], company_size=(40, 350, 120, 800)[n % 4]) for n in range(LEADS)]
    leads = [r.lead for r in lead_service.intake_many(session, rows, actor=None, dedup=[])]
    for n, lead in enumerate(leads):
        lead.score = (35, 85, 60, 92, 81, 20)[n % 6]
    session.flush()
    return [lead.id for lead in leads]


def _evidence(session: Session, row: RoutingDecision) -> dict[str, Any]:
    _, payload = service.decision(session, row.id)
    return {"lead_id": row.lead_id, "outcome": row.outcome, "rep_id": row.rep_id, "track": row.track,
            "pool_id": row.pool_id, "decision": payload["decision"]}


def test_a_batch_decides_as_one_lead_at_a_time_does(engine: Engine) -> None:
    with session_scope(engine) as session:
        ids = company(session)
    with session_scope(engine) as session:  # the batch, looked at and then undone
        router = Router(session, now=NOW)
        router.route_all([session.get(Lead, i) for i in ids])  # type: ignore[misc]
        together = [_evidence(session, row) for row in router.finish()]
        session.rollback()
    alone = []
    for lead_id in ids:
        with session_scope(engine) as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            alone.append(_evidence(session, route(session, lead, now=NOW)))
    assert [e["lead_id"] for e in together] == ids
    assert {e["track"] for e in together} == {"round_robin", "weighted"}
    assert {e["pool_id"] for e in together} == {"key_accounts", "smb"}
    capped = [v for e in together for v in e["decision"]["verdicts"] if v["code"] == "at_daily_cap"]
    assert capped, "the capped reps fill up inside the batch"
    assert together == alone


def test_a_batch_of_intakes_is_stored_as_single_intakes_are(engine: Engine) -> None:
    """Leads, decisions, audit entries and "new lead" messages: one each per lead, linked up."""
    with session_scope(engine) as session:
        company(session)
    rows = [LeadCreate(source="website", external_id=f"batch-{n}", company=f"批量{n}", region="east",
                       email=f"b{n % 5}@corp.cn", company_size=60) for n in range(20)]
    with session_scope(engine) as session:
        out = intake_flows.take_in(session, rows, actor=None, dedup=["email"])
    with session_scope(engine, readonly=True) as session:
        decisions = {d.lead_id: d for d in session.scalars(select(RoutingDecision))}
        assert [i.lead.id for i, _ in out] == sorted(decisions)
        for intake, decision in out:
            assert decision is not None and decisions[intake.lead.id].id == decision.id
            assert session.get(Lead, intake.lead.id).owner_id == decision.rep_id  # type: ignore[union-attr]
        # the first of each e-mail is the original of the later ones
        originals = [i.lead.duplicate_of_id for i, _ in out]
        assert originals[:5] == [None] * 5
        assert originals[5:] == [out[n % 5][0].lead.id for n in range(5, 20)]
        actions = dict(session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.action.in_(["leads.intake", "routing.intake"]),
            AuditEntry.subject_id.in_([str(i.lead.id) for i, _ in out])).group_by(AuditEntry.action)).tuples().all())
        assert actions == {"leads.intake": 20, "routing.intake": 20}
        seqs = {d.audit_seq for d in decisions.values()}
        assert len(seqs) == 20
        messages = session.scalars(select(Notification).where(Notification.kind == "lead_assigned",
                                                              Notification.message_id.is_(None))).all()
        assert sorted((m.lead_id, m.recipient_id) for m in messages) == sorted(
            (d.lead_id, d.rep_id) for d in decisions.values())
    with session_scope(engine, readonly=True) as session:
        count, broken = audit_check.verify(session)
        assert broken is None and count > 40


@pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True)
def test_routing_takes_the_audit_chain_lock_before_a_pool_row(engine: Engine) -> None:
    """Intake appends to the chain before it locks a pool; a reassignment locks the pool before it appends.
    Both take the chain's lock first, so the two cannot deadlock on PostgreSQL."""
    held = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND objid = :k")
    with session_scope(engine) as session:
        company(session)
    with session_scope(engine) as session:
        assert session.execute(held, {"k": audit._LOCK_KEY}).scalar() == 0
        Router(session, now=NOW).route_all([])  # nothing to route: no lock
        assert session.execute(held, {"k": audit._LOCK_KEY}).scalar() == 0
        lead = session.scalars(select(Lead).where(Lead.external_id == "new-0")).one()
        router = Router(session, now=NOW)
        router._match(lead)  # reads (and locks) the lead's pool state
        assert session.execute(held, {"k": audit._LOCK_KEY}).scalar() == 1
        session.rollback()
