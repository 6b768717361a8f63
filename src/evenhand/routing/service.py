"""Routing around the pure engine: policy versions, routing a lead in the caller's transaction, the
holding queue, and replaying a recorded decision. Callers commit.

Concurrency: a decision reads its pool's state and writes it back in the same transaction. On
PostgreSQL the pool's state row is locked (``FOR UPDATE``) for that time, so two server processes
routing into one pool take turns; on SQLite every writing transaction already holds the database's
write lock (see db.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound, invalid_document
from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import local, utcnow
from evenhand.kit.once import get_or_create
from evenhand.kit.text import require_clean
from evenhand.leads import repository as lead_repository
from evenhand.models import (
    AuditEntry,
    HeldLead,
    Lead,
    LeadStatus,
    PoolStateRow,
    RoutingDecision,
    RoutingPolicyVersion,
    Team,
    User,
)
from evenhand.notify import service as notify
from evenhand.routing import engine
from evenhand.routing.availability import membership, membership_key
from evenhand.routing.document import MESSAGES, PolicyError
from evenhand.routing.policy import CompiledPolicy, CompiledPool, compile, default_text, parse
from evenhand.routing.reasons import explain
from evenhand.routing.snapshot import Roster, lead_snapshot, rep_states
from evenhand.routing.values import Decision, LeadSnapshot, PoolState, RepState, Verdict

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


def history(session: Session) -> list[tuple[RoutingPolicyVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: saved by the system or the CLI)."""
    stmt = (select(RoutingPolicyVersion, User.display_name).outerjoin(User, User.id == RoutingPolicyVersion.author_id)
            .order_by(RoutingPolicyVersion.version.desc()))
    return list(session.execute(stmt).tuples())


def version(session: Session, number: int) -> RoutingPolicyVersion:
    row = versions_kit.numbered(session, RoutingPolicyVersion, number)
    if row is None:
        raise NotFound("No routing policy version {version}.", field="version", version=number)
    return row


_STATES: Table = PoolStateRow.__table__  # type: ignore[assignment]
_STATE = select(_STATES.c.state).where(_STATES.c.pool_id == bindparam("pool_id"))
_STATE_LOCKED = _STATE.with_for_update()
_SAVE_STATE = (update(_STATES).where(_STATES.c.pool_id == bindparam("pool"))
               .values(state=bindparam("state"), seq=bindparam("seq"), updated_at=bindparam("at")))


def _pool_state(session: Session, pool_id: str) -> PoolState:
    """The pool's state, read (and on PostgreSQL locked) through the connection; the first decision in a
    pool creates its row. The audit chain is locked first: every routing writer appends to it, and taking
    it before the pool's row keeps one lock order for all of them."""
    audit.lock(session)
    session.flush()
    stmt = _STATE_LOCKED if session.get_bind().dialect.name == "postgresql" else _STATE
    state = session.connection().execute(stmt, {"pool_id": pool_id}).scalar()
    if state is None:
        get_or_create(session, select(PoolStateRow).where(PoolStateRow.pool_id == pool_id),
                      lambda: PoolStateRow(pool_id=pool_id, seq=0, state=PoolState(pool_id).to_dict(),
                                           updated_at=utcnow()))
        session.flush()
        state = session.connection().execute(stmt, {"pool_id": pool_id}).scalar()  # now locked on PostgreSQL
        assert state is not None
    return PoolState.from_dict(state)


def _save_state(session: Session, state: PoolState, now: datetime) -> None:
    """Written through the connection, like the read: no ORM copy of the row is kept to go stale."""
    session.flush()
    session.connection().execute(_SAVE_STATE, {"pool": state.pool_id, "state": state.to_dict(), "seq": state.seq,
                                               "at": now})


def route(session: Session, lead: Lead, *, kind: str = "intake", actor: Principal | None = None,
          now: datetime | None = None) -> RoutingDecision:
    """Decide who gets the lead, apply it, and record the evidence — all in the caller's transaction."""
    router = Router(session, now=now)
    row = router.route(lead, kind=kind, actor=actor)
    router.finish()
    return row


