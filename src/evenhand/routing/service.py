"""Routing around the pure engine: policy versions, routing a lead in the caller's transaction, the
holding queue, and replaying a recorded decision. Callers commit.

Concurrency: a decision reads its pool's state and writes it back in the same transaction. On
PostgreSQL the pool's state row is locked (``FOR UPDATE``) for that time, so two server processes
routing into one pool take turns; on SQLite every writing transaction already holds the database's
write lock (see db.py).
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import NotFound, invalid_document
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import utcnow
from evenhand.kit.once import get_or_create
from evenhand.leads import repository as lead_repository
from evenhand.models import AuditEntry, HeldLead, Lead, LeadStatus, PoolStateRow, RoutingDecision, RoutingPolicyVersion
from evenhand.routing import engine
from evenhand.routing.document import MESSAGES, PolicyError
from evenhand.routing.policy import CompiledPolicy, compile, default_text, parse
from evenhand.routing.snapshot import lead_snapshot, rep_states
from evenhand.routing.values import Decision, PoolState

DEFAULT_NOTE = "the default policy shipped with evenhand"


@lru_cache(maxsize=16)
def compiled_body(body: str) -> CompiledPolicy:
    return compile(parse(body))


def validate(body: str) -> CompiledPolicy:
    """The compiled policy, or ``Invalid`` naming the path and line of every problem."""
    try:
        return compiled_body(body)
    except PolicyError as exc:
        raise invalid_document(exc, N_("The routing policy is wrong at {where} (line {line}): {problem}"),
                               MESSAGES) from exc


def active(session: Session) -> RoutingPolicyVersion:
    """The active version; the first caller on a new database installs the shipped default as version 1."""
    body = default_text()
    return versions_kit.active(session, RoutingPolicyVersion, lambda: RoutingPolicyVersion(
        version=1, name=compiled_body(body).policy.name, body=body, note=DEFAULT_NOTE, active=True))


def save(session: Session, body: str, *, author: Principal | None, note: str = "",
         affected_metrics: list[str] | None = None) -> RoutingPolicyVersion:
    """Store the next version and make it active; the audit entry carries the diff and the declared impact."""
    compiled = validate(body)
    metrics = affected_metrics or []
    return versions_kit.save(session, RoutingPolicyVersion, active(session), action="routing.policy_saved",
                             actor_id=author.user_id if author else None, payload={"affected_metrics": metrics},
                             name=compiled.policy.name, body=body, note=note, affected_metrics=metrics)


def _pool_state(session: Session, pool_id: str) -> PoolState:
    stmt = select(PoolStateRow).where(PoolStateRow.pool_id == pool_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        get_or_create(session, select(PoolStateRow).where(PoolStateRow.pool_id == pool_id),
                      lambda: PoolStateRow(pool_id=pool_id, seq=0, state=PoolState(pool_id).to_dict(),
                                           updated_at=utcnow()))
        row = session.scalar(stmt)  # now locked on PostgreSQL
        assert row is not None
    return PoolState.from_dict(row.state)


def _save_state(session: Session, state: PoolState, now: datetime) -> None:
    session.execute(update(PoolStateRow).where(PoolStateRow.pool_id == state.pool_id)
                    .values(state=state.to_dict(), seq=state.seq, updated_at=now))


def route(session: Session, lead: Lead, *, kind: str = "intake", actor: Principal | None = None,
          now: datetime | None = None) -> RoutingDecision:
    """Decide who gets the lead, apply it, and record the evidence — all in the caller's transaction."""
    started = time.perf_counter_ns()
    at = now or utcnow()
    version = active(session)
    policy = compiled_body(version.body)
    snapshot = lead_snapshot(lead)
    match = engine.select_pool(snapshot, policy)
    state = _pool_state(session, match.pool_id)
    reps = rep_states(session, at, get_settings().zone, high_value=policy.policy.threshold_high_value)
    decision = engine.decide(snapshot, reps, policy, state, at, match=match)
    _apply(session, lead, decision, at)
    latency = (time.perf_counter_ns() - started) // 1000
    return _record(session, lead, decision, version.version, kind, actor, latency)


