"""What the scan spares itself, and that it decides the same: a stage standard remembered (met, or open until its
deadline) is not judged again before it can be overdue; a live alert whose rule the SQL decides is seen without its
deal read, and still resolves and comes back from a snooze. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

import evenhand.alerts.tasks  # noqa: F401 - registers the capture hook, as the app and the worker do
from evenhand.alerts import conditions, repository, service
from evenhand.db import session_scope
from evenhand.kit.clock import as_utc, frozen
from evenhand.models import Alert, AlertStatus, Opportunity, Stage
from evenhand.models.alerts import AlertStageClock
from evenhand.standards import service as standards
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return co.build(session)


def scan(engine: Engine, now: datetime = NOW) -> service.ScanResult:
    with frozen(now), session_scope(engine) as session:
        return service.scan(session, now=now)


def live(engine: Engine, rule: str) -> list[Alert]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(Alert).where(Alert.rule == rule).order_by(Alert.id)))


def passed(engine: Engine, now: datetime, *, remembering: bool = True) -> dict[str, set[int]]:
    """The deals the scan's SQL lets through per rule at ``now``, with or without the remembered clocks."""
    with session_scope(engine, readonly=True) as session:
        rules = service.RULES.compiled(service.active(session).body)
        version = standards.active(session).version if remembering else None
        return repository.candidates(session, "opportunity", rules.of("opportunity"), now,
                                     service.deadline_band(session), version)


def remembered(engine: Engine, deal: int) -> AlertStageClock:
    with session_scope(engine, readonly=True) as session:
        clock = session.get(AlertStageClock, deal)
        assert clock is not None
        return clock


def test_an_open_standard_is_judged_again_only_once_its_deadline_passed(engine: Engine, company: Company) -> None:
    """Qualification: 3 working days. Entered on the Saturday evening before ``NOW`` (a Wednesday): in the band the
    scan looks in, its deadline still ahead."""
    with session_scope(engine) as session:
        deal = co.deal(session, company, "chen", stage=Stage.QUALIFICATION, age=timedelta(days=3, hours=5)).id
    scan(engine)
    clock = remembered(engine, deal)
    due = as_utc(clock.due_at)
    assert clock.status == "open" and due > NOW and clock.standards_version == 1
    assert live(engine, "stage_standard_missed") == []
    before = NOW + timedelta(hours=1)
    assert deal not in passed(engine, before)["stage_standard_missed"]
    assert deal in passed(engine, before, remembering=False)["stage_standard_missed"]
    assert scan(engine, before).candidates["opportunity"] == 0
    scan(engine, due + timedelta(minutes=5))
    [alert] = live(engine, "stage_standard_missed")
    assert alert.entity_id == deal and alert.status is AlertStatus.OPEN
    assert remembered(engine, deal).status == "overdue"