class Router:
    """Routes leads one after another in the caller's transaction, at one moment (``now``).

    The active policy, each pool's state and its members' counts are read once and kept current in memory
    as leads go out (``snapshot.Roster``), so routing a batch gives exactly the decisions routing each lead
    on its own would, for a fraction of the reads. ``finish()`` writes pool states, decision rows and their
    audit entries together, and sends each assigned rep the "new lead" message."""

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session, self.at = session, now or utcnow()
        self.version = active(session)
        self.policy = compiled_body(self.version.body)
        self.roster = Roster(session, self.at, get_settings().zone, high_value=self.policy.policy.threshold_high_value)
        self._states: dict[str, PoolState] = {}
        self._changed: set[str] = set()
        self._made: list[tuple[Lead, RoutingDecision]] = []
        self._member_sets: dict[tuple[str, tuple[str | None, ...]], list[RepState]] = {}

    def route_all(self, leads: Sequence[Lead], *, kind: str = "intake",
                  actor: Principal | None = None) -> list[RoutingDecision]:
        """``route`` each lead in order, after reading every pool state and count they need in one go."""
        matches = self._prepare(leads)
        return [self.route(lead, kind=kind, actor=actor, matched=m) for lead, m in zip(leads, matches, strict=True)]

    def release(self, leads: Sequence[Lead]) -> None:
        """Offer held leads again, in order. Only a lead that finds a rep gets a decision (kind ``release``);
        one that still finds nobody keeps its place in the queue, and the decision that queued it still says
        why — so a queue retried every minute does not write a decision a minute."""
        for lead, matched in zip(leads, self._prepare(leads), strict=True):
            started = time.perf_counter_ns()
            decision = self._decide(matched)
            if decision.outcome == "assigned":
                self._apply(lead, decision, matched[0], "release", None, started)

    def _prepare(self, leads: Sequence[Lead]) -> list[tuple[LeadSnapshot, engine.PoolMatch]]:
        matches = [self._match(lead) for lead in leads]
        self.roster.count(rep for snapshot, match in matches for rep in self._members(snapshot, match))
        return matches

    def _match(self, lead: Lead) -> tuple[LeadSnapshot, engine.PoolMatch]:
        snapshot = lead_snapshot(lead)
        match = engine.select_pool(snapshot, self.policy)
        if match.pool_id not in self._states:
            self._states[match.pool_id] = _pool_state(self.session, match.pool_id)
        return snapshot, match

    def _members(self, snapshot: LeadSnapshot, match: engine.PoolMatch) -> list[RepState]:
        pool = self.policy.pool(match.pool_id)
        key = (pool.id, membership_key(snapshot, pool))
        if key not in self._member_sets:
            self._member_sets[key] = self.roster.uncounted(pool, lambda rep: not membership(rep, snapshot, pool))
        return self._member_sets[key]

    def route(self, lead: Lead, *, kind: str = "intake", actor: Principal | None = None,
              matched: tuple[LeadSnapshot, engine.PoolMatch] | None = None) -> RoutingDecision:
        """The lead's decision, applied to it; the row is stored by ``finish()``."""
        started = time.perf_counter_ns()
        matched = matched or self._match(lead)
        return self._apply(lead, self._decide(matched), matched[0], kind, actor, started)

    def _decide(self, matched: tuple[LeadSnapshot, engine.PoolMatch]) -> Decision:
        snapshot, match = matched
        reps = self.roster.counted(self._members(snapshot, match))
        return engine.decide(snapshot, reps, self.policy, self._states[match.pool_id], self.at, match=match)

    def _apply(self, lead: Lead, decision: Decision, snapshot: LeadSnapshot, kind: str, actor: Principal | None,
               started: int) -> RoutingDecision:
        if decision.outcome == "assigned" and decision.rep_id is not None:
            self._states[decision.pool_id] = decision.state_after
            self._changed.add(decision.pool_id)
            self.roster.assigned(decision.rep_id, snapshot.score)
        _place(self.session, lead, decision, self.at, maybe_held=kind != "intake")
        latency = (time.perf_counter_ns() - started) // 1000
        row = _record(self.session, lead, decision, self.version.version, kind, actor, latency, flush=False)
        self._made.append((lead, row))
        return row

    def finish(self) -> list[RoutingDecision]:
        """Write what ``route`` decided: pool states, decision rows with their audit entries, messages."""
        for pool_id in sorted(self._changed):
            _save_state(self.session, self._states[pool_id], self.at)
        self._changed.clear()
        self.session.flush()
        made, self._made = self._made, []
        notify.leads_assigned(self.session, [(lead, row.rep_id, row.id) for lead, row in made
                                             if row.rep_id is not None])  # acknowledged when the rep opens the lead
        return [row for _, row in made]


