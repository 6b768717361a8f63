"""Routing leads in the caller's transaction: the router, and each pool's state read and written around a
decision. Callers commit.

Concurrency: a decision reads its pool's state and writes it back in the same transaction. On
PostgreSQL the pool's state row is locked (``FOR UPDATE``) for that time, so two server processes
routing into one pool take turns; on SQLite every writing transaction already holds the database's
write lock (see db.py).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, case, event, null, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.kit import audit, carry, revision, written
from evenhand.kit.bounded import Bounded
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.cursor import Prepared
from evenhand.kit.once import get_or_create
from evenhand.kit.revision import Revision
from evenhand.models import HeldLead, Lead, LeadStatus, PoolStateRow, RoutingDecision
from evenhand.notify import service as notify
from evenhand.routing import engine
from evenhand.routing.availability import membership, membership_key
from evenhand.routing.canary import Arm, Arms, arms
from evenhand.routing.snapshot import Roster, lead_snapshot
from evenhand.routing.values import Decision, LeadSnapshot, PoolState, RepState

_STATES: Table = PoolStateRow.__table__  # type: ignore[assignment]
# The row's seq and when it was written, and its state only when the seq is not the one this process knows.
_STATE_READ = select(_STATES.c.seq, _STATES.c.updated_at,
                     case((_STATES.c.seq == bindparam("known"), null()), else_=_STATES.c.state)).where(
    _STATES.c.pool_id == bindparam("pool_id"))
_STATE, _STATE_LOCKED = Prepared(_STATE_READ), Prepared(_STATE_READ.with_for_update())
_DOCUMENT = select(_STATES.c.state).where(_STATES.c.pool_id == bindparam("pool_id"))
_SAVE_STATE = Prepared(update(_STATES).where(_STATES.c.pool_id == bindparam("pool"))
                       .values(state=bindparam("state"), seq=bindparam("seq"), updated_at=bindparam("at")))


class _Known(NamedTuple):
    """A pool's state as a committed transaction left it: its seq, when it was written, and the state itself."""

    seq: int
    at: datetime
    state: PoolState


# Each pool's last committed state this process has seen, under the database's configuration revision (whose
# random stamp tells one database from another). A transaction's own reads and writes wait in its session until it
# commits (``_PENDING``); a rollback, of a savepoint too, forgets them. Within one database the seq names one state:
# every write raises it by one under the write lock (SQLite) or the row's lock (PostgreSQL). ``updated_at`` must
# match as well, in case the rows were rewritten (a restore, a truncation) at the same revision.
_KNOWN: Bounded[tuple[Revision, str], _Known] = Bounded(512)
_PENDING = "evenhand.pool_states"


def _frozen(state: PoolState) -> PoolState:
    """A state that may be shared: its tables read-only (as a decision's are made: the state itself)."""
    if isinstance(state.served, MappingProxyType) and isinstance(state.credits, MappingProxyType):
        return state
    return replace(state, served=MappingProxyType(dict(state.served)), credits=MappingProxyType(dict(state.credits)))


def _pending(session: Session) -> dict[str, tuple[Revision, _Known]]:
    """This transaction's states, not committed yet, by pool, with the revision read when it locked the pool."""
    transaction = session.get_transaction()
    found = session.info.get(_PENDING)
    if found is None or found[0] is not transaction:
        found = session.info[_PENDING] = (transaction, {})
    pending: dict[str, tuple[Revision, _Known]] = found[1]
    return pending


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    found = session.info.get(_PENDING)
    if found is None or session.in_nested_transaction() or found[0] is not session.get_transaction():
        return  # a savepoint released: its states are the enclosing transaction's until that commits
    del session.info[_PENDING]
    _KNOWN.store({(at, pool_id): known for pool_id, (at, known) in found[1].items()})


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _transaction: Any) -> None:
    session.info.pop(_PENDING, None)


def lock_pool_state(session: Session, pool_id: str) -> PoolState:
    """The pool's state, read (and on PostgreSQL locked) through the connection; the first decision in a
    pool creates its row. The audit chain is locked first: every routing writer appends to it, and taking
    it before the pool's row keeps one lock order for all of them.

    The state document is read and parsed only when its seq is not the one last committed that this process knows
    (see ``_KNOWN``), and the row not at all on a SQLite connection whose own transactions wrote it last, with
    nothing written since (``kit.carry``); the state returned may be shared and is read-only."""
    audit.lock(session)
    session.flush()
    at = revision.current(session)
    if (found := carry.carried(session, (_PENDING, pool_id))) is None:
        found = _read_state(session, pool_id, at)
        carry.leave(session, (_PENDING, pool_id), found)
    if at is not None:  # the transaction's own, so the state it saves next is known once it commits
        _pending(session)[pool_id] = (at, found)
    return found.state


