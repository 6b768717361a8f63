"""What people do with alerts: snoozing until a time, who may act and who reads what. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from evenhand.alerts import service
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.kit.clock import frozen
from evenhand.models import Alert, AlertAction, AlertStatus, Notification, Stage
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return co.build(session)


@pytest.fixture
def stale(engine: Engine, company: Company) -> dict[str, int]:
    """A stale deal of chen's (team Alpha, supervisor wang) and one of liu's (team Beta, supervisor zhao), alerted."""
    with session_scope(engine) as session:
        chen = co.deal(session, company, "chen", stage=Stage.PROPOSAL, age=8 * DAY).id
        liu = co.deal(session, company, "liu", stage=Stage.PROPOSAL, age=8 * DAY).id
    with frozen(NOW), session_scope(engine) as session:
        service.scan(session, now=NOW)
        found = {a.entity_id: a.id for a in session.scalars(select(Alert).where(Alert.rule == "stale_opportunity"))}
    return {"chen": found[chen], "liu": found[liu], "chen_deal": chen}


def listed(engine: Engine, company: Company, who: str, **kw: object) -> set[int]:
    with session_scope(engine, readonly=True) as session:
        return {a.id for a in service.listed(session, company.principal(who), **kw)}  # type: ignore[arg-type]


def test_a_snoozed_alert_is_hidden_until_its_time_then_returns_if_still_holding(
        engine: Engine, company: Company, stale: dict[str, int]) -> None:
    with session_scope(engine) as session:
        service.snooze(session, company.principal("wang"), stale["chen"], until=NOW + DAY, reason="客户出差一周",
                       now=NOW)
    assert stale["chen"] not in listed(engine, company, "wang", now=NOW + timedelta(hours=2))
    with frozen(NOW + timedelta(hours=2)), session_scope(engine) as session:
        assert service.scan(session, now=NOW + timedelta(hours=2)).woke == 0
    later = NOW + DAY + timedelta(hours=1)
    with session_scope(engine, readonly=True) as session:
        before = len(list(session.scalars(select(Notification.id).where(Notification.kind == "alert",
                                                                        Notification.channel == "in_app"))))
    with frozen(later), session_scope(engine) as session:
        assert service.scan(session, now=later).woke == 1
    assert stale["chen"] in listed(engine, company, "wang", now=later)
    with session_scope(engine, readonly=True) as session:
        alert = session.get(Alert, stale["chen"])
        assert alert is not None and alert.status is AlertStatus.OPEN and alert.snoozed_until is None
        after = len(list(session.scalars(select(Notification.id).where(Notification.kind == "alert",
                                                                       Notification.channel == "in_app"))))
        actions = [a.action for a in session.scalars(select(AlertAction).where(AlertAction.alert_id == alert.id))]
    assert after == before + 2 and actions == ["snoozed", "returned"]  # wang and chen are told again


def test_a_snoozed_alert_whose_condition_stops_holding_resolves(engine: Engine, company: Company,
                                                                stale: dict[str, int]) -> None:
    with session_scope(engine) as session:
        service.snooze(session, company.principal("wang"), stale["chen"], until=NOW + DAY, reason="等客户回复",
                       now=NOW)
        co.act(session, company, "chen", ago=-timedelta(hours=1), opportunity_id=stale["chen_deal"], answered=True)
    with frozen(NOW + timedelta(hours=2)), session_scope(engine) as session:
        assert service.scan(session, now=NOW + timedelta(hours=2)).resolved == 1
    with session_scope(engine, readonly=True) as session:
        assert session.get(Alert, stale["chen"]).status is AlertStatus.RESOLVED  # type: ignore[union-attr]


def test_a_snooze_needs_a_reason_and_a_time_ahead(engine: Engine, company: Company, stale: dict[str, int]) -> None:
    with session_scope(engine) as session:
        with pytest.raises(Invalid) as no_reason:
            service.snooze(session, company.principal("wang"), stale["chen"], until=NOW + DAY, reason=" ", now=NOW)
        with pytest.raises(Invalid) as past:
            service.snooze(session, company.principal("wang"), stale["chen"], until=NOW - DAY, reason="x", now=NOW)
    assert no_reason.value.field == "reason" and past.value.field == "until"


def test_who_reads_which_alerts(engine: Engine, company: Company, stale: dict[str, int]) -> None:
    both = {stale["chen"], stale["liu"]}

    def seen(who: str, **kw: object) -> set[int]:
        return listed(engine, company, who, **kw) & both  # the deals' stage standards are overdue too

    assert seen("chen") == {stale["chen"]} and seen("zhang") == set()
    assert seen("wang") == {stale["chen"]} == seen("wang", scope="teams")
    assert seen("zhao") == {stale["liu"]}
    assert seen("li") == both == seen("shen") and seen("li", scope="mine") == set()
    with session_scope(engine, readonly=True) as session, pytest.raises(NotFound):
        service.visible(session, company.principal("zhao"), stale["chen"])


def test_the_rep_acknowledges_and_comments_but_only_the_supervisor_ops_or_admin_snooze_or_resolve(
        engine: Engine, company: Company, stale: dict[str, int]) -> None:
    alert = stale["chen"]
    with session_scope(engine) as session:
        service.acknowledge(session, company.principal("chen"), alert, comment="今天下午回访")
        service.comment(session, company.principal("chen"), alert, "客户在出差")
        with pytest.raises(Forbidden):
            service.resolve(session, company.principal("chen"), alert)
        with pytest.raises(Forbidden):
            service.snooze(session, company.principal("chen"), alert, until=NOW + DAY, reason="x", now=NOW)
        with pytest.raises(Forbidden):
            service.comment(session, company.principal("shen"), alert, "审计")
        with pytest.raises(NotFound):
            service.resolve(session, company.principal("zhao"), alert)
        with pytest.raises(Conflict):
            service.acknowledge(session, company.principal("wang"), alert)
        service.resolve(session, company.principal("wang"), alert, comment="已与销售沟通")
    with session_scope(engine, readonly=True) as session:
        row = session.get(Alert, alert)
        assert row is not None and row.status is AlertStatus.RESOLVED and row.resolved_by == company.id("wang")
        assert row.open_key is None
        actions = [(a.action, a.actor_id) for a in session.scalars(select(AlertAction).where(
            AlertAction.alert_id == alert).order_by(AlertAction.id))]
    assert actions == [("acknowledged", company.id("chen")), ("commented", company.id("chen")),
                       ("resolved", company.id("wang"))]


def test_an_alert_resolved_by_hand_while_its_rule_holds_opens_again_at_the_next_scan(
        engine: Engine, company: Company, stale: dict[str, int]) -> None:
    with session_scope(engine) as session:
        service.resolve(session, company.principal("li"), stale["liu"])
    with frozen(NOW), session_scope(engine) as session:
        assert service.scan(session, now=NOW + timedelta(hours=1)).opened == 1
