"""A new lead's row is written once: routing decides before the lead is stored (its id taken first), and the
lead's INSERT carries its rep, its status and the moment it was assigned, as well as a link to an earlier lead of
its batch. A lead nobody can take is queued once stored. A scoring model that blends in the predictive model reads
the stored lead: its leads are stored first and given their rep afterwards, with the same decisions (R1.2, R1.3)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select, update

from evenhand.db import session_scope
from evenhand.intake import flows
from evenhand.leads import scoring_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import HeldLead, Lead, LeadStatus, Presence, RoutingDecision, User
from tests.intake.test_doors import LEADS, company, imported
from tests.leads.test_scoring_service import SMALL
from tests.support import statements


def _batch(first: int) -> list[LeadCreate]:
    """Four leads of the doors' company; the fourth shares the first one's e-mail."""
    rows = [LeadCreate.model_validate({**LEADS[n], "external_id": f"W-{first + n}"}) for n in range(3)]
    return [*rows, LeadCreate.model_validate({**LEADS[7], "external_id": f"W-{first + 3}"})]


def _take(engine: Engine, rows: list[LeadCreate]) -> tuple[list[str], list[tuple[int, RoutingDecision | None]]]:
    with statements(engine) as seen, session_scope(engine) as session:
        routed = flows.take_in(session, rows, actor=None, dedup=["email"])
        taken = [(intake.lead.id, decision) for intake, decision in routed]
        session.expunge_all()
    return seen, taken


def _stored(engine: Engine, ids: list[int]) -> list[tuple[int | None, LeadStatus, bool, int | None]]:
    with session_scope(engine, readonly=True) as session:
        leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)))}
        return [(leads[i].owner_id, leads[i].status, leads[i].assigned_at is not None, leads[i].duplicate_of_id)
                for i in ids]


def test_a_routed_lead_is_written_once_with_its_rep(engine: Engine) -> None:
    company(engine)
    seen, taken = _take(engine, _batch(0))
    ids = [lead_id for lead_id, _ in taken]
    assert all(d is not None and d.outcome == "assigned" for _, d in taken)
    assert [s for s in seen if s.startswith("UPDATE leads")] == []  # fails when the rep is given afterwards
    inserts = [s for s in seen if s.startswith("INSERT INTO leads")]
    assert len(inserts) == 1 and "RETURNING" not in inserts[0]
    assert _stored(engine, ids) == [(d.rep_id, LeadStatus.ASSIGNED, True, link)  # type: ignore[union-attr]
                                    for (_, d), link in zip(taken, [None, None, None, ids[0]], strict=True)]
    with session_scope(engine, readonly=True) as session:
        decided = session.scalars(select(RoutingDecision.lead_id).order_by(RoutingDecision.id)).all()
    assert decided == ids and ids == sorted(ids)


def test_a_lead_nobody_can_take_is_queued_once_stored(engine: Engine) -> None:
    company(engine)
    with session_scope(engine) as session:
        session.execute(update(User).values(presence=Presence.OFFLINE))
    seen, [(lead_id, decision)] = _take(engine, _batch(10)[:1])
    assert decision is not None and decision.outcome == "held" and decision.rep_id is None
    assert _stored(engine, [lead_id]) == [(None, LeadStatus.NEW, False, None)]
    with session_scope(engine, readonly=True) as session:
        held = session.get(HeldLead, lead_id)
        assert held is not None and held.pool_id == decision.pool_id
    inserted = [s.split(" (")[0].removeprefix("INSERT INTO ") for s in seen if s.startswith("INSERT INTO")]
    assert inserted.index("leads") < inserted.index("routing_holds")  # queued once stored


def test_a_model_blending_in_the_predictive_one_routes_stored_leads_alike(engine: Engine) -> None:
    """Scored once stored, the leads are given their reps by an UPDATE, with the decisions the same batch gets when
    placed before it is stored (taken first in a transaction rolled back; the predictive model, untrained, adds
    nothing to the scores)."""
    company(engine)
    with session_scope(engine) as session:
        scoring_service.save(session, SMALL, author=None)
    with session_scope(engine) as session:
        placed = [(lead.score, d.outcome, d.rep_id, d.pool_id)  # type: ignore[union-attr]
                  for lead, d in ((i.lead, d) for i, d in flows.take_in(session, _batch(20), actor=None, dedup=[]))]
        session.rollback()
    with session_scope(engine) as session:
        scoring_service.save(session, SMALL + "blend: {predictive_weight: 0.5}\n", author=None)
    with statements(engine) as seen, session_scope(engine) as session:
        stored = [(lead.score, d.outcome, d.rep_id, d.pool_id)  # type: ignore[union-attr]
                  for lead, d in ((i.lead, d) for i, d in flows.take_in(session, _batch(20), actor=None, dedup=[]))]
        ids = [lead.id for lead in session.scalars(select(Lead).order_by(Lead.id))]
    assert any(s.startswith("UPDATE leads SET") and "owner_id" in s for s in seen)  # given afterwards
    assert stored == placed and len(ids) == 4
    assert [row[:3] for row in _stored(engine, ids)] == [(rep, LeadStatus.ASSIGNED, True) for _, _, rep, _ in stored]


def test_a_companys_file_of_leads_is_written_once(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """The doors' company takes its leads from a CSV export and a mapping (``evenhand import leads``, with an engine
    of its own): every routed lead's row carries its decision's rep from its INSERT on, none is updated."""
    with statements(Engine) as seen:  # type: ignore[arg-type]  # every engine: the command makes its own
        imported(None, db_url, tmp_path)  # type: ignore[arg-type]
    assert [s for s in seen if s.startswith("UPDATE leads")] == []
    assert sum(s.startswith("INSERT INTO leads") for s in seen) == 1
    with session_scope(engine, readonly=True) as session:
        decided = {d.lead_id: d for d in session.scalars(select(RoutingDecision))}
        leads = list(session.scalars(select(Lead)))
    assert len(leads) == len(decided) == len(LEADS)
    assert any(d.outcome == "assigned" for d in decided.values())
    for lead in leads:
        decision = decided[lead.id]
        assigned = decision.outcome == "assigned"
        assert (lead.owner_id, lead.status, lead.assigned_at is not None) == (
            decision.rep_id, LeadStatus.ASSIGNED if assigned else LeadStatus.NEW, assigned)