def _apply(session: Session, lead: Lead, decision: Decision, at: datetime) -> None:
    _place(session, lead, decision, at)
    if decision.outcome == "assigned":
        _save_state(session, decision.state_after, at)
    session.flush()


def _place(session: Session, lead: Lead, decision: Decision, at: datetime, *, maybe_held: bool = True) -> None:
    """Give the lead to its rep, or queue it; ``maybe_held=False`` for a lead that cannot be queued yet."""
    held = session.get(HeldLead, lead.id) if maybe_held else None
    if decision.outcome == "assigned":
        lead.owner_id, lead.assigned_at, lead.status = decision.rep_id, at, LeadStatus.ASSIGNED
        if held is not None:
            session.delete(held)
    elif held is None:
        session.add(HeldLead(lead_id=lead.id, pool_id=decision.pool_id, held_since=at))


def _record(session: Session, lead: Lead, decision: Decision, version: int, kind: str, actor: Principal | None,
            latency_us: int, extra: Mapping[str, Any] | None = None, *, flush: bool = True) -> RoutingDecision:
    entry = audit.append(session, action=f"routing.{kind}", subject_type="leads", subject_id=lead.id,
                         payload={"decision": decision.to_dict(), "policy_version": version, "kind": kind,
                                  "latency_us": latency_us, **(extra or {})},
                         actor_id=actor.user_id if actor else None, flush=False)
    row = RoutingDecision(lead_id=lead.id, kind=kind, outcome=decision.outcome, rep_id=decision.rep_id,
                          track=decision.track, pool_id=decision.pool_id, policy_version=version,
                          latency_us=latency_us, actor_id=actor.user_id if actor else None, audit_seq=entry.seq)
    session.add(row)
    if flush:
        session.flush()
    return row


def release_held(session: Session, *, now: datetime | None = None) -> list[RoutingDecision]:
    """Try every held lead again (oldest first); those that find a rep leave the queue."""
    router = Router(session, now=now)
    leads = [lead for held in session.scalars(select(HeldLead).order_by(HeldLead.held_since)).all()
             if (lead := session.get(Lead, held.lead_id)) is not None and lead.owner_id is None]
    router.release(leads)
    return router.finish()


class Waiting(NamedTuple):
    """A lead in the holding queue, its times in the organisation's zone."""

    lead_id: int
    company: str
    pool: str  # the pool's label in the active policy; the id of a pool it no longer has
    held_since: datetime
    escalated_at: datetime | None
    minutes: int  # waited so far


