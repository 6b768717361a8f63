"""A rep's counts kept in process between transactions (``snapshot._KEPT``, SQLite only): used while the rep's stamp
(``owner_stamps``, drawn again by triggers on every write to their leads and deals) is the one they were kept under,
and until a deal counted leaves the win window; never after a write by any means, a rollback or a rolled-back
savepoint. Whatever was kept, a Roster's counts equal a fresh count. On PostgreSQL nothing is kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.intake import flows as intake_flows
from evenhand.kit.clock import frozen
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import EventCreate, LeadCreate
from evenhand.models import EventKind, Lead, LeadStatus, Opportunity, OwnerStamp, Presence, Stage, User, UserGrant
from evenhand.models.routing import STAMPED, owner_stamp_triggers
from evenhand.routing import policy_versions, router, snapshot
from evenhand.routing.values import RepState
from tests.builders import make_lead, make_opportunity, make_region, make_team, make_user
from tests.support import statements

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 11:00 in Shanghai
HIGH = 80  # the policy's threshold_high_value (the default): part of the kept counts' key
COUNTING = "SELECT 0, opportunities.owner_id"  # the counting UNION's first part
POLICY = "name: 测试策略\npools:\n  - id: east\n    members: {regions: [east]}\n"
TRIGGERS = {name for table in STAMPED for name in owner_stamp_triggers(table)}


@pytest.fixture(autouse=True)
def nothing_kept() -> Iterator[None]:
    snapshot._KEPT.clear()
    yield
    snapshot._KEPT.clear()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The reps whose counts were read by SQL (``snapshot._counts``) since the test last cleared the set."""
    seen: set[int] = set()
    real = snapshot._counts

    def spy(session: Session, ids: list[int], *args: object) -> object:
        seen.update(ids)
        return real(session, ids, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "_counts", spy)
    return seen


def company(engine: Engine) -> list[int]:
    """Three online east reps with a lead taken today and a deal closed (lost for the first, won for the others)."""
    with session_scope(engine) as session:
        team = make_team(session, region=make_region(session, code="east", name="华东"))
        reps = [make_user(session, username=f"r{n}", team=team, presence=Presence.ONLINE, working_hours={},
                          monthly_quota=Decimal(50_000)) for n in range(3)]
        for n, rep in enumerate(reps):
            make_lead(session, owner=rep, assigned_at=NOW - timedelta(hours=1), score=60 + 5 * n)
            make_opportunity(session, owner=rep, stage=Stage.WON if n else Stage.LOST,
                             closed_at=NOW - timedelta(days=3 + n))
        policy_versions.save(session, POLICY, author=None, note="test")
        return [rep.id for rep in reps]


def new_lead(n: int) -> LeadCreate:
    return LeadCreate(source="website", external_id=f"L{n}", company=f"公司{n}", region="east", company_size=50)


def route(session: Session, n: int, at: datetime = NOW) -> int | None:
    """A new lead routed at ``at``; its rep."""
    lead = lead_service.intake(session, new_lead(n), actor=None, dedup=[]).lead
    return router.route(session, lead, now=at).rep_id


def kept(session: Session, reps: list[int], at: datetime = NOW) -> list[RepState]:
    """The reps as a Roster at the configuration revision counts them: from what this process kept, if it may."""
    return snapshot.rep_states(session, at, get_settings().zone, high_value=HIGH, members=lambda rep: rep.id in reps)


def fresh(session: Session, reps: list[int], at: datetime = NOW) -> list[RepState]:
    """The same reps counted by SQL, nothing kept used or stored (no revision)."""
    roster = snapshot.Roster(session, at, get_settings().zone, high_value=HIGH, revision=None)
    return roster.reps(members=lambda rep: rep.id in reps)


def both(engine: Engine, reps: list[int], at: datetime = NOW) -> tuple[list[RepState], list[RepState]]:
    with session_scope(engine, readonly=True) as session:
        return kept(session, reps, at), fresh(session, reps, at)


def _lead_of(session: Session, rep: int) -> Lead:
    return session.scalars(select(Lead).where(Lead.owner_id == rep).order_by(Lead.id).limit(1)).one()


def _deal_of(session: Session, rep: int) -> Opportunity:
    return session.scalars(select(Opportunity).where(Opportunity.owner_id == rep)).one()