def _read_state(session: Session, pool_id: str, at: Revision | None) -> _Known:
    mine = _pending(session).get(pool_id)
    known = None if at is None else mine[1] if mine is not None and mine[0] == at else _KNOWN.get((at, pool_id))
    stmt = _STATE_LOCKED if session.get_bind().dialect.name == "postgresql" else _STATE
    conn, params = session.connection(), {"pool_id": pool_id, "known": -1 if known is None else known.seq}
    row = stmt.first(conn, params)
    if row is None:
        get_or_create(session, select(PoolStateRow).where(PoolStateRow.pool_id == pool_id),
                      lambda: PoolStateRow(pool_id=pool_id, seq=0, state=PoolState(pool_id).to_dict(),
                                           updated_at=utcnow()))
        session.flush()
        row = stmt.first(conn, params)  # now locked on PostgreSQL
        assert row is not None
    seq, written, document = cast(tuple[int, datetime, Any], row)
    if document is None and known is not None and as_utc(written) == known.at:  # the state this process knows
        found = known
    else:
        if document is None:  # its seq, rewritten since: the row is ours already
            document = conn.execute(_DOCUMENT, {"pool_id": pool_id}).scalar()
        found = _Known(seq, as_utc(written), _frozen(PoolState.from_dict(document)))
    return found


def save_pool_state(session: Session, state: PoolState, now: datetime) -> None:
    """Written through the connection, like the read: no ORM copy of the row is kept to go stale. The row was
    read (and locked) by ``lock_pool_state`` in this transaction; nothing pending in the session touches it."""
    _SAVE_STATE.many(session.connection(), [{"pool": state.pool_id, "state": state.to_dict(), "seq": state.seq,
                                             "at": now}])
    known = _Known(state.seq, as_utc(now), _frozen(state))
    carry.leave(session, (_PENDING, state.pool_id), known)
    locked = _pending(session).get(state.pool_id)  # under the revision read when the pool was locked
    if locked is not None:
        _pending(session)[state.pool_id] = (locked[0], known)


def route(session: Session, lead: Lead, *, kind: str = "intake", actor: Principal | None = None,
          now: datetime | None = None) -> RoutingDecision:
    """Decide who gets the lead, apply it, and record the evidence — all in the caller's transaction."""
    router = Router(session, now=now)
    row = router.route(lead, kind=kind, actor=actor)
    router.finish()
    return row


class Matched(NamedTuple):
    """A lead ready to decide: its snapshot, the arm that routes it and the pool that arm's policy chose."""

    snapshot: LeadSnapshot
    match: engine.PoolMatch
    arm: Arm


class _Config(NamedTuple):
    arms: Arms
    rosters: dict[int, Roster]


