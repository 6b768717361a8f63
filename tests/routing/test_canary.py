"""Canary rollout of a routing policy version (R4.4): a stable share of leads is routed by the candidate, each
decision names its arm and version and replays under it, and rolling back or promoting takes effect for the next
lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.errors import Conflict, Invalid
from evenhand.kit.audit_check import verify
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import (
    AuditEntry,
    Canary,
    CanaryStatus,
    ChangeEntry,
    ChangeStatus,
    Department,
    Lead,
    Level,
    Presence,
    Role,
    RoutingDecision,
    Team,
    User,
)
from evenhand.routing import canary, holds, policy_versions, reassignment, service
from evenhand.routing.router import Router, route

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 11:00 in Shanghai
CONTROL = """
name: 对照
threshold_high_value: 100
availability: {working_hours: false}
pools:
  - id: everyone
"""
# Large companies go to the key-account team, and high-value leads by weight from score 50.
CANDIDATE = """
name: 候选
threshold_high_value: 50
availability: {working_hours: false}
pools:
  - id: key
    condition: 'lead.company_size != null && lead.company_size >= 300'
    members: {teams: [KA]}
  - id: everyone
"""


def test_the_arm_split_is_stable_and_close_to_the_share() -> None:
    ids = range(1, 10_001)
    tenth = [canary.arm_for("s1", 0.1, i) for i in ids]
    assert tenth == [canary.arm_for("s1", 0.1, i) for i in ids]
    assert 0.091 <= tenth.count("canary") / 10_000 <= 0.109  # three standard errors either side
    fifth = [canary.arm_for("s1", 0.2, i) for i in ids]
    assert 0.191 <= fifth.count("canary") / 10_000 <= 0.209
    assert all(b == "canary" for a, b in zip(tenth, fifth, strict=True) if a == "canary")  # a wider share only adds
    other = [canary.arm_for("s2", 0.1, i) for i in ids]
    both = sum(a == b == "canary" for a, b in zip(tenth, other, strict=True))
    assert both < 200  # another salt draws another sample: about 1% of ids fall in both


def company(session: Session) -> None:
    """Two teams of three online reps (Sales, KA); the control policy active."""
    dept = Department(code="sales", name="sales")
    session.add(dept)
    session.flush()
    for name in ("Sales", "KA"):
        team = Team(name=name, department_id=dept.id)
        session.add(team)
        session.flush()
        session.add_all(User(username=f"{name}-{i}", display_name=f"{name}-{i}", role=Role.REP, team_id=team.id,
                             level=Level.SENIOR, presence=Presence.ONLINE, working_hours={}, max_open_leads=100,
                             daily_lead_cap=100) for i in range(3))
    policy_versions.save(session, CONTROL, author=None, note="control")


def new_leads(session: Session, tag: str, count: int) -> list[Lead]:
    rows = [LeadCreate(source="website", external_id=f"{tag}-{n}", company=f"{tag}公司{n}",
                       company_size=(40, 800)[n % 2]) for n in range(count)]
    leads = [r.lead for r in lead_service.intake_many(session, rows, actor=None, dedup=[])]
    for n, lead in enumerate(leads):
        lead.score = (30, 70, 90)[n % 3]
    session.flush()
    return leads


def start(session: Session, share: float = 0.5) -> Canary:
    return canary.start(session, CANDIDATE, share=share, metrics=["lead_conversion"], author=None, note="key pool")


def routed(session: Session, leads: list[Lead]) -> list[RoutingDecision]:
    router = Router(session, now=NOW)
    router.route_all(leads)
    return router.finish()


def payload(session: Session, row: RoutingDecision) -> dict[str, Any]:
    return service.decision(session, row.id)[1]


def test_starting_stores_the_candidate_without_making_it_active(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        found = start(session, 0.1)
        candidate = policy_versions.version(session, found.version)
        assert (found.control_version, found.version, found.status) == (2, 3, CanaryStatus.RUNNING)
        assert not candidate.active and candidate.body == CANDIDATE
        assert policy_versions.active(session).version == 2
        change = session.get(ChangeEntry, found.change_id)
        assert change is not None
        assert (change.kind, change.status, change.source, change.document, change.document_version) == (
            "canary", ChangeStatus.RELEASED, "config", "routing_policies", 3)
        assert change.affected_metrics == ["lead_conversion"]
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(2)).all()
        assert actions == ["routing.canary_started", "routing.policy_candidate"]


def test_a_start_is_refused_naming_what_is_wrong(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        for share in (0, -0.1, 0.51):
            with pytest.raises(Invalid) as refused:
                start(session, share)
            assert refused.value.field == "share"
        with pytest.raises(Invalid) as same:
            canary.start(session, CONTROL, share=0.1, metrics=[], author=None)
        assert same.value.field == "body"
        with pytest.raises(Invalid) as wrong:
            canary.start(session, "name: x\npools: 3\n", share=0.1, metrics=[], author=None)
        assert wrong.value.details and wrong.value.details[0]["line"] == 2
        start(session)
        with pytest.raises(Conflict):
            start(session)
        with pytest.raises(Conflict) as saving:
            policy_versions.save(session, CANDIDATE, author=None)
        assert saving.value.field == "body"
        assert session.scalar(select(Canary.id).where(Canary.status == CanaryStatus.RUNNING)) is not None


def test_each_lead_is_routed_by_its_arm_and_replays(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        running = start(session)
    with session_scope(engine) as session:
        running = session.get(Canary, running.id)  # type: ignore[assignment]
        rows = routed(session, new_leads(session, "c", 24))
        arms = {row.lead_id: canary.arm_of(running, row.lead_id) for row in rows}
        assert set(arms.values()) == {"canary", "control"}
        for row in rows:
            assert row.arm == arms[row.lead_id]
            assert row.policy_version == (3 if row.arm == "canary" else 2)
            evidence = payload(session, row)
            assert (evidence["arm"], evidence["canary_id"], evidence["policy_version"]) == (
                row.arm, running.id, row.policy_version)
            recorded, again = service.replay(session, row.id)
            assert again.to_dict() == recorded.to_dict()
        pools = {(row.arm, row.pool_id) for row in rows}
        assert ("canary", "key") in pools and ("control", "key") not in pools
    with session_scope(engine, readonly=True) as session:
        assert verify(session)[1] is None


def test_a_batch_under_a_canary_decides_as_one_lead_at_a_time_does(engine: Engine) -> None:
    """Both arms in one batch share pool states and keep every rep's counts current, whichever arm assigned."""
    with session_scope(engine) as session:
        company(session)
        start(session)
        ids = [lead.id for lead in new_leads(session, "b", 18)]

    def evidence(session: Session, row: RoutingDecision) -> tuple[Any, ...]:
        return row.lead_id, row.arm, row.policy_version, row.rep_id, payload(session, row)["decision"]

    with session_scope(engine) as session:
        together = [evidence(session, row) for row in routed(session, [session.get(Lead, i) for i in ids])]  # type: ignore[misc]
        session.rollback()
    alone = []
    for lead_id in ids:
        with session_scope(engine) as session:
            alone.append(evidence(session, route(session, session.get(Lead, lead_id), now=NOW)))  # type: ignore[arg-type]
    assert together == alone


