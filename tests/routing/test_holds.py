"""The holding queue escalates: a lead nobody could take reaches a supervisor once its wait is over (R1.2)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.kit import audit_check
from evenhand.models import AuditEntry, HeldLead, Notification, Presence, Role, RoutingDecision, Team
from evenhand.notify import jobs
from evenhand.routing import holds, policy_versions, router
from tests.builders import make_user
from tests.routing.test_service import NOW, POLICY, company, lead


def test_a_held_lead_escalates_once_to_the_team_supervisor_after_the_wait(engine: Engine) -> None:
    with session_scope(engine) as session:
        people = company(session)
        for rep in ("a", "b", "c"):
            people[rep].presence = Presence.OFFLINE
        held = router.route(session, lead(session, 1), now=NOW)
        assert held.outcome == "held"
        assert holds.escalate_held(session, now=NOW + timedelta(minutes=29)) == []  # the default wait is 30
        assert holds.escalate_held(session, now=NOW + timedelta(minutes=30)) == [held.lead_id]
        assert holds.escalate_held(session, now=NOW + timedelta(minutes=90)) == []  # once
        boss = people["boss"].id
    with session_scope(engine, readonly=True) as session:
        sent = session.scalars(select(Notification).where(Notification.kind == holds.ESCALATED)).all()
        assert [(n.recipient_id, n.lead_id) for n in sent] == [(boss, held.lead_id)]
        assert "公司1" in sent[0].title
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "routing.escalated"))
        assert entry is not None and entry.payload["notified"] == [boss] and entry.payload["pool_id"] == "east"
        assert session.get(HeldLead, held.lead_id).escalated_at is not None  # type: ignore[union-attr]
        assert audit_check.verify(session)[1] is None


def test_the_policy_names_the_supervisor_and_nobody_named_falls_back_to_ops(engine: Engine) -> None:
    own = "    label: 华东\n    supervisor: lina\n    escalate_after_minutes: 5\n"
    named = POLICY.replace("    label: 华东\n", own)
    with session_scope(engine) as session:
        people = company(session)
        lina = make_user(session, username="lina", role=Role.SUPERVISOR)
        ops = make_user(session, username="ops1", role=Role.OPS)
        policy_versions.save(session, named, author=None)
        for rep in ("a", "b", "c", "s"):
            people[rep].presence = Presence.OFFLINE
        east = router.route(session, lead(session, 1), now=NOW)
        south = router.route(session, lead(session, 2, region="south"), now=NOW)
        session.get(Team, people["s"].team_id).supervisor_id = None  # type: ignore[union-attr]
        assert sorted(holds.escalate_held(session, now=NOW + timedelta(minutes=31))) == sorted(
            [east.lead_id, south.lead_id])
        by_lead = {n.lead_id: n.recipient_id for n in session.scalars(
            select(Notification).where(Notification.kind == holds.ESCALATED))}
        assert by_lead[east.lead_id] == lina.id  # the pool's own supervisor and wait (5 minutes)
        assert by_lead[south.lead_id] == ops.id  # the rest pool's team has no supervisor any more: ops hears


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_the_worker_job_is_registered() -> None:
    jobs.load_tasks()
    assert {"routing.escalate_held", "routing.release_held"} <= {job.name for job in jobs.registered()}


def test_the_release_job_routes_a_held_lead_once_working_hours_begin(engine: Engine) -> None:
    from evenhand.models import Lead
    from evenhand.routing import tasks

    office = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    with session_scope(engine) as session:
        people = company(session)
        for rep in ("a", "b", "c"):
            people[rep].working_hours = office
        early = NOW.replace(hour=0)  # Friday 08:00 in Shanghai: nobody is at work yet
        held = router.route(session, lead(session, 1), now=early)
        assert held.outcome == "held"
        queued = session.get(HeldLead, held.lead_id)
        since, entries = queued.held_since if queued else None, audit_count(session)
        for minutes in range(1, 60):  # a retry a minute that finds nobody writes nothing
            tasks.release_held(session, early + timedelta(minutes=minutes))
        assert session.get(Lead, held.lead_id).owner_id is None  # type: ignore[union-attr]
        assert session.scalars(select(RoutingDecision.kind).where(RoutingDecision.lead_id == held.lead_id)).all() \
            == ["intake"]
        assert audit_count(session) == entries and session.get(HeldLead, held.lead_id).held_since == since  # type: ignore[union-attr]
        tasks.release_held(session, early + timedelta(hours=1, minutes=1))  # 09:01
        assert session.get(Lead, held.lead_id).owner_id in {people[r].id for r in ("a", "b", "c")}  # type: ignore[union-attr]
        assert session.get(HeldLead, held.lead_id) is None
        assert session.scalars(select(RoutingDecision.kind).where(RoutingDecision.lead_id == held.lead_id)).all() \
            == ["intake", "release"]


def test_an_unacknowledged_lead_is_routed_again_without_its_rep_when_the_policy_says_so(engine: Engine) -> None:
    from evenhand.models import Lead
    from evenhand.notify import hooks
    from evenhand.routing import tasks

    with session_scope(engine) as session:
        company(session)
        first = router.route(session, lead(session, 1), now=NOW)
        event = hooks.UnacknowledgedLead(lead_id=first.lead_id, rep_id=first.rep_id or 0, message_id=0,
                                         waited_minutes=15)
        assert tasks.reassign_unacknowledged(session, event, NOW) is None  # the test policy keeps the lead
        policy_versions.save(session, POLICY.replace("pools:", "unacknowledged: reassign\npools:"), author=None)
        note = tasks.reassign_unacknowledged(session, event, NOW + timedelta(minutes=15))
        owner = session.get(Lead, first.lead_id).owner_id  # type: ignore[union-attr]
        assert note is not None and owner not in (None, first.rep_id)
        again = session.scalar(select(AuditEntry).where(AuditEntry.action == "routing.unacknowledged"))
        assert again is not None and again.payload["decision"]["excluded"] == {str(first.rep_id): "previous_owner"}
        assert tasks.reassign_unacknowledged(session, event, NOW) is None  # no longer that rep's lead