def _apply(session: Session, lead: Lead, decision: Decision, at: datetime) -> None:
    if decision.outcome == "assigned":
        lead.owner_id, lead.assigned_at, lead.status = decision.rep_id, at, LeadStatus.ASSIGNED
        _save_state(session, decision.state_after, at)
        held = session.get(HeldLead, lead.id)
        if held is not None:
            session.delete(held)
    elif session.get(HeldLead, lead.id) is None:
        session.add(HeldLead(lead_id=lead.id, pool_id=decision.pool_id, held_since=at))
    session.flush()


def _record(session: Session, lead: Lead, decision: Decision, version: int, kind: str, actor: Principal | None,
            latency_us: int) -> RoutingDecision:
    entry = audit.append(session, action=f"routing.{kind}", subject_type="leads", subject_id=lead.id,
                         payload={"decision": decision.to_dict(), "policy_version": version, "kind": kind,
                                  "latency_us": latency_us}, actor_id=actor.user_id if actor else None)
    row = RoutingDecision(lead_id=lead.id, kind=kind, outcome=decision.outcome, rep_id=decision.rep_id,
                          track=decision.track, pool_id=decision.pool_id, policy_version=version,
                          latency_us=latency_us, actor_id=actor.user_id if actor else None, audit_seq=entry.seq)
    session.add(row)
    session.flush()
    return row


def release_held(session: Session, *, now: datetime | None = None) -> list[RoutingDecision]:
    """Try every held lead again (oldest first); those that find a rep leave the queue."""
    out = []
    for held in session.scalars(select(HeldLead).order_by(HeldLead.held_since)).all():
        lead = session.get(Lead, held.lead_id)
        if lead is not None and lead.owner_id is None:
            decision = route(session, lead, kind="release", now=now)
            if decision.outcome == "assigned":
                out.append(decision)
    return out


def decision(session: Session, decision_id: int) -> tuple[RoutingDecision, dict[str, Any]]:
    row = session.get(RoutingDecision, decision_id)
    if row is None:
        raise NotFound("No routing decision with id {id}.", field="decision_id", id=decision_id)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.seq == row.audit_seq))
    assert entry is not None
    return row, entry.payload


def visible_decision(session: Session, principal: Principal, decision_id: int) -> dict[str, Any]:
    """The evidence as this person may see it. Whoever may read the lead, and every rep who was
    considered for it ("why not me"), may look; staff, supervisors and the chosen rep see every
    candidate, other reps only their own verdict (not colleagues' presence or leave)."""
    row, payload = decision(session, decision_id)
    record = payload["decision"]
    readable = session.scalar(lead_repository.readable(principal).where(Lead.id == row.lead_id)
                              .with_only_columns(Lead.id)) is not None
    if not readable and not any(v["rep_id"] == principal.user_id for v in record["verdicts"]):
        raise NotFound("No routing decision with id {id}.", field="decision_id", id=decision_id)
    full = principal.reads_everything or bool(principal.supervised_team_ids) or principal.user_id == row.rep_id
    return {"row": row, "record": record, "full": full,
            "verdicts": record["verdicts"] if full else [v for v in record["verdicts"]
                                                          if v["rep_id"] == principal.user_id]}


def feed(session: Session, principal: Principal, *, lead_id: int | None = None, limit: int = 50
         ) -> list[RoutingDecision]:
    """Recent decisions, newest first, about leads the caller may read."""
    visible = lead_repository.readable(principal).with_only_columns(Lead.id).scalar_subquery()
    stmt = select(RoutingDecision).where(RoutingDecision.lead_id.in_(visible))
    if lead_id is not None:
        stmt = stmt.where(RoutingDecision.lead_id == lead_id)
    return list(session.scalars(stmt.order_by(RoutingDecision.id.desc()).limit(limit)))


def replay(session: Session, decision_id: int) -> tuple[Decision, Decision]:
    """The recorded decision and the one recomputed from its recorded inputs under its policy version."""
    row, payload = decision(session, decision_id)
    body = session.scalar(select(RoutingPolicyVersion.body).where(RoutingPolicyVersion.version == row.policy_version))
    assert body is not None
    recorded = Decision.from_dict(payload["decision"])
    return recorded, engine.replay(recorded, compiled_body(body))