def test_a_remembered_standard_counts_only_for_the_same_clock_and_owner(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        deal = co.deal(session, company, "chen", stage=Stage.QUALIFICATION, age=timedelta(days=3, hours=5)).id
    scan(engine)
    later = NOW + timedelta(hours=1)
    assert deal not in passed(engine, later)["stage_standard_missed"]
    with session_scope(engine) as session:
        row = session.get(Opportunity, deal)
        assert row is not None
        row.owner_id = company.id("zhang")  # another rep's working calendar: another deadline
    assert deal in passed(engine, later)["stage_standard_missed"]
    scan(engine, later)
    with session_scope(engine) as session:
        row = session.get(Opportunity, deal)
        assert row is not None and remembered(engine, deal).rep_id == company.id("zhang")
        row.stage_changed_at = NOW - timedelta(days=3, hours=4)  # entered its stage again
    assert deal in passed(engine, later)["stage_standard_missed"]


def test_a_live_stale_alert_is_seen_without_its_deal_read_and_still_resolves(engine: Engine,
                                                                             company: Company) -> None:
    with session_scope(engine) as session:
        deal = co.deal(session, company, "chen", stage=Stage.NEEDS_ANALYSIS, age=12 * DAY).id  # 10 days
    assert scan(engine).opened >= 1
    later = NOW + timedelta(hours=1)
    again = scan(engine, later)
    [alert] = live(engine, "stale_opportunity")
    assert again.opened == again.resolved == 0 and again.candidates["opportunity"] == 0
    assert alert.status is AlertStatus.OPEN and as_utc(alert.last_seen_at) == later
    with session_scope(engine) as session:  # written straight to the table: no hook judges it
        co.act(session, company, "chen", ago=-2 * timedelta(hours=1), opportunity_id=deal, answered=True)
    resolved = scan(engine, NOW + timedelta(hours=3))
    [alert] = live(engine, "stale_opportunity")
    assert resolved.resolved == 1 and alert.status is AlertStatus.RESOLVED and alert.open_key is None


def test_a_snoozed_stale_alert_comes_back_when_its_time_is_up(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        co.deal(session, company, "chen", stage=Stage.NEEDS_ANALYSIS, age=12 * DAY)
    scan(engine)
    [alert] = live(engine, "stale_opportunity")
    with session_scope(engine) as session:
        service.snooze(session, company.principal("wang"), alert.id, until=NOW + timedelta(hours=2),
                       reason="客户出差", now=NOW)
    assert scan(engine, NOW + timedelta(hours=1)).woke == 0
    woke = scan(engine, NOW + timedelta(hours=3))
    [alert] = live(engine, "stale_opportunity")
    assert woke.woke == 1 and alert.status is AlertStatus.OPEN and alert.snoozed_until is None


def test_a_rule_the_sql_decides_holds_on_every_deal_its_sql_lets_through(engine: Engine, company: Company) -> None:
    """``conditions.implied``: for such a rule the SQL and CEL agree both ways (the other way round is
    test_the_scan_reads_in_full_every_deal_a_rule_holds_for), so a live alert on a deal let through still holds."""
    shapes = [(Stage.PROPOSAL, 8, None), (Stage.PROPOSAL, 8, 6.9), (Stage.PROPOSAL, 8, 7.1), (Stage.PROPOSAL, 7, None),
              (Stage.NEGOTIATION, 5.01, None), (Stage.NEGOTIATION, 4.99, None), (Stage.QUALIFICATION, 30, 6.99),
              (Stage.NEEDS_ANALYSIS, 10, 10), (Stage.NEEDS_ANALYSIS, 40, 9.999)]
    with session_scope(engine) as session:
        for i, (stage, age, last) in enumerate(shapes):
            row = co.deal(session, company, "zhang", stage=stage, age=age * DAY, key=f"S-{i}")
            if last is not None:
                co.act(session, company, "zhang", ago=last * DAY, opportunity_id=row.id, answered=True)
    with session_scope(engine) as session:
        rules = service.RULES.compiled(service.active(session).body)
        stale = rules.rule("stale_opportunity")
        assert stale is not None and stale.implied
        facts = repository.opportunity_facts(session, set(session.scalars(select(Opportunity.id))), NOW)
        holding = {i for i, (_, _, f) in facts.items() if stale.holds(f)}
    assert passed(engine, NOW)["stale_opportunity"] == holding and len(holding) == 5


@pytest.mark.parametrize(("entity", "when", "params", "implied"), [
    ("opportunity", "days_since_update >= params.days[stage]", {"days": {"proposal": 7, "negotiation": 5}}, True),
    ("opportunity", "days_in_stage >= 30 && days_since_update >= 7.5", {}, True),
    ("opportunity", "days_since_update > 7", {}, False),  # the SQL lets through exactly 7 days
    ("opportunity", "days_since_update >= 7.0004", {}, False),  # the fact is rounded to 0.001 day
    ("opportunity", "days_since_update >= 7 && amount > 5000", {}, False),
    ("opportunity", "days_since_update >= 7 || amount > 5000", {}, False),
    ("opportunity", "consecutive_unanswered_outbound >= 3", {}, False),  # SQL counts them in all, not in a row
    ("opportunity", "standard_missed", {}, False),
    ("lead", "days_since_update >= 3", {}, True),
    ("lead", "!responded && first_response_minutes > 120", {}, False),
    ("rep", "unbacked_flags >= 1", {}, True),
    ("rep", "duplicate_flags > 0", {}, True),
    ("rep", "unbacked_flags >= 2", {}, False),
])
def test_which_conditions_the_sql_decides(entity: str, when: str, params: dict[str, Any], implied: bool) -> None:
    assert conditions.implied(when, entity, params) is implied
