"""Scanning, notifying, deciding and reading honesty flags, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, NotFound
from evenhand.honesty import service
from evenhand.models import (
    ActivityType,
    AuditEntry,
    FlagKind,
    FlagStatus,
    HonestyFlag,
    Lead,
    Notification,
    Role,
    SourceSystem,
    User,
)
from tests.builders import Org, make_activity
from tests.honesty import factory
from tests.honesty.factory import DAY, SINCE, UNTIL


@pytest.fixture
def notes(engine: Engine, org: Org) -> dict[str, int]:
    with session_scope(engine) as session:
        return factory.build(session, org)


def scan(engine: Engine) -> service.ScanResult:
    with session_scope(engine) as session:
        return service.scan(session, since=SINCE, until=UNTIL)


def flags(engine: Engine) -> dict[tuple[int, FlagKind], HonestyFlag]:
    with session_scope(engine, readonly=True) as session:
        return {(f.activity_id, f.kind): f for f in session.scalars(select(HonestyFlag))}


def principal(session: Session, org: Org, name: str) -> Principal:
    user = session.get(User, org.id(name))
    assert user is not None
    supervised = frozenset(t.id for t in org.teams.values() if t.supervisor_id == user.id)
    return Principal(user.id, user.username, user.display_name, user.role, user.team_id, supervised)


def test_a_scan_flags_unbacked_notes_and_copies_and_nothing_else(engine: Engine, notes: dict[str, int]) -> None:
    result = scan(engine)
    assert result.notes == 7
    assert result.new == {"unbacked": 2, "duplicate": 2} == result.open
    assert set(flags(engine)) == {(notes["fake"], FlagKind.UNBACKED), (notes["solo"], FlagKind.UNBACKED),
                                  (notes["copy1"], FlagKind.DUPLICATE), (notes["copy2"], FlagKind.DUPLICATE)}


def test_each_flag_carries_its_evidence(engine: Engine, org: Org, notes: dict[str, int]) -> None:
    scan(engine)
    found = flags(engine)
    fake = found[(notes["fake"], FlagKind.UNBACKED)].evidence
    assert fake["note"]["text"] == "已电话沟通，客户有意向" and fake["note"]["declared_type"] == "call"
    assert fake["claims"] == ["call"] and fake["window"]["before_hours"] == 12
    assert fake["window"]["from"] == (DAY - timedelta(hours=12)).isoformat()
    [dial] = fake["nearest_before"]  # the unanswered dial an hour before does not back "talked by phone"
    assert dial["kind"] == "call" and dial["connected"] is False and fake["nearest_after"] == []
    copy = found[(notes["copy1"], FlagKind.DUPLICATE)]
    assert copy.rep_id == org.id("rep_n1")
    [similar] = copy.evidence["similar"]
    assert similar["id"] == notes["copy2"] and similar["lead_id"] == notes["lead_copy2"]
    assert 0.8 <= similar["similarity"] < 1


def test_one_digest_per_reviewer_the_teams_supervisor_or_sales_ops(engine: Engine, org: Org,
                                                                   notes: dict[str, int]) -> None:
    assert scan(engine).digests == 2
    with session_scope(engine, readonly=True) as session:
        sent = session.execute(select(Notification.recipient_id, Notification.title, Notification.body)
                               .where(Notification.kind == "honesty_flags")).all()
    by_recipient = {r: (title, body) for r, title, body in sent}
    assert set(by_recipient) == {org.id("sup_a"), org.id("ops")} and len(sent) == 2
    title, body = by_recipient[org.id("sup_a")]
    assert "3" in title and "1" in body and "2" in body


def test_scanning_again_raises_nothing_tells_nobody_and_writes_nothing(engine: Engine, notes: dict[str, int]) -> None:
    scan(engine)
    with session_scope(engine, readonly=True) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    again = scan(engine)
    assert again.new == {"unbacked": 0, "duplicate": 0} and again.digests == 0
    assert again.open == {"unbacked": 2, "duplicate": 2}
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(HonestyFlag)) == 4
        assert session.scalar(select(func.count()).where(Notification.kind == "honesty_flags")) == 2
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_a_contact_captured_late_closes_the_open_flag(engine: Engine, org: Org, notes: dict[str, int]) -> None:
    scan(engine)
    with session_scope(engine) as session:
        lead = session.get(Lead, notes["lead_solo"])
        make_activity(session, rep=org.users["rep_e1"], type=ActivityType.VISIT, source_system=SourceSystem.WECOM,
                      occurred_at=DAY - timedelta(hours=3), lead=lead, duration_seconds=3600)
    result = scan(engine)
    assert result.closed == {"unbacked": 1, "duplicate": 0} and result.open["unbacked"] == 1
    closed = flags(engine)[(notes["solo"], FlagKind.UNBACKED)]
    assert closed.status is FlagStatus.DISMISSED and closed.decided_by is None
    assert closed.evidence["closed"]["reason"] == "backed"


def test_a_note_outside_the_period_is_not_scanned(engine: Engine, notes: dict[str, int]) -> None:
    with session_scope(engine) as session:
        result = service.scan(session, since=DAY + timedelta(hours=1), until=UNTIL)
    assert result.notes == 0 and flags(engine) == {}


def test_the_reps_supervisor_confirms_and_it_is_audited(engine: Engine, org: Org, notes: dict[str, int]) -> None:
    scan(engine)
    flag = flags(engine)[(notes["fake"], FlagKind.UNBACKED)]
    with session_scope(engine) as session:
        service.decide(session, flag.id, "confirm", note="没有通话记录", actor=principal(session, org, "sup_a"))
    decided = flags(engine)[(notes["fake"], FlagKind.UNBACKED)]
    assert decided.status is FlagStatus.CONFIRMED and decided.decided_by == org.id("sup_a")
    assert decided.decision_note == "没有通话记录"
    with session_scope(engine, readonly=True) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "honesty.confirmed"))
        assert entry is not None and entry.actor_id == org.id("sup_a") and entry.subject_id == str(flag.id)
        assert entry.payload["activity_id"] == notes["fake"]
        with pytest.raises(Conflict):
            service.decide(session, flag.id, "dismiss", note="", actor=principal(session, org, "ops"))


@pytest.mark.parametrize(("who", "error"), [("sup_b", NotFound), ("rep_n2", NotFound), ("rep_n1", Forbidden),
                                            ("auditor", Forbidden)])
def test_others_may_not_decide(engine: Engine, org: Org, notes: dict[str, int], who: str,
                               error: type[Exception]) -> None:
    scan(engine)
    flag = flags(engine)[(notes["fake"], FlagKind.UNBACKED)]
    with session_scope(engine) as session, pytest.raises(error):
        service.decide(session, flag.id, "dismiss", note="", actor=principal(session, org, who))
    assert flags(engine)[(notes["fake"], FlagKind.UNBACKED)].status is FlagStatus.OPEN


def test_sales_ops_decide_a_flag_without_a_supervisor(engine: Engine, org: Org, notes: dict[str, int]) -> None:
    scan(engine)
    flag = flags(engine)[(notes["solo"], FlagKind.UNBACKED)]
    with session_scope(engine) as session:
        done = service.decide(session, flag.id, "dismiss", note="客户到访登记在纸质表",
                              actor=principal(session, org, "ops"))
        assert done.status is FlagStatus.DISMISSED


def test_who_reads_which_flags(engine: Engine, org: Org, notes: dict[str, int]) -> None:
    scan(engine)
    with session_scope(engine, readonly=True) as session:
        def seen(name: str) -> set[int]:
            return {f.activity_id for f in service.listed(session, principal(session, org, name))}

        assert seen("rep_n1") == {notes["fake"], notes["copy1"], notes["copy2"]}
        assert seen("rep_n2") == set() and seen("sup_b") == set()
        assert seen("sup_a") == seen("rep_n1")
        assert seen("auditor") == seen("rep_n1") | {notes["solo"]}
        open_oldest_first = service.listed(session, principal(session, org, "ops"), status=FlagStatus.OPEN)
        assert [f.id for f in open_oldest_first] == sorted(f.id for f in open_oldest_first)
        [item] = [f for f in service.reviewed(session, principal(session, org, "sup_a"), status=FlagStatus.OPEN)
                  if f.activity_id == notes["fake"]]
        assert item.may_decide and item.rep_name == org.users["rep_n1"].display_name
        assert not any(f.may_decide for f in service.reviewed(session, principal(session, org, "rep_n1"),
                                                              status=None, mine=True))


def test_roles_are_what_the_org_says(org: Org) -> None:
    assert org.users["ops"].role is Role.OPS and org.users["rep_solo"].team_id is None


def test_the_workers_daily_job_scans_the_last_days(engine: Engine, notes: dict[str, int]) -> None:
    from evenhand.honesty import tasks
    from evenhand.notify import jobs

    assert "honesty.scan" in {job.name for job in jobs.registered()}
    with session_scope(engine) as session:
        tasks.scan_recent_notes(session, DAY + timedelta(days=3))
    assert (notes["fake"], FlagKind.UNBACKED) in flags(engine)
    with session_scope(engine) as session:
        tasks.scan_recent_notes(session, DAY + timedelta(days=30))  # a month on: the notes are out of its reach
        assert session.scalar(select(func.count()).select_from(HonestyFlag)) == 4
