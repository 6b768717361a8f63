"""Work that crosses domains: new leads are routed; a rep coming online may take held leads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.leads import service as lead_service
from evenhand.models import Presence, RoutingDecision, User
from evenhand.org import service as org_service
from evenhand.routing import holds, router


def set_presence(session: Session, user_id: int, presence: Presence, *, actor: Principal) -> User:
    """A presence change is evidence too (audited by the organisation service); a rep coming online may
    be the candidate a held lead was waiting for."""
    user = org_service.set_presence(session, user_id, presence, actor=actor)
    if presence is Presence.ONLINE:
        holds.release_held(session)
    return user


def route_new(session: Session, intakes: Sequence[lead_service.Intake], *,
              actor: Principal | None) -> dict[int, RoutingDecision]:
    """Route every lead a batch created, in arrival order."""
    if not any(r.created for r in intakes):
        return {}
    batch = router.Router(session)
    batch.route_all([r.lead for r in intakes if r.created], actor=actor)
    return {row.lead_id: row for row in batch.finish()}
