"""Every metric of the catalog over a small company (tests/performance/measured.py), on SQLite and PostgreSQL: values,
samples and the inputs behind them, the period's edges in the organisation's zone, a rep with nothing, a quarter
against a month, and one rep measured alone as in the company."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evenhand.config import Settings, bound
from evenhand.db import session_scope
from evenhand.models import Level
from evenhand.models.performance import MetricTarget
from evenhand.performance import period as periods
from evenhand.performance import repository
from evenhand.performance.metrics import CATALOG, Measure
from evenhand.standards import service as standards
from tests.performance.measured import NOW, Company, build

SEPTEMBER, Q3 = periods.parse("2026-09"), periods.parse("2026-Q3")


@pytest.fixture
def company(engine: Engine, tmp_path: Path, db_url: str) -> Iterator[Company]:
    with bound(Settings(data_dir=tmp_path, database_url=db_url, mode="test", timezone="Asia/Shanghai")):
        with session_scope(engine) as session:
            built = build(session)
            standards.active(session)  # the shipped stage standards, as version 1
        yield built


def _measure(engine: Engine, period: periods.Period, user_ids: list[int] | None = None
             ) -> dict[int, dict[str, Measure]]:
    with session_scope(engine, readonly=True) as session:
        return repository.measure(session, period, user_ids, now=NOW)


def test_reps_are_active_reps_and_supervisors_who_own_deals(engine: Engine, company: Company) -> None:
    with session_scope(engine, readonly=True) as session:
        facts = repository.rep_facts(session)
    ids = company.ids
    assert set(facts) == {ids["zhang"], ids["li"], ids["wang"], ids["zhao"], ids["sun"]}
    zhang, li = facts[ids["zhang"]], facts[ids["li"]]
    assert (zhang.level, zhang.department, zhang.region, zhang.monthly_quota) == (
        Level.SENIOR, "key_accounts", "south", 100000.0)  # their own region wins over the team's
    assert zhang.product_lines == frozenset({"sales_cloud"})
    assert (li.level, li.department, li.region, li.product_lines) == (Level.JUNIOR, "key_accounts", "east",
                                                                     frozenset())


def test_named_users_are_narrowed_to_those_who_carry_a_card(engine: Engine, company: Company) -> None:
    ids = company.ids
    with session_scope(engine, readonly=True) as session:
        facts = repository.rep_facts(session, [ids[n] for n in ("zhang", "sun", "qian", "gone", "admin")])
        assert repository.rep_facts(session, []) == {}
    assert set(facts) == {ids["zhang"], ids["sun"]}  # not a supervisor without deals, a rep who left, an admin


def test_results_in_september(engine: Engine, company: Company) -> None:
    zhang = _measure(engine, SEPTEMBER)[company.ids["zhang"]]
    # 10 000 at the first local moment and 30 000 at 23:30 on the 30th; not 40 000 at 00:30 on 1 October
    assert zhang["cash_collected"] == Measure(40000.0, 2, {"sum": 40000.0, "payments": 2})
    assert zhang["new_contracts"] == Measure(1.0, 1, {"contracts": 1, "sum": 100000.0})
    assert zhang["revenue"] == Measure(150000.0, 2, {"sum": 150000.0, "contracts": 2, "new_sum": 100000.0,
                                                     "renewal_sum": 50000.0, "new": 1, "renewals": 1})
    assert zhang["discount"] == Measure(20.0, 3, {"won": 3, "sum_pct": 60.0})


def test_process_in_september(engine: Engine, company: Company) -> None:
    measured = _measure(engine, SEPTEMBER)
    zhang, li, wang = (measured[company.ids[n]] for n in ("zhang", "li", "wang"))
    # three deals first reached needs analysis in September; one moved on in the month, one in October
    assert zhang["proposal_rate"] == Measure(66.67, 3, {"needs_analysis": 3, "proposal": 2})
    # a visit and an inbound meeting; not the internal meeting, the call, nor the visit at 00:30 on 1 October
    assert wang["effective_visits"] == Measure(2.0, 2, {"visits": 1, "meetings": 1})
    # 1, 2, 3, 4, 10 hours recorded, 6 by a call, 120 still waiting at NOW (assigned 30 Sept 12:00): median 4
    assert li["first_response"] == Measure(4.0, 7, {"leads": 7, "answered": 6, "waiting": 1, "median_hours": 4.0})


def test_compliance_is_the_compliance_services_share(engine: Engine, company: Company) -> None:
    li = _measure(engine, SEPTEMBER)[company.ids["li"]]["compliance"]
    with session_scope(engine, readonly=True) as session:
        since, until = repository.span(SEPTEMBER).since, repository.span(SEPTEMBER).until
        row = next(r for r in standards.figures(session, repository.SYSTEM, since=since, until=until, now=NOW)["reps"]
                   if r["rep_id"] == company.ids["li"])
    assert (li.inputs["met"], li.sample, li.inputs["entries"]) == (1, 7, 7)  # the first lead's call, e-mail and note
    assert li.value == round(100 * row["met"] / row["judged"], 2) == 14.29


def test_quality_in_september(engine: Engine, company: Company) -> None:
    measured = _measure(engine, SEPTEMBER)
    zhang, wang = measured[company.ids["zhang"]], measured[company.ids["wang"]]
    assert wang["csat"] == Measure(4.0, 3, {"responses": 3, "sum": 12})  # not the 1 given at 00:30 on 1 October
    assert wang["nps"] == Measure(40.0, 5, {"responses": 5, "promoters": 3, "passives": 1, "detractors": 1})
    assert wang["complaints"] == Measure(2.0, 2, {"complaints": 2})  # 23:30 on the 30th counts, August does not
    assert zhang["complaints"] == Measure(0.0, 1, {"complaints": 0})  # none is a known count
    # of the contracts ending in September: one renewed, one not, one not known yet
    assert zhang["renewal_rate"] == Measure(50.0, 2, {"renewed": 1, "ending": 2, "unknown": 1})


def test_a_rep_with_nothing(engine: Engine, company: Company) -> None:
    zhao = _measure(engine, SEPTEMBER)[company.ids["zhao"]]
    assert set(zhao) == set(CATALOG)
    assert {k: (m.value, m.sample) for k, m in zhao.items()} == {
        "cash_collected": (0.0, 0), "new_contracts": (0.0, 0), "revenue": (0.0, 0), "effective_visits": (0.0, 0),
        "complaints": (0.0, 1), "discount": (None, 0), "proposal_rate": (None, 0), "compliance": (None, 0),
        "first_response": (None, 0), "csat": (None, 0), "nps": (None, 0), "renewal_rate": (None, 0)}


def test_a_quarter_holds_its_months(engine: Engine, company: Company) -> None:
    measured = _measure(engine, Q3)
    zhang, li, wang = (measured[company.ids[n]] for n in ("zhang", "li", "wang"))
    assert zhang["cash_collected"] == Measure(45000.0, 3, {"sum": 45000.0, "payments": 3})  # and 31 August's
    assert zhang["proposal_rate"] == Measure(75.0, 4, {"needs_analysis": 4, "proposal": 3})
    assert li["new_contracts"].value == 1.0 and li["cash_collected"].value == 20000.0
    assert li["first_response"].sample == 8
    assert wang["complaints"].value == 3.0


def test_one_rep_alone_as_in_the_company(engine: Engine, company: Company) -> None:
    everyone = _measure(engine, SEPTEMBER)
    for name in ("zhang", "li", "wang", "zhao"):
        user_id = company.ids[name]
        assert _measure(engine, SEPTEMBER, [user_id]) == {user_id: everyone[user_id]}


def test_nobody_measured_reads_nothing(engine: Engine, company: Company) -> None:
    assert _measure(engine, SEPTEMBER, []) == {}


def test_targets_most_specific_wins(engine: Engine, company: Company) -> None:
    ids, teams = company.ids, company.teams
    with session_scope(engine) as session:
        session.add_all([
            MetricTarget(metric="cash_collected", period="2026-09", value=100000),
            MetricTarget(metric="cash_collected", period="2026-09", team_id=teams["Alpha"], value=80000),
            MetricTarget(metric="cash_collected", period="2026-09", user_id=ids["zhang"], value=120000),
            MetricTarget(metric="nps", period="2026-09", team_id=teams["Beta"], value=30),
            MetricTarget(metric="nps", period="2026-10", value=99)])
    with session_scope(engine, readonly=True) as session:
        found = repository.targets(session, SEPTEMBER, [ids[n] for n in ("zhang", "li", "wang", "admin")])
        assert repository.targets(session, periods.parse("2026-08"), [ids["zhang"]]) == {}
    assert found == {ids["zhang"]: {"cash_collected": 120000.0}, ids["li"]: {"cash_collected": 80000.0},
                     ids["wang"]: {"cash_collected": 100000.0, "nps": 30.0},
                     ids["admin"]: {"cash_collected": 100000.0}}
