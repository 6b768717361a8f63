"""Work that crosses domains: a lead is taken in, scored and routed in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Presence, RoutingDecision, User
from evenhand.org import service as org_service
from evenhand.routing import service as routing_service


def intake_and_route_many(session: Session, rows: Sequence[LeadCreate], *, actor: Principal | None,
                          dedup: Sequence[str]) -> list[tuple[lead_service.Intake, RoutingDecision | None]]:
    """Take a batch in and route every lead it created, in arrival order, in the caller's transaction."""
    results = lead_service.intake_many(session, rows, actor=actor, dedup=dedup)
    decisions = route_new(session, results, actor=actor)
    return [(r, decisions.get(r.lead.id) if r.created else None) for r in results]


def set_presence(session: Session, user_id: int, presence: Presence, *, actor: Principal) -> User:
    """A presence change is evidence too (audited by the organisation service); a rep coming online may
    be the candidate a held lead was waiting for."""
    user = org_service.set_presence(session, user_id, presence, actor=actor)
    if presence is Presence.ONLINE:
        routing_service.release_held(session)
    return user


def route_new(session: Session, intakes: Sequence[lead_service.Intake], *,
              actor: Principal | None) -> dict[int, RoutingDecision]:
    """Route every lead a batch created, in arrival order."""
    if not any(r.created for r in intakes):
        return {}
    router = routing_service.Router(session)
    router.route_all([r.lead for r in intakes if r.created], actor=actor)
    return {row.lead_id: row for row in router.finish()}