class Router:
    """Routes leads one after another in the caller's transaction, at one moment (``now``).

    The active policy, each pool's state and its members' counts are read once and kept current in memory
    as leads go out (``snapshot.Roster``), so routing a batch gives exactly the decisions routing each lead
    on its own would, for a fraction of the reads. The policy, the canary and the roster's slow-changing part
    (who, where, when they work, presence, caps, grants, leave) come from the process's cache for the
    configuration revision read when the first lead needs them (``kit.revision``); counts are read from the
    database.
    ``finish()`` writes pool states, decision rows and their audit entries together, and sends each assigned
    rep the "new lead" message.

    While a canary runs (``routing.canary``), each lead's arm decides which version routes it; pools of the
    same id share their state, and a rep's counts are kept current whichever arm gave them the lead."""

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session, self.at = session, now or utcnow()
        self._states: dict[str, PoolState] = {}
        self._changed: set[str] = set()
        self._made: list[_Made] = []
        self._assigned: list[tuple[Lead, int | None]] = []  # stored leads, given by an UPDATE in ``finish()``
        self._held: list[HeldLead] = []  # leads not stored yet that nobody could take, queued by ``finish()``
        self._given: set[int] = set()  # the reps given leads, whose counts ``finish()`` keeps
        self._member_sets: dict[tuple[int, str, tuple[str | None, ...]], list[RepState]] = {}

    @cached_property
    def _config(self) -> _Config:
        """The arms and rosters, read when the first lead needs them (a router with nothing to route reads
        nothing), through the configuration revision read first."""
        at = revision.current(self.session)
        read = arms(self.session, at)
        zone = get_settings().zone
        # One roster per high-value threshold: a candidate may count high-value leads from another score.
        return _Config(read, {t: Roster(self.session, self.at, zone, high_value=t, revision=at)
                              for t in {arm.policy.policy.threshold_high_value for arm in read.all()}})

    def route_all(self, leads: Sequence[Lead], *, kind: str = "intake", actor: Principal | None = None,
                  stored: bool = True) -> list[RoutingDecision]:
        """``route`` each lead in order, after reading every pool state and count they need in one go.

        Leads not ``stored`` yet (new leads whose ids were taken first) take their rep on the objects themselves, for
        their INSERT to write; ``finish()``, which writes their decisions and queues those nobody could take, must
        come once they are stored."""
        matches = self._prepare(leads)
        return [self.route(lead, kind=kind, actor=actor, matched=m, stored=stored)
                for lead, m in zip(leads, matches, strict=True)]

    def release(self, leads: Sequence[Lead]) -> None:
        """Offer held leads again, in order. Only a lead that finds a rep gets a decision (kind ``release``);
        one that still finds nobody keeps its place in the queue, and the decision that queued it still says
        why — so a queue retried every minute does not write a decision a minute."""
        for lead, matched in zip(leads, self._prepare(leads), strict=True):
            started = time.perf_counter_ns()
            decision = self._decide(matched)
            if decision.outcome == "assigned":
                self._apply(lead, decision, matched, "release", None, started)

    def _prepare(self, leads: Sequence[Lead]) -> list[Matched]:
        matches = [self._match(lead) for lead in leads]
        members: dict[int, list[RepState]] = defaultdict(list)
        for matched in matches:
            members[self._threshold(matched.arm)].extend(self._members(matched))
        for threshold, reps in members.items():
            self._config.rosters[threshold].count(reps)
        return matches

    def _match(self, lead: Lead) -> Matched:
        snapshot, arm = lead_snapshot(lead), self._config.arms.of(lead.id)
        match = engine.select_pool(snapshot, arm.policy)
        if match.pool_id not in self._states:
            self._states[match.pool_id] = lock_pool_state(self.session, match.pool_id)
        return Matched(snapshot, match, arm)

    def _threshold(self, arm: Arm) -> int:
        return arm.policy.policy.threshold_high_value

    def _members(self, matched: Matched) -> list[RepState]:
        snapshot, pool = matched.snapshot, matched.arm.policy.pool(matched.match.pool_id)
        key = (matched.arm.version, pool.id, membership_key(snapshot, pool))
        if key not in self._member_sets:
            # The arm's version and the pool's id name the pool, and ``membership_key`` what of the lead it reads.
            self._member_sets[key] = self._config.rosters[self._threshold(matched.arm)].uncounted(
                pool, lambda rep: not membership(rep, snapshot, pool), kept_as=key)
        return self._member_sets[key]

    def route(self, lead: Lead, *, kind: str = "intake", actor: Principal | None = None,
              matched: Matched | None = None, stored: bool = True) -> RoutingDecision:
        """The lead's decision, applied to it; the row is stored by ``finish()``."""
        started = time.perf_counter_ns()
        matched = matched or self._match(lead)
        return self._apply(lead, self._decide(matched), matched, kind, actor, started, stored=stored)

    def _decide(self, matched: Matched) -> Decision:
        reps = self._config.rosters[self._threshold(matched.arm)].counted(self._members(matched))
        return engine.decide(matched.snapshot, reps, matched.arm.policy, self._states[matched.match.pool_id], self.at,
                             match=matched.match)

    def _apply(self, lead: Lead, decision: Decision, matched: Matched, kind: str, actor: Principal | None,
               started: int, *, stored: bool = True) -> RoutingDecision:
        if decision.outcome == "assigned" and decision.rep_id is not None:
            self._states[decision.pool_id] = decision.state_after
            self._changed.add(decision.pool_id)
            for roster in self._config.rosters.values():
                roster.assigned(decision.rep_id, matched.snapshot.score)
            self._given.add(decision.rep_id)
        if stored:
            if decision.outcome == "assigned":
                self._assigned.append((lead, decision.rep_id))
            _hold(self.session, lead, decision, self.at, maybe_held=kind != "intake")
        elif decision.outcome == "assigned":
            lead.owner_id, lead.assigned_at, lead.status = decision.rep_id, self.at, LeadStatus.ASSIGNED
        else:
            self._held.append(HeldLead(lead_id=lead.id, pool_id=decision.pool_id, held_since=self.at))
        latency = (time.perf_counter_ns() - started) // 1000
        arm = matched.arm
        made = _made(lead, decision, arm.version, kind, actor, latency, arm.evidence(), arm=arm.name)
        self._made.append(made)
        return made.row

    def finish(self) -> list[RoutingDecision]:
        """Write what ``route`` decided: pool states, the stored leads' assignments, the holds of new leads, decision
        rows with their audit entries, messages. The assignments, the entries and the rows go through the
        connection, one statement each for the whole batch."""
        for pool_id in sorted(self._changed):
            save_pool_state(self.session, self._states[pool_id], self.at)
        self._changed.clear()
        assigned, self._assigned = self._assigned, []
        _assign(self.session, assigned, self.at)
        given, self._given = self._given, set()
        if given:
            for roster in self._config.rosters.values():
                roster.keep(given)
        held, self._held = self._held, []
        self.session.add_all(held)  # flushed by ``_store``, before the decisions
        made, self._made = self._made, []
        rows = _store(self.session, made)
        notify.leads_assigned(self.session, [(m.lead, row.rep_id, row.id) for m, row in zip(made, rows, strict=True)
                                             if row.rep_id is not None])  # acknowledged when the rep opens the lead
        return rows


