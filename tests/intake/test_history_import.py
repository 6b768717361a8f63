"""A company's own lead export keeps its history: its dates, its reps, its outcomes and its behaviour counts; rows
before a cut-off are history (never routed, nobody told), newer rows are routed; outcomes can also come from a
second file joined on each lead's id, as a funnel's closed-deals file is (R1.1, R1.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.intake import flows
from evenhand.kit import importcli
from evenhand.kit.mapping import parse
from evenhand.leads import outcomes
from evenhand.models import (
    AuditEntry,
    BehaviourEvent,
    EventKind,
    Lead,
    LeadStatus,
    Notification,
    Presence,
    Role,
    RoutingDecision,
    User,
)
from tests.builders import make_department, make_team
from tests.files import write_csv
from tests.support import Run, row_counts

KOLKATA = ZoneInfo("Asia/Kolkata")
# The columns of a marketing-automation lead export (as the public "Lead Scoring" dataset has them), with the
# owner's e-mail and the creation time a CRM adds.
HEADER = ["Prospect ID", "Lead Number", "Lead Origin", "Lead Source", "Converted", "TotalVisits",
          "Total Time Spent on Website", "Created On", "Lead Owner Email", "Tags"]
ROWS = [
    ["7927b2df", "660737", "API", "Olark Chat", "0", "0", "0", "2024-03-04 10:15", "asha@acme.in", "Ringing"],
    ["2a272436", "660728", "API", "Organic Search", "0", "5", "674", "2024-03-05 11:00", "ravi@acme.in",
     "Ringing"],
    ["8cc8c611", "660727", "Landing Page Submission", "Direct Traffic", "1", "2", "1532", "2024-03-06 09:30",
     "asha@acme.in", "Will revert after reading the email"],
    ["0cc2df48", "660719", "Landing Page Submission", "Google", "1", "1", "305", "2024-04-28 16:45",
     "ravi@acme.in", "Closed by Horizzon"],
    ["3256f628", "660681", "API", "Google", "0", "2", "1428", "2026-11-30 08:00", "asha@acme.in", ""],
]
MAPPING = """
fields:
  external_id: Prospect ID
  company: {column: Lead Number}
  source: {column: Lead Source, case: lower}
  outcome: {column: Converted, map: {"1": converted, "0": open}}
  page_views: TotalVisits
  dwell_seconds: Total Time Spent on Website
  created_at: {column: Created On, format: "%Y-%m-%d %H:%M"}
  owner: Lead Owner Email