def sqlite_only(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("counts are kept on SQLite only")


@pytest.mark.parametrize("events", [[], [EventCreate(kind=EventKind.WHITEPAPER_DOWNLOAD, detail="白皮书")]])
def test_a_second_lead_into_the_pool_counts_nobody_by_sql(engine: Engine, counted: set[int],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          events: list[EventCreate]) -> None:
    """Also when the first lead brought events, stored after routing counted (through the connection, as the lead
    is, so the counts it left are still kept)."""
    sqlite_only(engine)
    reps = company(engine)
    with statements(engine) as first, frozen(NOW), session_scope(engine) as session:
        intake_flows.take_in(session, [new_lead(1).model_copy(update={"events": events})], actor=None, dedup=[])
    assert any(s.startswith(COUNTING) for s in first) and counted == set(reps)  # the check can fail
    with session_scope(engine, readonly=True) as session:
        expected = fresh(session, reps)
    used: list[list[RepState]] = []  # the members' states each decision was made with
    real = router.engine.decide

    def decide(lead: object, members: list[RepState], *args: object, **kwargs: object) -> object:
        used.append(members)
        return real(lead, members, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(router.engine, "decide", decide)
    counted.clear()
    with statements(engine) as second, frozen(NOW), session_scope(engine) as session:
        (_, decision), = intake_flows.take_in(session, [new_lead(2)], actor=None, dedup=[])
    assert decision is not None and decision.outcome == "assigned"
    assert not [s for s in second if s.startswith(COUNTING)] and counted == set()
    assert used == [expected]
    after, recounted = both(engine, reps)
    assert after == recounted and counted == set(reps)  # ``recounted`` by SQL; ``after`` kept by the router
    assert sum(r.leads_today for r in after) == sum(r.leads_today for r in expected) + 1


def _sql(statement: str) -> Write:
    return lambda session, lead, _deal: session.execute(text(statement), {"id": lead.id})


def _won(_session: Session, _lead: Lead, deal: Opportunity) -> None:
    deal.stage, deal.closed_at, deal.amount = Stage.WON, NOW - timedelta(days=1), Decimal(30_000)


Write = Callable[[Session, Lead, Opportunity], object]
# Each write to the first rep's deal or the second rep's history lead, and which of the reps (0, 1) it touches.
WRITES: dict[str, tuple[Write, set[int]]] = {
    "orm status": (lambda _s, lead, _d: setattr(lead, "status", LeadStatus.CONVERTED), {1}),
    "sql status": (_sql("UPDATE leads SET status = 'disqualified' WHERE id = :id"), {1}),
    "sql score": (_sql("UPDATE leads SET score = 95 WHERE id = :id"), {1}),
    "sql assigned_at": (_sql("UPDATE leads SET assigned_at = '2026-11-20 01:00:00' WHERE id = :id"), {1}),
    "new lead": (lambda session, lead, _d: session.add(Lead(
        source="crm", external_id="extra", company="又一家", owner_id=lead.owner_id, score=90,
        status=LeadStatus.ASSIGNED, assigned_at=NOW - timedelta(minutes=5))), {1}),
    "deal won": (_won, {0}),
    "lead deleted": (lambda session, lead, _d: session.delete(lead), {1}),
    "lead moved": (lambda _s, lead, deal: setattr(lead, "owner_id", deal.owner_id), {0, 1}),
    "renamed": (lambda _s, lead, _d: setattr(lead, "company", "改名公司"), set()),  # no count reads it
}


@pytest.mark.parametrize("write", WRITES)
def test_a_write_to_a_reps_records_is_seen_by_the_next_count(engine: Engine, counted: set[int], write: str) -> None:
    reps = company(engine)
    with session_scope(engine) as session:
        route(session, 1)
    before, _ = both(engine, reps)
    write_to, touching = WRITES[write]
    touched = {reps[n] for n in touching}
    with session_scope(engine) as session:
        write_to(session, _lead_of(session, reps[1]), _deal_of(session, reps[0]))
    counted.clear()
    with session_scope(engine, readonly=True) as session:
        after = kept(session, reps)
    assert counted == (touched if engine.dialect.name == "sqlite" else set(reps))
    assert after == both(engine, reps)[1]
    changed = {new.id for old, new in zip(before, after, strict=True) if old != new}
    assert changed == touched


@pytest.mark.parametrize("undone", ["transaction", "savepoint"])
def test_counts_kept_by_a_rolled_back_routing_are_never_used(engine: Engine, counted: set[int], undone: str) -> None:
    reps = company(engine)
    with session_scope(engine) as session:
        route(session, 1)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        savepoint = session.begin_nested() if undone == "savepoint" else None
        stored = len(snapshot._KEPT)
        assert route(session, 2) is not None
        assert len(snapshot._KEPT) > stored or engine.dialect.name != "sqlite"  # the routing kept its counts
        if savepoint is not None:
            savepoint.rollback()
            assert kept(session, reps) == fresh(session, reps)  # the enclosing transaction, lead 2 gone
        raise RuntimeError("rolled back")
    after, recounted = both(engine, reps)
    assert after == recounted
    assert sum(r.leads_today for r in after) == 3 + 1  # the history's three and lead 1


LEAVES = NOW - timedelta(days=snapshot.WIN_WINDOW_DAYS) + timedelta(minutes=30)  # a deal closed then: in at NOW
LATER = NOW + timedelta(hours=1)  # the same local day, the deal out of the window


def _with_old_win(engine: Engine) -> list[int]:
    """The company, its first rep with one more win that leaves the window half an hour after ``NOW``."""
    reps = company(engine)
    with session_scope(engine) as session:
        make_opportunity(session, owner=session.get_one(User, reps[0]), stage=Stage.WON, closed_at=LEAVES)
    return reps


def test_kept_counts_expire_when_a_deal_leaves_the_win_window(engine: Engine, counted: set[int]) -> None:
    """At ``LATER`` only the key's moment differs (same revision, day and stamps): the first rep's counts, kept at
    ``NOW`` with the old win, have expired; the others' still hold."""
    reps = _with_old_win(engine)
    at_now, _ = both(engine, reps)
    assert (at_now[0].wins, at_now[0].deals) == (1, 2)
    counted.clear()
    with session_scope(engine, readonly=True) as session:
        later = kept(session, reps, LATER)
    assert counted == ({reps[0]} if engine.dialect.name == "sqlite" else set(reps))
    assert (later[0].wins, later[0].deals) == (0, 1) and later == both(engine, reps, LATER)[1]



def test_counts_kept_later_in_the_day_are_not_used_earlier(engine: Engine) -> None:
    sqlite_only(engine)
    reps = _with_old_win(engine)
    both(engine, reps, LATER)  # kept at LATER, the deal out of the window
    earlier, recounted = both(engine, reps, NOW)
    assert (recounted[0].wins, recounted[0].deals) == (1, 2)
    assert earlier == recounted


def test_kept_counts_take_the_roster_state_of_the_moment(engine: Engine, counted: set[int]) -> None:
    """A grant that expires between two counts on the same day is a new roster state for the rep (the same revision
    and stamp): the counts kept at ``NOW`` are used, on the state without the grant, not on the one kept with them."""
    sqlite_only(engine)
    reps = company(engine)
    with session_scope(engine) as session:
        session.add(UserGrant(user_id=reps[1], grant="key_account", expires_at=NOW + timedelta(hours=1)))
    at_now, _ = both(engine, reps)
    assert at_now[1].grants == ("key_account",)
    counted.clear()
    with session_scope(engine, readonly=True) as session:
        again = kept(session, reps, NOW + timedelta(minutes=30))
    assert counted == set() and again == at_now  # kept, and on the same state: the check below can fail
    with session_scope(engine, readonly=True) as session:
        later = kept(session, reps, NOW + timedelta(hours=2))
    assert counted == set()  # the counts were kept
    assert later[1].grants == () and later == both(engine, reps, NOW + timedelta(hours=2))[1]


def _triggers(session: Session) -> set[str]:
    if session.get_bind().dialect.name == "sqlite":
        return set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    return set(session.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))


def test_stamps_are_drawn_by_triggers_on_sqlite_and_nothing_is_kept_on_postgresql(engine: Engine) -> None:
    reps = company(engine)
    with session_scope(engine) as session:
        route(session, 1)
        triggers = _triggers(session)
        stamps = {user: stamp for user, stamp in session.execute(select(OwnerStamp.user_id, OwnerStamp.stamp))}
    if engine.dialect.name == "sqlite":
        assert triggers >= TRIGGERS and set(stamps) == set(reps) and snapshot._KEPT
    else:
        assert not TRIGGERS & triggers and stamps == {} and not snapshot._KEPT


def test_nothing_is_kept_when_something_else_wrote_before_the_router_finished(engine: Engine) -> None:
    """A write between ``route`` and ``finish`` draws a stamp too: the stamps ``finish`` reads would cover it, so the
    counts the router leaves (which do not know of it) are not kept."""
    sqlite_only(engine)
    reps = company(engine)
    with session_scope(engine) as session:
        lead = lead_service.intake(session, new_lead(1), actor=None, dedup=[]).lead
        batch = router.Router(session, now=NOW)
        rep = batch.route(lead).rep_id
        assert rep is not None
        _lead_of(session, rep).status = LeadStatus.DISQUALIFIED
        session.flush()  # its stamp drawn before finish reads the stamps
        batch.finish()
    later, recounted = both(engine, reps)
    assert later == recounted
