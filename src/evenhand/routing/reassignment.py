"""Reassignment: a lead routed again, or given to a named rep, as a decision with the same evidence as any
other. Who may do it is ``service.may_reassign``. Callers commit."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Forbidden, Invalid
from evenhand.i18n import N_, t
from evenhand.kit.clock import utcnow
from evenhand.kit.text import require_clean
from evenhand.models import Lead, LeadStatus, RoutingDecision
from evenhand.notify import service as notify
from evenhand.org import service as org_service
from evenhand.routing import engine, service
from evenhand.routing.canary import lead_arm
from evenhand.routing.policy import CompiledPolicy
from evenhand.routing.reasons import explain
from evenhand.routing.router import lock_pool_state, place, record, save_pool_state
from evenhand.routing.snapshot import lead_snapshot
from evenhand.routing.values import Decision, LeadSnapshot, PoolState, RepState, Verdict

CLOSED = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
REASSIGN_KINDS = ("reassign", "manual", "appeal", "unacknowledged")


def reassign(session: Session, lead: Lead, *, actor: Principal | None, to_rep_id: int | None = None,
             exclude: Mapping[int, str] | None = None, kind: str = "reassign", note: str = "",
             now: datetime | None = None) -> RoutingDecision:
    """Route a lead again, or give it to ``to_rep_id`` (track ``manual``): a decision with the same evidence
    as any other, made by ``actor`` (who must be allowed, see ``service.may_reassign``), or by the policy itself when
    ``actor`` is None (kind ``unacknowledged``: the rep did not acknowledge the lead in time).

    ``exclude`` defaults to the current owner (``previous_owner``); ``{}`` excludes nobody. A re-route that
    excludes someone and finds nobody else is refused (``Conflict``) and changes nothing: the holding queue
    routes without exclusions and could hand the lead straight back. With no exclusions a held lead leaves
    its owner and waits in the queue. A new owner starts afresh (assigned now, no first response yet). The
    previous and the new owner are notified (after an appeal the appellant hears from the ruling instead).
    """
    require_clean(note, field="reason")  # pages call this directly, not through the API's schema
    _check(session, actor, lead, kind)
    started, at, previous = time.perf_counter_ns(), now or utcnow(), lead.owner_id
    out = dict(exclude) if exclude is not None else ({previous: "previous_owner"} if previous else {})
    arm = lead_arm(session, lead.id)  # a canary's lead stays the candidate's
    policy = arm.policy
    snapshot = lead_snapshot(lead)
    match = engine.select_pool(snapshot, policy)
    state = lock_pool_state(session, match.pool_id)
    # The excluded and the named are always in the record, so each of them can read why (or why not).
    reps = service.candidates(session, at, policy, snapshot, policy.pool(match.pool_id),
                              set(out) | ({to_rep_id} if to_rep_id else set()))
    decision = _decide_again(session, snapshot, reps, policy, state, at, match, to_rep_id, out)
    if decision.outcome == "held":
        if out:
            raise Conflict("Nobody else can take lead {id} right now; name a rep or try again later.",
                           field="rep_id", id=lead.id)
        lead.owner_id, lead.assigned_at, lead.status = None, None, LeadStatus.NEW
    if decision.rep_id != previous:
        lead.first_response_at = None  # the new owner's response is measured from the new assignment
    _settle(session, lead, decision, at)
    latency = (time.perf_counter_ns() - started) // 1000
    row = record(session, lead, decision, arm, kind, actor, latency,
                 {"previous_owner_id": previous, "note": note})
    _notify_owners(session, lead, row, previous, actor, note, tell_previous=kind != "appeal")
    return row


def _check(session: Session, actor: Principal | None, lead: Lead, kind: str) -> None:
    if kind not in REASSIGN_KINDS:
        raise ValueError(f"kind must be one of {REASSIGN_KINDS}")
    if actor is not None and not service.may_reassign(session, actor, lead):
        raise Forbidden("Only admin, ops and the supervisor of the owner's team may reassign lead {id}.",
                        field="lead_id", id=lead.id)
    if lead.status in CLOSED:
        raise Conflict("Lead {id} is closed ({status}); closed leads are not reassigned.", field="lead_id",
                       id=lead.id, status=lead.status.value)


def _settle(session: Session, lead: Lead, decision: Decision, at: datetime) -> None:
    """The lead goes to its new owner (or into the queue); a rep chosen from the pool moves its rotation."""
    place(session, lead, decision, at)
    if decision.outcome == "assigned":
        save_pool_state(session, decision.state_after, at)
    session.flush()


def _decide_again(session: Session, snapshot: LeadSnapshot, reps: list[RepState], policy: CompiledPolicy,
                  state: PoolState, at: datetime, match: engine.PoolMatch, to_rep_id: int | None,
                  out: Mapping[int, str]) -> Decision:
    if to_rep_id is None:
        return engine.decide(snapshot, reps, policy, state, at, match=match, excluded=out)
    try:
        return engine.assign_manually(snapshot, reps, policy, state, at, rep_id=to_rep_id, match=match,
                                      excluded=out)
    except engine.Refused as refused:
        raise _refusal(session, refused) from None


def _refusal(session: Session, refused: engine.Refused) -> Invalid:
    """Why a named rep may not have the lead, naming the rule."""
    name = org_service.display_names(session, {refused.rep_id}).get(refused.rep_id) or str(refused.rep_id)
    if refused.code == "not_a_rep":
        return Invalid("User {rep_id} is not a rep who can carry leads.", field="rep_id", rep_id=refused.rep_id)
    if refused.code == "previous_owner":
        return Invalid("The lead already belongs to {rep}.", field="rep_id", rep=name)
    if refused.code == "appealed":
        return Invalid("{rep} appealed this lead and cannot be given it again.", field="rep_id", rep=name)
    rule = explain(Verdict(refused.rep_id, refused.code, refused.params), t)
    return Invalid("{rep} cannot be given leads: {rule}", field="rep_id", rep=name, rule=rule)


def _notify_owners(session: Session, lead: Lead, row: RoutingDecision, previous: int | None, actor: Principal | None,
                   note: str, *, tell_previous: bool) -> None:
    link, new = f"/routing/decisions/{row.id}", row.rep_id
    rep = org_service.display_names(session, {new}).get(new) if new else None
    if new is not None and new != previous:
        notify.lead_assigned(session, lead, new, row.id)  # the usual "new lead" message, acknowledged and escalated
    if tell_previous and previous is not None and previous != new:
        notify.send(session, recipient_id=previous, kind="lead_reassigned", lead_id=lead.id, link=link,
                    key=f"lead_reassigned:{row.id}",
                    title=N_("Lead {company} was taken from you"),
                    body=N_("{actor} reassigned it to {rep}. {note}") if rep else
                    N_("{actor} reassigned it; it waits for an available rep. {note}"),
                    company=lead.company, actor=actor.display_name if actor else t("The routing policy"), rep=rep or "",
                    note=note)