timezone: Asia/Kolkata
"""


@pytest.fixture
def reps(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        team = make_team(session, department=make_department(session), name="Inside sales")
        people = [User(username=name, display_name=name.title(), email=f"{name}@acme.in", role=Role.REP,
                       team_id=team.id, presence=Presence.ONLINE, working_hours={}) for name in ("asha", "ravi")]
        session.add_all(people)
        session.flush()
        return {u.username: u.id for u in people}


def take_in(engine: Engine, path: Path, *, mapping: str = MAPPING, **options: object) -> flows.FileReport:
    with session_scope(engine) as session:
        return flows.take_in_file(session, path, mapping, actor=None, dedup=["email", "phone"],
                                  skip_invalid=bool(options.pop("skip_invalid", False)), **options)  # type: ignore[arg-type]


def leads(engine: Engine) -> dict[str, Lead]:
    with session_scope(engine, readonly=True) as session:
        return {lead.external_id: lead for lead in session.scalars(select(Lead))}


def test_history_keeps_its_dates_reps_outcomes_and_counts(engine: Engine, reps: dict[str, int],
                                                          tmp_path: Path) -> None:
    done = take_in(engine, write_csv(tmp_path / "Leads.csv", HEADER, ROWS), backfilled=True)
    assert (done.rows, done.created, done.backfilled, done.routed, done.held) == (5, 5, 5, 0, 0)
    found = leads(engine)
    first, won = found["7927b2df"], found["8cc8c611"]
    assert first.created_at == datetime(2024, 3, 4, 10, 15, tzinfo=KOLKATA).astimezone(UTC)
    assert (first.owner_id, first.status, first.backfilled) == (reps["asha"], LeadStatus.ASSIGNED, True)
    assert (won.status, won.closed_at) == (LeadStatus.CONVERTED, won.created_at)
    assert (won.page_views, won.dwell_seconds, found["2a272436"].page_views) == (2, 1532, 5)
    with session_scope(engine, readonly=True) as session:
        events = session.execute(select(BehaviourEvent.kind, BehaviourEvent.occurred_at, BehaviourEvent.dwell_seconds)
                                 .where(BehaviourEvent.lead_id == won.id)).tuples().all()
        assert sorted(d for _, _, d in events) == [766, 766] and {k for k, _, _ in events} == {EventKind.PAGE_VIEW}
        assert {at for _, at, _ in events} == {won.created_at}
        assert session.scalar(select(func.count()).select_from(RoutingDecision)) == 0
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
    # Scored as it would have been on arrival, its behaviour not yet faded.
    assert all(lead.scored_at == lead.created_at for lead in found.values())


def test_rows_after_the_cutoff_are_routed_and_the_older_ones_are_history(engine: Engine, reps: dict[str, int],
                                                                          tmp_path: Path) -> None:
    cutoff = datetime(2026, 11, 1, tzinfo=KOLKATA)
    done = take_in(engine, write_csv(tmp_path / "leads.csv", HEADER, ROWS), history_before=cutoff)
    assert (done.created, done.backfilled, done.routed + done.held) == (5, 4, 1)
    found = leads(engine)
    assert [k for k, lead in found.items() if not lead.backfilled] == ["3256f628"]
    with session_scope(engine, readonly=True) as session:
        decided = set(session.scalars(select(RoutingDecision.lead_id)))
    assert decided == {found["3256f628"].id}
    assert found["3256f628"].created_at == datetime(2026, 11, 30, 8, 0, tzinfo=KOLKATA).astimezone(UTC)
    again = take_in(engine, write_csv(tmp_path / "leads.csv", HEADER, ROWS), history_before=cutoff)
    assert (again.created, again.existing) == (0, 5)


def test_an_unknown_rep_or_a_bad_count_names_the_row_and_nothing_is_written(engine: Engine, reps: dict[str, int],
                                                                             tmp_path: Path) -> None:
    bad = [*ROWS[:2], [*ROWS[2][:8], "nobody@acme.in", ""], [*ROWS[3][:5], "many", *ROWS[3][6:]]]
    before = row_counts(engine)
    with pytest.raises(Invalid) as caught:
        take_in(engine, write_csv(tmp_path / "leads.csv", HEADER, bad), backfilled=True)
    assert [(d["row"], d["field"].split(".")[-1]) for d in caught.value.details or []] == [(4, "owner"),
                                                                                          (5, "page_views")]
    assert "nobody@acme.in" in caught.value.details[0]["message"]  # type: ignore[index]
    assert row_counts(engine) == before
    done = take_in(engine, write_csv(tmp_path / "leads.csv", HEADER, bad), backfilled=True, skip_invalid=True)
    assert (done.created, sorted(done.rejects.rows)) == (2, [4, 5])


def test_every_unknown_mapping_field_is_listed_before_a_row_is_read(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        parse(MAPPING.replace("timezone:", "  colour: Tags\n  size: Lead Number\ntimezone:"),
              known=flows.LEAD_ROWS.fields, kind="lead")
    assert caught.value.params["names"] == "colour, size" and "page_views" in caught.value.params["known"]


# --- outcomes from a second file ------------------------------------------------------------------------------

MQL_HEADER = ["mql_id", "first_contact_date", "landing_page_id", "origin"]
MQLS = [["5f9c8d3e", "2018-02-01", "88740e65", "social"], ["b5e1f4a9", "2018-02-03", "ce1a65ab", "paid_search"],
        ["c0a9f7e3", "2018-02-10", "88740e65", "organic_search"]]
DEALS_HEADER = ["mql_id", "seller_id", "sdr_id", "sr_id", "won_date", "business_segment", "lead_type"]
DEALS = [["5f9c8d3e", "2c43fb51", "a8387c01", "4ef15afb", "2018-02-26 19:58:54", "pet", "online_medium"]]
MQL_MAPPING = """
fields:
  external_id: mql_id
  source: {value: olist}
  company: {column: landing_page_id}
  created_at: first_contact_date
  events_source: origin
"""
DEALS_MAPPING = """
fields:
  external_id: mql_id
  source: {value: olist}
  outcome: {value: converted}
  outcome_at: won_date
