"""Each shipped rule fires once, stays one alert while it holds, resolves itself when it stops holding; alerts are
messages that escalate; events coming in by the ingest door are judged at once. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import evenhand.alerts.tasks  # noqa: F401 - registers the capture hook, as the app and the worker do
from evenhand.alerts import service
from evenhand.db import session_scope
from evenhand.kit.clock import frozen
from evenhand.models import (
    Activity,
    ActivityType,
    Alert,
    AlertAction,
    AlertStatus,
    AuditEntry,
    Direction,
    FlagKind,
    FlagStatus,
    HonestyFlag,
    Notification,
    Opportunity,
    Stage,
)
from evenhand.notify import escalation
from evenhand.notify.service import active_policies
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return co.build(session)


def scan(engine: Engine, now: Any = NOW) -> service.ScanResult:
    """A scan with the clock standing at ``now``: the messages it sends are stamped then, and escalate from then."""
    with frozen(now), session_scope(engine) as session:
        return service.scan(session, now=now)


def alerts(engine: Engine, rule: str | None = None) -> list[Alert]:
    with session_scope(engine, readonly=True) as session:
        stmt = select(Alert).order_by(Alert.id)
        return list(session.scalars(stmt.where(Alert.rule == rule) if rule else stmt))


def messages(engine: Engine, kind: str = "alert") -> list[tuple[int, str]]:
    with session_scope(engine, readonly=True) as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(Notification.recipient_id, Notification.title).where(
                Notification.kind == kind, Notification.channel == "in_app").order_by(Notification.id))]


def test_a_stale_deal_raises_one_alert_told_to_supervisor_and_rep(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        quiet = co.deal(session, company, "chen", stage=Stage.PROPOSAL, age=8 * DAY).id  # proposal: 7 days
        co.deal(session, company, "chen", stage=Stage.NEEDS_ANALYSIS, age=8 * DAY)  # needs analysis: 10 days
        busy = co.deal(session, company, "zhang", stage=Stage.PROPOSAL, age=30 * DAY)
        co.act(session, company, "zhang", ago=2 * DAY, opportunity_id=busy.id, answered=True)
    first = scan(engine)
    [alert] = alerts(engine, "stale_opportunity")
    assert (alert.entity_type, alert.entity_id, alert.rep_id) == ("opportunity", quiet, company.id("chen"))
    assert alert.status is AlertStatus.OPEN and alert.evidence["facts"]["days_since_update"] == 8.0
    assert alert.evidence["facts"]["stage"] == "proposal" and alert.evidence["rule"]["params"]["days"]["proposal"] == 7
    told = {r for r, _ in messages(engine)}
    assert {company.id("wang"), company.id("chen")} <= told
    assert first.opened >= 1
    again = scan(engine, NOW + timedelta(hours=1))
    assert again.opened == 0 and len(alerts(engine, "stale_opportunity")) == 1
    assert len(messages(engine)) == first.messages


def test_an_activity_through_the_ingest_door_resolves_the_stale_alert_by_itself(engine: Engine,
                                                                                company: Company) -> None:
    with session_scope(engine) as session:
        quiet = co.deal(session, company, "chen", age=8 * DAY, key="D-1").id
    scan(engine)
    co.capture(engine, [{"external_id": "c-1", "rep": "chen", "opportunity": "D-1",
                         "occurred_at": (NOW + timedelta(minutes=5)).isoformat(), "answered": True}])
    [alert] = alerts(engine, "stale_opportunity")
    assert alert.entity_id == quiet and alert.status is AlertStatus.RESOLVED and alert.open_key is None
    assert alert.resolved_by is None
    with session_scope(engine, readonly=True) as session:
        [action] = session.scalars(select(AlertAction).where(AlertAction.alert_id == alert.id))
        assert action.action == "resolved" and action.actor_id is None and action.comment == "condition"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "alerts.resolved"))
        assert entry is not None and entry.payload["by_itself"] is True and entry.actor_id is None


def test_three_unanswered_contacts_across_channels_raise_one_alert_on_arrival(engine: Engine,
                                                                               company: Company) -> None:
    with session_scope(engine) as session:
        target = co.deal(session, company, "zhang", stage=Stage.QUALIFICATION, age=DAY, key="D-2").id
    rows: list[dict[str, Any]] = [{"external_id": "x-1", "type": "call", "answered": False},
                                  {"external_id": "x-2", "type": "email", "replied": False, "source_system": "outlook"},
                                  {"external_id": "x-3", "type": "message", "source_system": "wecom"}]
    for i, row in enumerate(rows):
        co.capture(engine, [{**row, "rep": "zhang", "opportunity": "D-2",
                             "occurred_at": (NOW - timedelta(hours=5 - i)).isoformat()}])
        assert len(alerts(engine, "customer_silent")) == (1 if i == 2 else 0)
    [alert] = alerts(engine, "customer_silent")
    assert alert.entity_id == target and alert.evidence["facts"]["consecutive_unanswered_outbound"] == 3
    # a fourth unanswered call: the same alert, nothing new
    co.capture(engine, [{"external_id": "x-4", "rep": "zhang", "opportunity": "D-2", "answered": False,
                         "occurred_at": (NOW - timedelta(hours=1)).isoformat()}])
    assert len(alerts(engine, "customer_silent")) == 1
    # the customer writes back
    co.capture(engine, [{"external_id": "in-1", "rep": "zhang", "opportunity": "D-2", "type": "email",
                         "direction": "inbound", "source_system": "outlook",
                         "occurred_at": (NOW - timedelta(minutes=30)).isoformat()}])
    [resolved] = alerts(engine, "customer_silent")
    assert resolved.status is AlertStatus.RESOLVED


def test_a_late_first_response_alerts_until_the_rep_responds(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        late = co.lead(session, company, "chen", assigned=timedelta(hours=3), key="L-late").id
        co.lead(session, company, "chen", assigned=timedelta(minutes=90), key="L-fresh")  # within 120 minutes
        answered = co.lead(session, company, "zhang", assigned=timedelta(hours=5), key="L-done")
        co.act(session, company, "zhang", ago=timedelta(hours=4), lead=answered, answered=True)
    scan(engine)
    [alert] = alerts(engine, "late_first_response")
    assert alert.entity_type == "lead" and alert.entity_id == late and alert.evidence["facts"]["responded"] is False
    assert alert.evidence["facts"]["first_response_minutes"] == 180.0
    co.capture(engine, [{"external_id": "r-1", "rep": "chen", "lead": "L-late", "answered": True,
                         "occurred_at": NOW.isoformat()}])
    assert alerts(engine, "late_first_response")[0].status is AlertStatus.RESOLVED


def test_a_stage_standard_overdue_alerts_until_the_deal_closes(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:  # qualification: 3 working days; created the Monday a week before
        overdue = co.deal(session, company, "liu", stage=Stage.QUALIFICATION, age=9 * DAY).id
        co.deal(session, company, "liu", stage=Stage.QUALIFICATION, age=timedelta(hours=20))  # still open
    scan(engine)
    [alert] = alerts(engine, "stage_standard_missed")
    assert alert.entity_id == overdue and alert.evidence["facts"]["standard_missed"] is True
    assert company.id("zhao") in {r for r, _ in messages(engine)}
    with session_scope(engine) as session:
        row = session.get(Opportunity, overdue)
        assert row is not None
        row.stage = Stage.LOST
    scan(engine)
    resolved = [a for a in alerts(engine) if a.entity_id == overdue and a.entity_type == "opportunity"]
    assert resolved and all(a.status is AlertStatus.RESOLVED for a in resolved)
    with session_scope(engine, readonly=True) as session:
        whys = set(session.scalars(select(AlertAction.comment).where(AlertAction.action == "resolved")))
    assert whys == {"closed"}


def test_an_unbacked_note_flagged_alerts_the_supervisor_until_the_flag_is_decided(engine: Engine,
                                                                                  company: Company) -> None:
    with session_scope(engine) as session:
        co.act(session, company, "chen", ago=DAY, type=ActivityType.NOTE, direction=Direction.INTERNAL,
               source_system="crm", body="已电话沟通")
        note_id = session.scalar(select(func.max(Activity.id)))
        session.add(HonestyFlag(activity_id=note_id, kind=FlagKind.UNBACKED, rep_id=company.id("chen"),
                                status=FlagStatus.OPEN, evidence={}))
    scan(engine)
    [alert] = alerts(engine, "unbacked_record")
    assert (alert.entity_type, alert.entity_id, alert.rep_id) == ("rep", company.id("chen"), company.id("chen"))
    assert alert.evidence["flags"] and alert.evidence["severity"] == "critical"
    assert [r for r, _ in messages(engine)] == [company.id("wang")]  # the rule tells the supervisor only
    with session_scope(engine) as session:
        flag = session.scalar(select(HonestyFlag))
        assert flag is not None
        flag.status = FlagStatus.DISMISSED
    scan(engine)
    assert alerts(engine, "unbacked_record")[0].status is AlertStatus.RESOLVED


def test_an_alert_nobody_acknowledges_escalates_like_any_message(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        co.deal(session, company, "liu", stage=Stage.NEGOTIATION, age=6 * DAY)  # negotiation: 5 days
    scan(engine)
    policies = active_policies()
    taken = escalation.run_due(engine, now=NOW + timedelta(minutes=31), policies=policies)
    taken += escalation.run_due(engine, now=NOW + timedelta(minutes=62), policies=policies)
    assert taken >= 2
    told = {r for r, _ in messages(engine, "escalation")}
    assert company.id("li") in told  # the supervisor zhao did not acknowledge: sales ops hears of it


def test_acknowledging_the_alert_stops_its_escalation(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        co.deal(session, company, "liu", stage=Stage.NEGOTIATION, age=6 * DAY)
    scan(engine)
    [alert] = alerts(engine, "stale_opportunity")
    with session_scope(engine) as session:
        service.acknowledge(session, company.principal("zhao"), alert.id)
    taken = escalation.run_due(engine, now=NOW + timedelta(minutes=62), policies=active_policies())
    assert taken == 0 and messages(engine, "escalation") == []


def test_the_scan_reads_in_full_every_deal_a_rule_holds_for(engine: Engine, company: Company) -> None:
    """The SQL bounds only ever let more deals through than CEL keeps (the stage standards' band aside: a deadline
    passed long ago was judged by the scans of its time)."""
    with session_scope(engine) as session:
        for i, (stage, age, last) in enumerate([(Stage.PROPOSAL, 8, None), (Stage.PROPOSAL, 8, 6.9),
                                                (Stage.PROPOSAL, 8, 7.1), (Stage.NEGOTIATION, 5.01, None),
                                                (Stage.NEGOTIATION, 4.99, None), (Stage.QUALIFICATION, 30, 6.99)]):
            row = co.deal(session, company, "chen", stage=stage, age=age * DAY, key=f"B-{i}")
            if last is not None:
                co.act(session, company, "chen", ago=last * DAY, opportunity_id=row.id, answered=True)
    with session_scope(engine) as session:
        rules = service.RULES.compiled(service.active(session).body)
        every = set(session.scalars(select(Opportunity.id)))
        facts = service._facts(session, "opportunity", every, rules.of("opportunity"), NOW)
        holding = {i for i, (_, _, f) in facts.items() for r in rules.of("opportunity")
                   if r.id != "stage_standard_missed" and r.holds(f)}
        found = set().union(*service.repository.candidates(session, "opportunity", rules.of("opportunity"), NOW,
                                                           service.deadline_band(session)).values())
    assert holding <= found
    stale = {i for i, (_, _, f) in facts.items() if rules.rule("stale_opportunity").holds(f)}  # type: ignore[union-attr]
    assert len(stale) == 3


def test_an_alert_that_cannot_be_judged_loses_no_activity(engine: Engine, company: Company,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(engine) as session:
        co.deal(session, company, "chen", age=8 * DAY, key="D-9")

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("rules unreadable")

    monkeypatch.setattr(service, "evaluate_entities", broken)
    co.capture(engine, [{"external_id": "k-1", "rep": "chen", "opportunity": "D-9", "occurred_at": NOW.isoformat()}])
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Activity).where(Activity.external_id == "k-1")) == 1
    assert alerts(engine) == []


def test_a_capture_rolled_back_judges_nothing(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        co.deal(session, company, "chen", stage=Stage.QUALIFICATION, age=DAY, key="D-8")
    rows = [{"external_id": f"u-{i}", "rep": "chen", "opportunity": "D-8", "answered": False,
             "occurred_at": (NOW - timedelta(hours=3 - i)).isoformat()} for i in range(3)]
    with pytest.raises(RuntimeError), frozen(NOW), session_scope(engine) as session:
        co.activities.capture_many(session, [co.ActivityCreate.model_validate(
            {"source_system": "telephony", "direction": "outbound", "type": "call", **r}) for r in rows])
        raise RuntimeError("the import failed on a later row")
    co.capture(engine, rows[:1])  # the next transaction on the same engine judges only what it captured
    assert alerts(engine, "customer_silent") == []


def test_every_shipped_rule_fires_once_and_each_alert_escalates(engine: Engine, company: Company) -> None:
    """One entity per shipped rule (liu's, of team Beta: zhao supervises it, sales ops li is above him)."""
    with session_scope(engine) as session:
        quiet = co.deal(session, company, "liu", stage=Stage.PROPOSAL, age=8 * DAY)  # stale, standard overdue
        silent = co.deal(session, company, "liu", stage=Stage.QUALIFICATION, age=timedelta(hours=10))
        waiting = co.lead(session, company, "liu", assigned=timedelta(hours=6), key="L-wait")  # contacted, silent
        untouched = co.lead(session, company, "liu", assigned=timedelta(hours=3), key="L-none")  # not contacted
        for hours in (3, 2, 1):
            co.act(session, company, "liu", ago=timedelta(hours=hours), opportunity_id=silent.id, answered=False)
            co.act(session, company, "liu", ago=timedelta(hours=hours, minutes=5), lead=waiting, answered=False,
                   direction=Direction.OUTBOUND, type=ActivityType.MESSAGE, source_system="wecom")
        co.act(session, company, "liu", ago=DAY, type=ActivityType.NOTE, direction=Direction.INTERNAL,
               source_system="crm", body="已上门拜访")
        session.add(HonestyFlag(activity_id=session.scalar(select(func.max(Activity.id))), kind=FlagKind.UNBACKED,
                                rep_id=company.id("liu"), status=FlagStatus.OPEN, evidence={}))
    first = scan(engine)
    again = scan(engine, NOW + timedelta(minutes=5))
    found = {(a.rule, a.entity_id) for a in alerts(engine)}
    assert found == {("stale_opportunity", quiet.id), ("stage_standard_missed", quiet.id),
                     ("customer_silent", silent.id), ("lead_silent", waiting.id),
                     ("late_first_response", untouched.id), ("unbacked_record", company.id("liu"))}
    assert first.opened == 6 and again.opened == 0 and again.live == 6
    policies = active_policies()
    for minutes in (31, 62):
        escalation.run_due(engine, now=NOW + timedelta(minutes=minutes), policies=policies)
    with session_scope(engine, readonly=True) as session:
        escalated = {row.link for row in session.scalars(select(Notification).where(
            Notification.kind == "escalation", Notification.recipient_id == company.id("li")))}
    assert escalated == {f"/alerts/{a.id}" for a in alerts(engine)}  # zhao acknowledged none of them