def waiting(session: Session, *, now: datetime | None = None) -> list[Waiting]:
    """The holding queue, oldest first."""
    at, zone = now or utcnow(), get_settings().zone
    labels = {pool.id: pool.label or pool.id for pool in compiled_body(active(session).body).policy.pools}
    stmt = select(HeldLead, Lead.company).join(Lead, Lead.id == HeldLead.lead_id).order_by(HeldLead.held_since)
    return [Waiting(held.lead_id, company, labels.get(held.pool_id, held.pool_id), local(held.held_since, zone),
                    local(held.escalated_at, zone) if held.escalated_at else None,
                    int((at - held.held_since).total_seconds() // 60))
            for held, company in session.execute(stmt).tuples()]


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
    return {"row": row, "record": record, "full": full, "pool_label": _pool_label(session, row),
            "verdicts": record["verdicts"] if full else [v for v in record["verdicts"]
                                                          if v["rep_id"] == principal.user_id]}


def _pool_label(session: Session, row: RoutingDecision) -> str | None:
    """The pool's label in the policy version that made the decision (its id when it has none)."""
    if row.pool_id is None:
        return None
    pools = compiled_body(version(session, row.policy_version).body).policy.pools
    return next((pool.label or pool.id for pool in pools if pool.id == row.pool_id), row.pool_id)


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
    recorded = Decision.from_dict(payload["decision"])
    return recorded, engine.replay(recorded, compiled_body(version(session, row.policy_version).body))


# --- reassignment and manual assignment ------------------------------------------------------------

CLOSED = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
REASSIGN_KINDS = ("reassign", "manual", "appeal", "unacknowledged")


def reassign(session: Session, lead: Lead, *, actor: Principal | None, to_rep_id: int | None = None,
             exclude: Mapping[int, str] | None = None, kind: str = "reassign", note: str = "",
             now: datetime | None = None) -> RoutingDecision:
    """Route a lead again, or give it to ``to_rep_id`` (track ``manual``): a decision with the same evidence
    as any other, made by ``actor`` (who must be allowed, see ``may_reassign``), or by the policy itself when
    ``actor`` is None (kind ``unacknowledged``: the rep did not acknowledge the lead in time).

    ``exclude`` defaults to the current owner (``previous_owner``); ``{}`` excludes nobody. A re-route that
    excludes someone and finds nobody else is refused (``Conflict``) and changes nothing: the holding queue
    routes without exclusions and could hand the lead straight back. With no exclusions a held lead leaves
    its owner and waits in the queue. A new owner starts afresh (assigned now, no first response yet). The
    previous and the new owner are notified (after an appeal the appellant hears from the ruling instead).
    """
    require_clean(note, field="reason")  # pages call this directly, not through the API's schema
    _check_reassign(session, actor, lead, kind)
    started, at, previous = time.perf_counter_ns(), now or utcnow(), lead.owner_id
    out = dict(exclude) if exclude is not None else ({previous: "previous_owner"} if previous else {})
    version = active(session)
    policy = compiled_body(version.body)
    snapshot = lead_snapshot(lead)
    match = engine.select_pool(snapshot, policy)
    state = _pool_state(session, match.pool_id)
    # The excluded and the named are always in the record, so each of them can read why (or why not).
    reps = _candidates(session, at, policy, snapshot, policy.pool(match.pool_id),
                       set(out) | ({to_rep_id} if to_rep_id else set()))
    decision = _decide_again(session, snapshot, reps, policy, state, at, match, to_rep_id, out)
    if decision.outcome == "held":
        if out:
            raise Conflict("Nobody else can take lead {id} right now; name a rep or try again later.",
                           field="rep_id", id=lead.id)
        lead.owner_id, lead.assigned_at, lead.status = None, None, LeadStatus.NEW
    if decision.rep_id != previous:
        lead.first_response_at = None  # the new owner's response is measured from the new assignment
    _apply(session, lead, decision, at)
    latency = (time.perf_counter_ns() - started) // 1000
    row = _record(session, lead, decision, version.version, kind, actor, latency,
                  {"previous_owner_id": previous, "note": note})
    _notify_owners(session, lead, row, previous, actor, note, tell_previous=kind != "appeal")
    return row


def _check_reassign(session: Session, actor: Principal | None, lead: Lead, kind: str) -> None:
    if kind not in REASSIGN_KINDS:
        raise ValueError(f"kind must be one of {REASSIGN_KINDS}")
    if actor is not None and not may_reassign(session, actor, lead):
        raise Forbidden("Only admin, ops and the supervisor of the owner's team may reassign lead {id}.",
                        field="lead_id", id=lead.id)
    if lead.status in CLOSED:
        raise Conflict("Lead {id} is closed ({status}); closed leads are not reassigned.", field="lead_id",
                       id=lead.id, status=lead.status.value)


def _candidates(session: Session, at: datetime, policy: CompiledPolicy, snapshot: LeadSnapshot,
                pool: CompiledPool, also: Collection[int]) -> list[RepState]:
    """The pool's members, and the reps in ``also`` (named or excluded) even from outside it."""
    return rep_states(session, at, get_settings().zone, high_value=policy.policy.threshold_high_value,
                      members=lambda rep: rep.id in also or not membership(rep, snapshot, pool), narrow_to=pool,
                      also=also)


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
    name = session.scalar(select(User.display_name).where(User.id == refused.rep_id)) or str(refused.rep_id)
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
    rep = session.scalar(select(User.display_name).where(User.id == new)) if new else None
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


def may_reassign(session: Session, principal: Principal, lead: Lead) -> bool:
    """Admin and ops; the supervisor of the owner's team; for a lead nobody owns, the supervisor of a
    team with members in the lead's pool, or the supervisor the policy names for that pool."""
    if principal.manages_org:
        return True
    if not principal.supervised_team_ids or not principal.can_write:
        return False
    if lead.owner_id is not None:
        team = session.scalar(select(User.team_id).where(User.id == lead.owner_id))
        return team in principal.supervised_team_ids
    return principal.user_id in pool_supervisors(session, lead)


def pool_supervisors(session: Session, lead: Lead) -> set[int]:
    policy = compiled_body(active(session).body)
    snapshot = lead_snapshot(lead)
    pool = policy.pool(engine.select_pool(snapshot, policy).pool_id)
    roster = _candidates(session, utcnow(), policy, snapshot, pool, ())
    members = [rep.id for rep in roster if not membership(rep, snapshot, pool)]
    found = {i for i in session.scalars(select(Team.supervisor_id).join(User, User.team_id == Team.id)
                                        .where(User.id.in_(members))) if i is not None}
    named = pool.spec.supervisor or policy.policy.holding.supervisor
    if named:
        found |= set(session.scalars(select(User.id).where(User.username == named)))
    return found


def reassignable(session: Session, principal: Principal, lead_id: int) -> Lead:
    """The lead, locked for the change on PostgreSQL; ``NotFound`` when the caller may neither read nor
    reassign it, ``Forbidden`` when they may read it but not reassign it."""
    stmt = select(Lead).where(Lead.id == lead_id)
    if session.get_bind().dialect.name == "postgresql":
        audit.lock(session)  # the chain before the lead's row: the order every routing writer keeps
        stmt = stmt.with_for_update()
    lead = session.scalar(stmt)
    if lead is not None and may_reassign(session, principal, lead):
        return lead
    readable = lead is not None and session.scalar(
        lead_repository.readable(principal).where(Lead.id == lead_id).with_only_columns(Lead.id)) is not None
    if not readable:
        raise NotFound("No lead with id {id}.", field="lead_id", id=lead_id)
    raise Forbidden("Only admin, ops and the supervisor of the owner's team may reassign lead {id}.",
                    field="lead_id", id=lead_id)


def latest_assignment(session: Session, lead_id: int) -> RoutingDecision | None:
    """The decision that gave the lead to its current owner (the newest that assigned it)."""
    return session.scalar(select(RoutingDecision).where(RoutingDecision.lead_id == lead_id,
                                                        RoutingDecision.outcome == "assigned")
                          .order_by(RoutingDecision.id.desc()).limit(1))
