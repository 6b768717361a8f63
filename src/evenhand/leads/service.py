"""Lead intake. Callers commit.

Intake is idempotent on (source, external_id): a repeat returns the lead already there, so a
marketing form that retries after a timeout never creates a second lead.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.kit import audit
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Lead


def find(session: Session, *, source: str, external_id: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.source == source, Lead.external_id == external_id))


def intake(session: Session, data: LeadCreate, *, actor: Principal | None) -> tuple[Lead, bool]:
    """Create the lead, or return the existing one; the flag says whether it is new."""
    existing = find(session, source=data.source, external_id=data.external_id)
    if existing is not None:
        return existing, False
    lead = Lead(**data.model_dump())
    try:
        with session.begin_nested():
            session.add(lead)
            session.flush()
    except IntegrityError:
        # Another request created it between our look and our insert.
        again = find(session, source=data.source, external_id=data.external_id)
        if again is None:
            raise
        return again, False
    audit.append(session, action="leads.intake", subject_type="leads", subject_id=lead.id,
                 payload={"source": lead.source, "external_id": lead.external_id},
                 actor_id=actor.user_id if actor else None)
    return lead, True