class _Made(NamedTuple):
    """A decision made and applied to its lead: its row (stored by ``_store``, not in the session until then) and
    its evidence."""

    lead: Lead
    row: RoutingDecision
    evidence: audit.Entry


def _made(lead: Lead, decision: Decision, version: int, kind: str, actor: Principal | None, latency_us: int,
          extra: Mapping[str, Any] | None = None, *, arm: str | None = None) -> _Made:
    actor_id = actor.user_id if actor else None
    evidence = audit.Entry(f"routing.{kind}", "leads", lead.id,
                           {"decision": decision.to_dict(), "policy_version": version, "kind": kind,
                            "latency_us": latency_us, **(extra or {})}, actor_id)
    row = written.new(RoutingDecision, {
        "lead_id": lead.id, "kind": kind, "outcome": decision.outcome, "rep_id": decision.rep_id,
        "track": decision.track, "pool_id": decision.pool_id, "policy_version": version, "latency_us": latency_us,
        "actor_id": actor_id, "arm": arm})
    return _Made(lead, row, evidence)


def _store(session: Session, made: Sequence[_Made]) -> list[RoutingDecision]:
    """The audit entries, then the decision rows pointing at them, each in one statement; the rows join the session
    as written (``kit.written.insert``: nothing left to load)."""
    if not made:
        return []
    session.flush()  # the leads' holds: what the decisions are about
    now = utcnow()
    for m, seq in zip(made, audit.append_many(session, [m.evidence for m in made]), strict=True):
        m.row.audit_seq, m.row.created_at = seq, now
    written.insert(session, [m.row for m in made])
    return [m.row for m in made]


def place(session: Session, lead: Lead, decision: Decision, at: datetime) -> None:
    """Give the lead to its rep, or queue it."""
    if decision.outcome == "assigned":
        lead.owner_id, lead.assigned_at, lead.status = decision.rep_id, at, LeadStatus.ASSIGNED
    _hold(session, lead, decision, at, maybe_held=True)


def _hold(session: Session, lead: Lead, decision: Decision, at: datetime, *, maybe_held: bool) -> None:
    """Take an assigned lead out of the holding queue, or queue one nobody could take; ``maybe_held=False`` for a
    lead that cannot be queued yet (a new one)."""
    held = session.get(HeldLead, lead.id) if maybe_held else None
    if decision.outcome == "assigned":
        if held is not None:
            session.delete(held)
    elif held is None:
        session.add(HeldLead(lead_id=lead.id, pool_id=decision.pool_id, held_since=at))


_LEADS: Table = Lead.__table__  # type: ignore[assignment]
_ASSIGN = Prepared(update(_LEADS).where(_LEADS.c.id == bindparam("lead"))
                   .values(owner_id=bindparam("rep"), assigned_at=bindparam("at"), status=LeadStatus.ASSIGNED))


def _assign(session: Session, assigned: Sequence[tuple[Lead, int | None]], at: datetime) -> None:
    """Each lead given to its rep, in one statement through the connection; the leads' objects take the values as
    stored (nothing left to flush), and the leads are told written (``kit.written``)."""
    if not assigned:
        return
    _ASSIGN.many(session.connection(), [{"lead": lead.id, "rep": rep, "at": at} for lead, rep in assigned])
    for lead, rep in assigned:
        set_committed_value(lead, "owner_id", rep)
        set_committed_value(lead, "assigned_at", at)
        set_committed_value(lead, "status", LeadStatus.ASSIGNED)
    written.wrote(session, "lead", [lead.id for lead, _ in assigned])


def record(session: Session, lead: Lead, decision: Decision, arm: Arm, kind: str, actor: Principal | None,
           latency_us: int, extra: Mapping[str, Any] | None = None) -> RoutingDecision:
    """The decision row and its audit entry (the evidence), for one decision made outside a ``Router`` by ``arm``'s
    version (and naming its arm while a canary runs, as a router's decision does)."""
    made = _made(lead, decision, arm.version, kind, actor, latency_us, {**(extra or {}), **(arm.evidence() or {})},
                 arm=arm.name)
    made.row.audit_seq = audit.append(session, **made.evidence._asdict(), flush=False).seq
    session.add(made.row)
    session.flush()
    return made.row
