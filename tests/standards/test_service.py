"""Compliance through the one service on SQLite and PostgreSQL, for a small company built in the test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Invalid, NotFound
from evenhand.models import Role
from evenhand.standards import service
from tests.standards.company import NOW, Company, build, sh

STAFF = Principal(user_id=0, username="ops", display_name="ops", role=Role.OPS)


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def rep(c: Company, name: str) -> Principal:
    user = c.users[name]
    return Principal(user_id=user.id, username=name, display_name=name, role=Role.REP, team_id=user.team_id)


def status(record: service.RecordCompliance) -> list[tuple[str, str]]:
    return [(e.result.stage, e.result.status.value) for e in record.entries]


def test_a_leads_first_contact(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        a = service.for_lead(session, STAFF, company.leads["A"].id, now=NOW)
        b = service.for_lead(session, STAFF, company.leads["B"].id, now=NOW)
    assert status(a) == [("first_contact", "met")] and a.version == 1
    assert status(b) == [("first_contact", "overdue")]
    lines = b.entries[0].result.lines
    assert [line.activity.type if line.activity else None for line in lines] == ["call", None, None]
    assert b.names[lines[0].activity.rep_id] == "Li"  # type: ignore[union-attr]


def test_a_deadline_on_the_weekend_moves_to_monday(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        saturday = service.for_lead(session, STAFF, company.leads["C"].id, now=sh("2026-11-14", "12:00"))
        later = service.for_lead(session, STAFF, company.leads["C"].id, now=NOW)
    assert status(saturday) == [("first_contact", "open")]
    assert saturday.entries[0].result.deadline == sh("2026-11-16", "17:00")
    assert status(later) == [("first_contact", "met")]


def test_every_stage_entry_of_a_deal(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        d = service.for_opportunity(session, STAFF, company.deals["D"].id, now=NOW)
        e = service.for_opportunity(session, STAFF, company.deals["E"].id, now=NOW)
    assert status(d) == [("qualification", "missed"), ("needs_analysis", "met")]
    assert status(e) == [("qualification", "missed"), ("needs_analysis", "missed"), ("proposal", "overdue")]
    proposal = e.current.result  # type: ignore[union-attr]
    assert proposal.deadline == sh("2026-11-18", "00:00")  # five working days from Tuesday
    mail = proposal.lines[0].activity
    assert mail is not None and e.names[mail.rep_id] == "Zhao"  # a colleague's e-mail serves the deal


def test_figures_per_rep_and_team(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        figures = service.figures(session, STAFF, since=sh("2026-11-01", "00:00"), now=NOW)
    assert figures["overall"]["entries"] == 8 and figures["overall"]["met"] == 3
    assert figures["overall"]["share_on_time"] == 0.375
    assert {r["rep"]: (r["met"], r["judged"]) for r in figures["reps"]} == {"Wang": (2, 3), "Li": (0, 4),
                                                                           "Zhao": (1, 1)}
    assert {t["team"]: t["share_on_time"] for t in figures["teams"]} == {"North": round(2 / 7, 4), "South": 1.0}
    assert figures["stages"]["first_contact"]["met"] == 2


def test_filters_and_visibility(engine: Engine, company: Company) -> None:
    since = sh("2026-11-01", "00:00")
    with session_scope(engine) as session:
        wang = service.figures(session, rep(company, "wang"), since=since, now=NOW)
        south = service.figures(session, STAFF, since=since, now=NOW, team_id=company.teams["south"].id)
        one = service.figures(session, STAFF, since=since, now=NOW, rep_id=company.users["li"].id)
        with pytest.raises(NotFound):
            service.for_lead(session, rep(company, "wang"), company.leads["B"].id, now=NOW)
    assert [r["rep"] for r in wang["reps"]] == ["Wang"]
    assert [r["rep"] for r in south["reps"]] == ["Zhao"]
    assert one["overall"]["entries"] == 4


def test_a_period_is_read_in_a_few_statements(engine: Engine, company: Company) -> None:
    """No statement per lead or deal: the count stays the same whatever the period holds."""
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with session_scope(engine) as session:
        service.active(session)
        statements.clear()
        service.figures(session, STAFF, since=sh("2026-11-01", "00:00"), now=NOW)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 7


def test_preview_compares_a_draft_with_the_active_version(engine: Engine, company: Company) -> None:
    draft = service.default_text().replace("all_of: [call, email, note]", "all_of: [call]")
    with session_scope(engine) as session:
        result = service.preview(session, STAFF, draft, now=NOW, days=30)
    assert result["current"]["stages"]["first_contact"]["met"] == 2
    assert result["candidate"]["stages"]["first_contact"]["met"] == 3
    assert {t["team"] for t in result["candidate"]["teams"]} == {"North", "South"}


def test_a_holiday_in_the_draft_moves_the_deadline(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        base = service.preview(session, STAFF, service.default_text(), now=NOW)
        holiday = service.preview(session, STAFF, service.default_text().replace(
            "holidays: []", 'holidays: ["2026-11-16", "2026-11-17", "2026-11-18"]'), now=NOW)
    assert base["candidate"]["stages"]["proposal"]["overdue"] == 1
    assert holiday["candidate"]["stages"]["proposal"]["overdue"] == 0  # due Saturday 00:00 after three holidays
    assert holiday["candidate"]["stages"]["proposal"]["open"] == 1


def test_saving_versions_and_refusing_a_bad_one(engine: Engine, company: Company) -> None:
    text = service.default_text().replace("within: 48h", "within: 24h")
    with session_scope(engine) as session:
        row = service.save(session, text, author=None, note="tighter")
        assert (row.version, row.active) == (2, True)
        with pytest.raises(Invalid) as refused:
            service.save(session, text.replace("proposal:", "proposals:"), author=None)
        figures = service.figures(session, STAFF, since=NOW - timedelta(days=30), now=NOW)
    assert refused.value.details[0]["field"] == "stages.proposals"  # type: ignore[index]
    assert figures["version"] == 2
