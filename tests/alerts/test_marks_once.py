"""A transaction marks each entity once, however many of its flushes wrote it; a savepoint's marks are not
remembered (it may roll back), and marks taken by a scan no longer stand for a later change."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import evenhand.alerts.tasks  # noqa: F401 - registers the marks, as the app and the worker do
from evenhand.alerts import repository
from evenhand.db import session_scope
from evenhand.models import Lead, LeadStatus
from evenhand.models.alerts import AlertMark
from tests.builders import Org


def _marks(session: Session, lead: Lead) -> int:
    return session.scalar(select(func.count()).select_from(AlertMark).where(
        AlertMark.entity_type == "lead", AlertMark.entity_id == lead.id)) or 0


def _lead(session: Session, n: int) -> Lead:
    lead = Lead(source="web", external_id=f"M-{n}", company=f"公司{n}", status=LeadStatus.NEW)
    session.add(lead)
    session.flush()
    return lead


def test_a_lead_stored_then_assigned_in_one_transaction_is_marked_once(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        lead = _lead(session, 1)
        lead.owner_id, lead.status = org.id("rep_n1"), LeadStatus.ASSIGNED
        session.flush()
        assert _marks(session, lead) == 1
    with session_scope(engine) as session:  # another transaction marks it again
        stored = session.get(Lead, lead.id)
        assert stored is not None
        stored.status = LeadStatus.CONTACTED
        session.flush()
        assert _marks(session, stored) == 2


def test_a_savepoints_marks_are_not_remembered(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        lead = _lead(session, 2)
        with session.begin_nested() as inner:
            lead.status = LeadStatus.CONTACTED
            session.flush()
            inner.rollback()
        assert _marks(session, lead) == 1  # the mark of its INSERT; the savepoint's went with it
        session.refresh(lead)
        lead.status = LeadStatus.ASSIGNED
        session.flush()
        assert _marks(session, lead) == 1  # marked by its INSERT already, outside the savepoint


def test_a_change_after_the_marks_were_taken_marks_again(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        lead = _lead(session, 3)
        assert lead.id in repository.take_marks(session)["lead"]
        lead.status = LeadStatus.CONTACTED
        session.flush()
        assert _marks(session, lead) == 1
