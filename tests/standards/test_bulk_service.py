"""The figures (read through the driver's cursor, judged in bulk) count exactly what the one-record path shows on
each lead's and deal's checklist, on SQLite and PostgreSQL, to the microsecond."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from evenhand.activities import service as activity_service
from evenhand.activities.schemas import ActivityCreate
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import Role
from evenhand.standards import service
from evenhand.standards.compliance import Status
from tests.builders import make_lead
from tests.standards.company import NOW, Company, build, sh

STAFF = Principal(user_id=0, username="ops", display_name="ops", role=Role.OPS)
SINCE = sh("2026-11-01", "00:00")


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def one_by_one(engine: Engine, c: Company) -> Counter[str]:
    with session_scope(engine, readonly=True) as session:
        records = [service.for_lead(session, STAFF, lead.id, now=NOW) for lead in c.leads.values()]
        records += [service.for_opportunity(session, STAFF, deal.id, now=NOW) for deal in c.deals.values()]
    return Counter(e.result.status.value for r in records for e in r.entries if e.result.start >= SINCE)


def in_bulk(engine: Engine) -> Counter[str]:
    with session_scope(engine, readonly=True) as session:
        overall = service.figures(session, STAFF, since=SINCE, now=NOW)["overall"]
    return Counter({s.value: overall[s.value] for s in Status if overall[s.value]})


def test_the_figures_count_what_each_record_shows(engine: Engine, company: Company) -> None:
    assert in_bulk(engine) == one_by_one(engine, company) == Counter(met=3, missed=3, overdue=2)


def test_an_activity_a_fraction_of_a_second_before_the_assignment_does_not_count(engine: Engine,
                                                                                   company: Company) -> None:
    """Assigned at 09:00:00.7; a call, an e-mail and a note at 09:00:00.3 of the same second came before it (read
    truncated to the second, they would count); a call at 09:00:00.9 counts."""
    assigned = sh("2026-11-16", "09:00") + timedelta(microseconds=700_000)
    with session_scope(engine) as session:
        lead = make_lead(session, owner=company.users["zhao"], external_id="L-F", assigned_at=assigned,
                         created_at=assigned)
        rows = [{"type": kind, "external_id": f"f{n}", "rep": "zhao", "lead": "L-F", "direction": "outbound",
                 "source_system": "crm", "occurred_at": (assigned + timedelta(microseconds=shift)).isoformat()}
                for n, (kind, shift) in enumerate((("call", -400_000), ("email", -400_000), ("note", -400_000),
                                                   ("call", 200_000)))]
        activity_service.capture_many(session, [ActivityCreate.model_validate(row) for row in rows])
        company.leads["F"] = lead
    with session_scope(engine, readonly=True) as session:
        lines = service.for_lead(session, STAFF, lead.id, now=NOW).entries[0].result.lines
    assert [line.activity is not None for line in lines] == [True, False, False]
    assert in_bulk(engine) == one_by_one(engine, company) == Counter(met=3, missed=3, overdue=3)


def test_the_board_reads_two_periods_at_once_as_each_alone(engine: Engine, company: Company) -> None:
    spans = [(sh("2026-11-10", "00:00"), NOW), (SINCE, sh("2026-11-10", "00:00"))]
    with session_scope(engine, readonly=True) as session:
        both = service.periods(session, STAFF, spans, now=NOW)
        alone = [service.figures(session, STAFF, since=a, until=b, now=NOW) for a, b in spans]
    assert both == alone
    assert [p["overall"]["entries"] for p in both] == [2, 6]


def test_reading_by_time_and_by_customer_count_the_same(engine: Engine, company: Company) -> None:
    """Staff's figures read the activities by time alone; one rep's look their leads and deals up: the reps' counts
    add up to the company's."""
    with session_scope(engine, readonly=True) as session:
        everyone = service.figures(session, STAFF, since=SINCE, now=NOW)
        each = [service.figures(session, STAFF, since=SINCE, now=NOW, rep_id=u.id)["overall"]
                for u in company.users.values()]
    assert {s.value: sum(o[s.value] for o in each) for s in Status} == {s.value: everyone["overall"][s.value]
                                                                         for s in Status}