timezone: America/Sao_Paulo
"""


def test_closed_deals_joined_on_the_lead_id_convert_their_leads_once(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:  # a field no lead has is named before anything is read
        take_in(engine, write_csv(tmp_path / "mql.csv", MQL_HEADER, MQLS), mapping=MQL_MAPPING, backfilled=True)
    assert caught.value.params["names"] == "events_source"
    take_in(engine, write_csv(tmp_path / "mql.csv", MQL_HEADER, MQLS),
            mapping=MQL_MAPPING.replace("  events_source: origin\n", ""), backfilled=True)
    deals = write_csv(tmp_path / "closed_deals.csv", DEALS_HEADER, DEALS)
    for expected in ((1, 0), (0, 1)):  # the second time, already recorded
        with session_scope(engine) as session:
            report, _ = outcomes.take_outcomes_file(session, deals, DEALS_MAPPING, actor_id=None, skip_invalid=False,
                                                    zone=ZoneInfo("UTC"))
        assert (report.converted, report.unchanged) == expected
    found = leads(engine)
    converted = found["5f9c8d3e"]
    assert converted.status is LeadStatus.CONVERTED
    assert converted.closed_at == datetime(2018, 2, 26, 19, 58, 54, tzinfo=ZoneInfo("America/Sao_Paulo"))
    assert {k: v.status for k, v in found.items() if k != "5f9c8d3e"} == {"b5e1f4a9": LeadStatus.NEW,
                                                                           "c0a9f7e3": LeadStatus.NEW}
    with session_scope(engine, readonly=True) as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == str(converted.id))))
    assert actions == ["leads.intake", "leads.outcome.import"]


def test_a_closed_deal_naming_no_lead_is_refused_by_row(engine: Engine, tmp_path: Path) -> None:
    deals = write_csv(tmp_path / "closed_deals.csv", DEALS_HEADER, [*DEALS, ["ffffffff", *DEALS[0][1:]]])
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        outcomes.take_outcomes_file(session, deals, DEALS_MAPPING, actor_id=None, skip_invalid=False,
                                    zone=ZoneInfo("UTC"))
    assert [(d["row"], d["field"].split(".")[-1]) for d in caught.value.details or []] == [(2, "external_id"),
                                                                                          (3, "external_id")]


def test_the_import_commands_print_what_they_did(run: Run, reps: dict[str, int], tmp_path: Path) -> None:
    export = write_csv(tmp_path / "Leads.csv", HEADER, ROWS)
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    result = run("import", "leads", str(export), "--mapping", str(tmp_path / "leads.yaml"), "--history-before",
                 "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "5 new leads" in result.output and "Taken in as history: 4" in result.output
    (tmp_path / "deals.yaml").write_text(DEALS_MAPPING.replace("olist", "olark chat"), encoding="utf-8")
    deals = write_csv(tmp_path / "closed.csv", DEALS_HEADER, [["7927b2df", *DEALS[0][1:]], ["nope", *DEALS[0][1:]]])
    result = run("import", "outcomes", str(deals), "--mapping", str(tmp_path / "deals.yaml"), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "1 converted" in " ".join(result.output.split()) and "1 rejected" in " ".join(result.output.split())
    written = list((tmp_path / "rejects").glob("closed.*.rejected.csv"))  # under the data directory
    assert len(written) == 1 and "nope" in written[0].read_text(encoding="utf-8-sig")


def test_an_import_leaves_the_database_planned_for_what_it_wrote(run: Run, engine: Engine, reps: dict[str, int],
                                                                  tmp_path: Path) -> None:
    """On PostgreSQL the import ends with ANALYZE: the next statements are planned for the tables as they are now,
    not as autovacuum last saw them (before the import: empty). SQLite is left without statistics."""
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    before = datetime.now(UTC)
    result = run("import", "leads", str(write_csv(tmp_path / "Leads.csv", HEADER, ROWS)), "--mapping",
                 str(tmp_path / "leads.yaml"), "--history")
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            analyzed, tuples = conn.execute(text(
                "SELECT s.last_analyze, c.reltuples FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.relname = 'leads'")).one()
            assert analyzed is not None and analyzed >= before and tuples == 5
        else:
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar() == 0


def test_an_import_stands_when_the_statistics_cannot_be_refreshed(run: Run, engine: Engine, reps: dict[str, int],
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(*_: object) -> None:
        raise OperationalError("ANALYZE", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(importcli, "refresh_statistics", lost)
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    result = run("import", "leads", str(write_csv(tmp_path / "Leads.csv", HEADER, ROWS)), "--mapping",
                 str(tmp_path / "leads.yaml"), "--history")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Imported. The database's statistics could not be refreshed" in said and "5 new leads" in said
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 5


def test_leads_that_were_never_routed_are_routed_later_and_history_is_left_alone(run: Run, engine: Engine,
                                                                                 reps: dict[str, int],
                                                                                 tmp_path: Path) -> None:
    take_in(engine, write_csv(tmp_path / "leads.csv", HEADER, ROWS), backfilled=True)
    with session_scope(engine) as session:  # taken in while routing was off: nobody's, no decision
        session.add_all(Lead(source="web", external_id=f"old-{n}", company=f"Old {n}") for n in range(3))
    result = run("routing", "route-unrouted")
    assert result.exit_code == 0, result.output
    assert "3 leads that were never routed" in result.output
    with session_scope(engine, readonly=True) as session:
        decided = set(session.scalars(select(Lead.external_id).join(RoutingDecision,
                                                                    RoutingDecision.lead_id == Lead.id)))
    assert decided == {"old-0", "old-1", "old-2"}
    assert "0 leads that were never routed" in run("routing", "route-unrouted").output


def test_a_wrong_mapping_is_refused_before_the_progress_bar_starts(run: Run, tmp_path: Path) -> None:
    export = write_csv(tmp_path / "Leads.csv", HEADER, ROWS)
    (tmp_path / "leads.yaml").write_text(MAPPING.replace("timezone:", "  colour: Tags\n  size: Sizes\ntimezone:"),
                                         encoding="utf-8")
    result = run("import", "leads", str(export), "--mapping", str(tmp_path / "leads.yaml"), "--history")
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "colour, size" in said and "Importing leads" not in said
    (tmp_path / "leads.yaml").write_text(MAPPING.replace("Lead Owner Email", "Owner").replace("TotalVisits", "Visits"),
                                         encoding="utf-8")
    said = " ".join(run("import", "leads", str(export), "--mapping", str(tmp_path / "leads.yaml")).output.split())
    assert "page_views ← 'Visits', owner ← 'Owner'" in said and "Importing leads" not in said
