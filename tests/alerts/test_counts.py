"""Live alerts counted per team and rule for the home page: what the reader reads, snoozed ones only once their time
is up, resolved ones never."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evenhand.alerts import service
from evenhand.db import session_scope
from evenhand.models import Alert, AlertRuleVersion, AlertStatus
from tests.alerts.company import NOW, Company, build


def _alert(session: Session, company: Company, rep: str, rule: str, entity_id: int, *,
           status: AlertStatus = AlertStatus.OPEN, snoozed_days: float | None = None, live: bool = True) -> None:
    session.add(Alert(rule=rule, entity_type="opportunity", entity_id=entity_id, rep_id=company.id(rep),
                      open_key=f"{rule}:opportunity:{entity_id}" if live else None, status=status, rule_version=1,
                      evidence={}, opened_at=NOW - timedelta(days=2),
                      snoozed_until=None if snoozed_days is None else NOW + timedelta(days=snoozed_days)))


def _company(session: Session) -> Company:
    company = build(session)
    service.active(session)  # the shipped rules, whose labels the counts carry
    _alert(session, company, "chen", "stale_opportunity", 1)
    _alert(session, company, "zhang", "stale_opportunity", 2, status=AlertStatus.ACKNOWLEDGED)
    _alert(session, company, "zhang", "customer_silent", 2)
    _alert(session, company, "chen", "customer_silent", 3, status=AlertStatus.SNOOZED, snoozed_days=1)  # later
    _alert(session, company, "chen", "customer_silent", 4, status=AlertStatus.SNOOZED, snoozed_days=-1)  # woken
    _alert(session, company, "liu", "stale_opportunity", 5)
    _alert(session, company, "liu", "stale_opportunity", 6, status=AlertStatus.RESOLVED, live=False)
    session.flush()
    return company


def test_ops_counts_every_team_per_rule_and_supervisors_their_own(engine: Engine) -> None:
    with session_scope(engine) as session:
        company = _company(session)
        everyone = service.counts_by_team(session, company.principal("li"), now=NOW)
        alpha = service.counts_by_team(session, company.principal("wang"), now=NOW)
        rep = service.counts_by_team(session, company.principal("liu"), now=NOW)
    assert [(t.team, t.by_rule, t.total) for t in everyone.teams] == [
        ("Alpha", {"customer_silent": 2, "stale_opportunity": 2}, 4), ("Beta", {"stale_opportunity": 1}, 1)]
    assert everyone.total == 5
    assert everyone.labels == {"customer_silent": "连续联系客户无回应", "stale_opportunity": "商机长时间未更新"}
    assert [(t.team_id, t.total) for t in alpha.teams] == [(company.teams["Alpha"], 4)]
    assert [(t.team, t.total) for t in rep.teams] == [("Beta", 1)]


def test_nothing_live_counts_nothing_and_installs_no_rules(engine: Engine) -> None:
    with session_scope(engine) as session:
        company = build(session)
        found = service.counts_by_team(session, company.principal("li"), now=NOW)
        assert session.scalar(select(func.count()).select_from(AlertRuleVersion)) == 0
    assert found.teams == [] and found.labels == {} and found.total == 0
