"""How many live alerts a person has (the home page's count): the same alerts ``listed`` shows, however many."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from evenhand.alerts import service
from evenhand.db import session_scope
from evenhand.kit.clock import frozen
from evenhand.models import Alert, Stage
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        company = co.build(session)
        for rep in ("chen", "chen", "liu"):
            co.deal(session, company, rep, stage=Stage.PROPOSAL, age=8 * DAY)
    with frozen(NOW), session_scope(engine) as session:
        service.scan(session, now=NOW)
    return company


def both(engine: Engine, company: Company, who: str, scope: str) -> tuple[int, int]:
    with session_scope(engine, readonly=True) as session:
        principal = company.principal(who)
        return (service.counted(session, principal, scope=scope, now=NOW),
                len(service.listed(session, principal, scope=scope, now=NOW)))


def test_the_count_is_what_the_inbox_lists_for_each_reader_and_scope(engine: Engine, company: Company) -> None:
    counts = {(who, scope): both(engine, company, who, scope) for who, scope in (
        ("chen", "mine"), ("zhang", "mine"), ("wang", "teams"), ("zhao", "teams"), ("li", "all"), ("li", "mine"))}
    assert all(counted == listed for counted, listed in counts.values()), counts
    assert counts[("zhang", "mine")] == (0, 0) and counts[("li", "mine")] == (0, 0)
    assert counts[("chen", "mine")][0] == counts[("wang", "teams")][0] > counts[("zhao", "teams")][0] > 0
    assert counts[("li", "all")][0] == counts[("wang", "teams")][0] + counts[("zhao", "teams")][0]


def test_a_snoozed_alert_is_not_counted_until_its_time(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        chen = company.principal("chen")
        alert = session.scalars(select(Alert.id).where(Alert.rep_id == chen.user_id).limit(1)).one()
        service.snooze(session, company.principal("wang"), alert, until=NOW + DAY, reason="客户出差", now=NOW)
    before, _ = both(engine, company, "wang", "teams")
    with session_scope(engine, readonly=True) as session:
        later = service.counted(session, company.principal("wang"), scope="teams", now=NOW + 2 * DAY)
    assert later == before + 1