def test_rollback_stops_canary_decisions_at_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        running = start(session)
        assert {row.arm for row in routed(session, new_leads(session, "before", 12))} == {"canary", "control"}
        ended = canary.rollback(session, running.id, by=None, reason="more appeals")
        assert (ended.status, ended.ended_at is not None) == (CanaryStatus.ROLLED_BACK, True)
        assert session.get(ChangeEntry, running.change_id).status == ChangeStatus.ROLLED_BACK  # type: ignore[union-attr]
        after = routed(session, new_leads(session, "after", 12))
        assert {(row.arm, row.policy_version) for row in after} == {(None, 2)}
        assert all("arm" not in payload(session, row) for row in after)
        with pytest.raises(Conflict):
            canary.rollback(session, running.id, by=None)
        assert policy_versions.active(session).version == 2
        policy_versions.save(session, CANDIDATE, author=None, note="saving is open again")


def test_promotion_makes_the_candidate_the_active_version(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        running = start(session)
        saved = canary.promote(session, running.id, by=None, note="better")
        assert (saved.version, saved.active, saved.body, saved.affected_metrics) == (
            4, True, CANDIDATE, ["lead_conversion"])
        assert running.status == CanaryStatus.PROMOTED
        after = routed(session, new_leads(session, "p", 6))
        assert {(row.arm, row.policy_version) for row in after} == {(None, 4)}
        with pytest.raises(Conflict):
            canary.promote(session, running.id, by=None)


def test_without_a_canary_nothing_changes(engine: Engine) -> None:
    with session_scope(engine) as session:
        company(session)
        rows = routed(session, new_leads(session, "n", 6))
        assert {(row.arm, row.policy_version) for row in rows} == {(None, 2)}
        assert all(set(payload(session, row)) == {"decision", "policy_version", "kind", "latency_us"} for row in rows)


def test_a_canary_lead_is_reassigned_by_the_candidate_and_a_control_lead_by_the_active_version(
        engine: Engine) -> None:
    """What is decided about a lead after its intake follows its arm: a canary lead routed again stays in the
    candidate's pools, and its decision names the arm and the candidate's version and replays under it."""
    with session_scope(engine) as session:
        company(session)
        running = start(session)
        rows = {row.lead_id: row for row in routed(session, new_leads(session, "r", 24))}
        large = [row for row in rows.values() if session.get(Lead, row.lead_id).company_size == 800]  # type: ignore[union-attr]
        picked = {arm: next(row for row in large if row.arm == arm) for arm in ("canary", "control")}
        again = {arm: reassignment.reassign(session, session.get(Lead, row.lead_id), actor=None,  # type: ignore[arg-type]
                                            kind="unacknowledged", now=NOW)
                 for arm, row in picked.items()}
        teams = dict(session.execute(select(User.id, Team.name).join(Team, Team.id == User.team_id)).tuples().all())
        assert {arm: (row.arm, row.policy_version, row.pool_id) for arm, row in again.items()} == {
            "canary": ("canary", 3, "key"), "control": ("control", 2, "everyone")}
        assert teams[again["canary"].rep_id] == "KA"  # type: ignore[index]
        assert again["canary"].rep_id != picked["canary"].rep_id
        for row in again.values():
            evidence = payload(session, row)
            assert (evidence["arm"], evidence["canary_id"], evidence["policy_version"], evidence["kind"]) == (
                row.arm, running.id, row.policy_version, "unacknowledged")
            recorded, replayed = service.replay(session, row.id)
            assert replayed.to_dict() == recorded.to_dict()
        assert service.pool_supervisors(session, session.get(Lead, picked["canary"].lead_id)) == set()  # type: ignore[arg-type]


def test_a_held_canary_lead_escalates_after_the_candidates_wait(engine: Engine) -> None:
    """Nobody online: every lead waits. The candidate escalates after 5 minutes, the active version after its
    default 30; at 10 minutes only the canary's leads have reached a supervisor, and the queue names each lead's
    pool as its own arm's policy labels it."""
    impatient = CANDIDATE.replace("  - id: key\n", "  - id: key\n    label: 大客户池\n") + \
        "holding: {escalate_after_minutes: 5}\n"
    with session_scope(engine) as session:
        company(session)
        running = canary.start(session, impatient, share=0.5, metrics=[], author=None)
        for rep in session.scalars(select(User).where(User.role == Role.REP)):
            rep.presence = Presence.OFFLINE
        # Each canary draws its own salt, so which leads fall in its arm is random: with 40 leads (20 large ones,
        # the key pool's) the chance that no large lead is the canary's is about one in a million; with 12 it was 1/64.
        rows = routed(session, new_leads(session, "h", 40))
        assert {row.outcome for row in rows} == {"held"}
        arms = {row.lead_id: canary.arm_of(running, row.lead_id) for row in rows}
        assert set(arms.values()) == {"canary", "control"}
        escalated = holds.escalate_held(session, now=NOW + timedelta(minutes=10))
        assert sorted(escalated) == sorted(lead for lead, arm in arms.items() if arm == "canary")
        labels = {w.lead_id: w.pool for w in holds.waiting(session, now=NOW + timedelta(minutes=10))}
        pools = {row.lead_id: row.pool_id for row in rows}
        assert {labels[lead] for lead, pool in pools.items() if pool == "key"} == {"大客户池"}
        assert sorted(holds.escalate_held(session, now=NOW + timedelta(minutes=30))) == sorted(
            lead for lead, arm in arms.items() if arm == "control")
