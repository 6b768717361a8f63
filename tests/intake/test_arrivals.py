"""Group commit of leads posted at the same moment (``intake.arrivals``): every lead is taken in and routed
exactly once, leads that wait together are written in one transaction, and a lead that cannot be written
fails alone (R1.3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import IntegrityError

from evenhand.auth import service as auth_service
from evenhand.auth.principal import Principal
from evenhand.db import new_session, session_scope
from evenhand.deps import Credentials
from evenhand.errors import Forbidden, Unauthorized
from evenhand.intake.arrivals import Arrivals, Routed
from evenhand.kit import audit, audit_check
from evenhand.leads.schemas import LeadCreate
from evenhand.models import AuditEntry, Lead, Role, RoutingDecision, User
from tests.routing.test_router import company


def _lead(n: int) -> LeadCreate:
    return LeadCreate(source="website", external_id=f"arrival-{n}", company=f"并发公司{n}",
                      region=("east", "south")[n % 2], company_size=60)


@contextmanager
def _writes_held(engine: Engine) -> Iterator[None]:
    """Someone else holds the write path (SQLite's write lock, PostgreSQL's audit-chain lock) until the block
    ends, so leads posted meanwhile queue up behind the first."""
    session = new_session(engine)
    try:
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit._LOCK_KEY})
        else:
            session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
        yield
    finally:
        session.rollback()
        session.close()


def _forms(engine: Engine) -> Principal:
    """The company of tests/routing/test_router.py, and a web-form principal (any existing user)."""
    with session_scope(engine) as session:
        company(session)
        user_id = session.scalar(select(func.min(User.id)))
    assert user_id is not None
    return Principal(user_id=user_id, username="forms", display_name="官网表单", role=Role.OPS, via="token")


def _posted_together(engine: Engine, arrivals: Arrivals,
                     actors: Sequence[Principal | Credentials]) -> list[Future[Routed]]:
    """One lead per actor (signed in, or the credentials a request carried), posted at once while the write path
    is held, so they queue up."""
    with ThreadPoolExecutor(len(actors)) as pool, _writes_held(engine):
        futures = [pool.submit(arrivals.take, _lead(n), sent=actor, dedup=["email"])
                   for n, actor in enumerate(actors)]
        threading.Event().wait(0.5)  # everyone is queued behind the held lock
    return futures


def _transactions(engine: Engine) -> list[int]:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


@pytest.mark.slow
def test_leads_posted_together_are_written_together_and_each_routed_once(engine: Engine) -> None:
    actor = _forms(engine)
    commits = _transactions(engine)
    posted = 12
    results = [f.result(timeout=60) for f in _posted_together(engine, Arrivals(engine), [actor] * posted)]
    assert len(commits) <= 3  # the first lead alone, then the rest together (give or take one straggler)
    assert all(intake.created for intake, _ in results)
    assert len({intake.lead.id for intake, _ in results}) == posted
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(RoutingDecision).where(
            RoutingDecision.lead_id.in_([intake.lead.id for intake, _ in results]))).all()
        assert sorted(r.id for r in rows) == sorted(d.id for _, d in results if d is not None)
        assert len({r.lead_id for r in rows}) == posted  # each lead decided exactly once
        owners = dict(session.execute(select(Lead.id, Lead.owner_id).where(
            Lead.id.in_([intake.lead.id for intake, _ in results]))).tuples().all())
        assert all(owners[d.lead_id] == d.rep_id for _, d in results if d is not None)
        assert audit_check.verify(session)[1] is None


@pytest.mark.slow
def test_a_lead_that_cannot_be_written_fails_alone(engine: Engine) -> None:
    good = _forms(engine)
    ghost = Principal(user_id=999_999, username="ghost", display_name="不存在", role=Role.OPS, via="token")
    futures = _posted_together(engine, Arrivals(engine), [ghost if n == 3 else good for n in range(6)])
    with pytest.raises(IntegrityError):  # the audit entry names a user who does not exist
        futures[3].result(timeout=60)
    written = [futures[n].result(timeout=60)[0].lead.external_id for n in (0, 1, 2, 4, 5)]
    with session_scope(engine, readonly=True) as session:
        stored = set(session.scalars(select(Lead.external_id).where(Lead.external_id.like("arrival-%"))))
    assert stored == set(written) == {f"arrival-{n}" for n in (0, 1, 2, 4, 5)}


def test_one_lead_on_its_own_is_written_at_once(engine: Engine) -> None:
    actor = _forms(engine)
    commits = _transactions(engine)
    intake, decision = Arrivals(engine).take(_lead(1), sent=actor, dedup=[])
    assert intake.created and decision is not None and decision.id is not None
    assert len(commits) == 1
    again, none = Arrivals(engine).take(_lead(1), sent=actor, dedup=[])
    assert not again.created and none is None and again.lead.id == intake.lead.id


def _token(engine: Engine, username: str, role: Role) -> Credentials:
    """A bearer token for a new user of ``role``, as an API request would carry it."""
    with session_scope(engine) as session:
        session.add(User(username=username, display_name=username, role=role))
        session.flush()
        token, _ = auth_service.create_token(session, username=username, role=role)
    return Credentials(bearer=token, cookie=None, csrf_sent="", method="POST")


@pytest.mark.slow
def test_senders_are_signed_in_by_the_group_and_one_refused_fails_alone(engine: Engine) -> None:
    _forms(engine)
    ops, auditor = _token(engine, "intake-ops", Role.OPS), _token(engine, "intake-auditor", Role.AUDITOR)
    forged = Credentials(bearer="eht_not-a-token", cookie=None, csrf_sent="", method="POST")
    no_session = Credentials(bearer=None, cookie="not-a-session", csrf_sent="", method="POST")
    senders = [ops, forged, ops, auditor, no_session, ops]
    commits = _transactions(engine)
    futures = _posted_together(engine, Arrivals(engine), senders)
    for n, refused in ((1, Unauthorized), (3, Forbidden), (4, Unauthorized)):
        with pytest.raises(refused):
            futures[n].result(timeout=60)
    written = {n: futures[n].result(timeout=60) for n in (0, 2, 5)}
    assert len(commits) <= 3  # the refused did not split the group: no lead was tried again on its own
    with session_scope(engine, readonly=True) as session:
        stored = dict(session.execute(select(Lead.external_id, Lead.id).where(
            Lead.external_id.like("arrival-%"))).all())
        ops_id = session.scalar(select(User.id).where(User.username == "intake-ops"))
        actors = set(session.scalars(select(AuditEntry.actor_id).where(
            AuditEntry.subject_id.in_([str(i) for i in stored.values()]), AuditEntry.action == "leads.intake")))
    assert set(stored) == {f"arrival-{n}" for n in written}
    assert {routed.lead.id for routed, _ in written.values()} == set(stored.values())
    assert actors == {ops_id}  # each lead's audit entry names the token's holder
