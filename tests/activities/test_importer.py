"""``evenhand import activities`` with a company's own exports: a call log matched by phone whatever its formatting,
CRM tasks matched by lead and deal id, a mail log (XLSX) matched by e-mail; what matches nothing waits with its
reason; a second import changes nothing; ``evenhand activities reconcile`` links what waits once it can."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from evenhand.activities import importer
from evenhand.activities.schemas import FIELDS, ActivityCreate
from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.models import Activity, ActivityType, AuditEntry, Direction, SourceSystem, UnmatchedActivity
from tests.activities.exports import (
    CALL_LOG,
    CALL_MAPPING,
    CALLS,
    MAIL_LOG,
    MAIL_MAPPING,
    MAILS,
    TASK_EXPORT,
    TASK_MAPPING,
    TASKS,
    Company,
    build,
    mapping,
)
from tests.builders import make_lead
from tests.files import write_csv, write_xlsx
from tests.support import Run, audit_entries, row_counts

SHANGHAI_2PM = datetime(2024, 3, 12, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai


@pytest.fixture
def company(engine: Engine) -> Company:
    return build(engine)


def activities(engine: Engine) -> dict[str, Activity]:
    with session_scope(engine, readonly=True) as session:
        return {a.external_id: a for a in session.scalars(select(Activity))}


def waiting(engine: Engine) -> dict[str, tuple[str, bool]]:
    """external id → (reason, still open)."""
    with session_scope(engine, readonly=True) as session:
        return {e.external_id: (e.reason, e.resolved_at is None) for e in session.scalars(select(UnmatchedActivity))}


def test_the_mapping_fields_are_the_schemas() -> None:
    assert set(FIELDS) == set(ActivityCreate.model_fields)


class TestCallLog:
    def test_matched_by_phone_whatever_its_formatting(self, run: Run, engine: Engine, company: Company,
                                                      tmp_path: Path) -> None:
        result = run("import", "activities", str(write_csv(tmp_path / "calls.csv", CALL_LOG, CALLS)),
                     "--mapping", str(mapping(tmp_path / "calls.yaml", CALL_MAPPING)))
        assert result.exit_code == 0, result.output
        assert ("4 rows: 2 created, 0 updated, 0 unchanged, 2 waiting to be matched (1 with no known rep, 1 linking "
                "no known lead or deal), 0 rejected.") in " ".join(result.output.split())
        got = activities(engine)
        assert set(got) == {"C-1001", "C-1002"}
        first = got["C-1001"]
        assert (first.source_system, first.type, first.direction) == (SourceSystem.TELEPHONY, ActivityType.CALL,
                                                                      Direction.OUTBOUND)
        assert (first.rep_id, first.lead_id, first.opportunity_id) == (company.reps["zhangwei"],
                                                                       company.leads["phone"], None)
        assert (first.occurred_at, first.duration_seconds, first.answered) == (SHANGHAI_2PM, 205, True)
        assert (got["C-1002"].lead_id, got["C-1002"].answered) == (company.leads["phone"], False)
        assert waiting(engine) == {"C-1003": ("no_link", True), "C-1004": ("no_rep", True)}

    def test_a_waiting_row_keeps_the_row_as_validated(self, run: Run, engine: Engine, company: Company,
                                                      tmp_path: Path) -> None:
        run("import", "activities", str(write_csv(tmp_path / "calls.csv", CALL_LOG, CALLS)),
            "--mapping", str(mapping(tmp_path / "calls.yaml", CALL_MAPPING)))
        with session_scope(engine, readonly=True) as session:
            entry = session.scalars(select(UnmatchedActivity).where(UnmatchedActivity.external_id == "C-1003")).one()
        assert entry.fields == {"source_system": "telephony", "external_id": "C-1003", "type": "call",
                                "direction": "inbound", "occurred_at": "2024-03-13T09:00:00+08:00",
                                "duration_seconds": 70, "answered": True, "rep": "A008", "phone": "+86 139 9999 0000"}
        assert entry.occurred_at == datetime(2024, 3, 13, 1, 0, tzinfo=UTC)


class TestCrmTasks:
    def test_matched_by_lead_id_and_by_deal(self, run: Run, engine: Engine, company: Company, tmp_path: Path) -> None:
        result = run("import", "activities", str(write_csv(tmp_path / "tasks.csv", TASK_EXPORT, TASKS)),
                     "--mapping", str(mapping(tmp_path / "tasks.yaml", TASK_MAPPING)))
        assert result.exit_code == 0, result.output
        got = activities(engine)
        assert set(got) == {"00T001", "00T002"}
        call, mail = got["00T001"], got["00T002"]
        assert (call.type, call.rep_id, call.lead_id, call.duration_seconds, call.subject) == (
            ActivityType.CALL, company.reps["zhangwei"], company.leads["00Q001"], 185, "Intro call")
        # the deal matched, and its lead stands in for the unknown WhoId
        assert (mail.type, mail.direction, mail.opportunity_id, mail.lead_id) == (
            ActivityType.EMAIL, Direction.OUTBOUND, company.deal, company.leads["00Q001"])
        assert waiting(engine) == {"00T003": ("no_link", True), "00T004": ("no_rep", True)}

    def test_a_second_identical_import_creates_nothing(self, run: Run, engine: Engine, company: Company,
                                                       tmp_path: Path) -> None:
        args = ("import", "activities", str(write_csv(tmp_path / "tasks.csv", TASK_EXPORT, TASKS)),
                "--mapping", str(mapping(tmp_path / "tasks.yaml", TASK_MAPPING)))
        run(*args)
        before, entries = row_counts(engine), len(audit_entries(engine))
        again = run(*args)
        assert again.exit_code == 0, again.output
        assert "0 created, 0 updated, 2 unchanged, 2 waiting" in " ".join(again.output.split())
        assert row_counts(engine) == before  # the audit log too: a file imported again writes nothing
        assert len(audit_entries(engine)) == entries

    def test_a_changed_file_updates_the_rows_that_changed(self, run: Run, engine: Engine, company: Company,
                                                          tmp_path: Path) -> None:
        yaml = str(mapping(tmp_path / "tasks.yaml", TASK_MAPPING))
        run("import", "activities", str(write_csv(tmp_path / "tasks.csv", TASK_EXPORT, TASKS)), "--mapping", yaml)
        changed = [[*TASKS[0][:4], "Intro call (rescheduled)", *TASKS[0][5:]], *TASKS[1:]]
        result = run("import", "activities", str(write_csv(tmp_path / "tasks2.csv", TASK_EXPORT, changed)),
                     "--mapping", yaml)
        assert "0 created, 1 updated, 1 unchanged" in " ".join(result.output.split())
        assert activities(engine)["00T001"].subject == "Intro call (rescheduled)"

    def test_reconcile_links_a_row_once_its_lead_arrives(self, run: Run, engine: Engine, company: Company,
                                                         tmp_path: Path) -> None:
        run("import", "activities", str(write_csv(tmp_path / "tasks.csv", TASK_EXPORT, TASKS)),
            "--mapping", str(mapping(tmp_path / "tasks.yaml", TASK_MAPPING)))
        entries = len(audit_entries(engine))
        nothing_yet = run("activities", "reconcile")
        assert "Tried 2 waiting activities: 0 matched now, 2 still waiting." in " ".join(nothing_yet.output.split())
        assert len(audit_entries(engine)) == entries  # it changed nothing, so it recorded nothing
        with session_scope(engine) as session:
            late = make_lead(session, source="salesforce", external_id="00Q404").id
        result = run("activities", "reconcile")
        assert result.exit_code == 0, result.output
        assert "Tried 2 waiting activities: 1 matched now, 1 still waiting." in " ".join(result.output.split())
        linked = activities(engine)["00T003"]
        assert (linked.lead_id, linked.rep_id, linked.type) == (late, company.reps["zhangwei"], ActivityType.EMAIL)
        assert waiting(engine) == {"00T003": ("no_link", False), "00T004": ("no_rep", True)}
        with session_scope(engine, readonly=True) as session:
            entry = session.scalars(select(UnmatchedActivity).where(UnmatchedActivity.external_id == "00T003")).one()
            assert entry.activity_id == linked.id
            last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and (last.action, last.payload) == (
            "activities.reconciled", {"tried": 2, "linked": 1, "waiting": 1})


def test_a_mail_log_in_xlsx_is_matched_by_email(run: Run, engine: Engine, company: Company, tmp_path: Path) -> None:
    result = run("import", "activities", str(write_xlsx(tmp_path / "mail.xlsx", MAIL_LOG, MAILS)),
                 "--mapping", str(mapping(tmp_path / "mail.yaml", MAIL_MAPPING)))
    assert result.exit_code == 0, result.output
    mail = activities(engine)["<m1@acme.cn>"]
    assert (mail.source_system, mail.rep_id, mail.lead_id) == (SourceSystem.OUTLOOK, company.reps["lina"],
                                                              company.leads["email"])


def test_the_newest_lead_with_a_phone_is_the_one_linked(engine: Engine, company: Company, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        newer = make_lead(session, external_id="tele-2", phone="138 0013 8000", phone_key="13800138000").id
    with session_scope(engine) as session:
        importer.import_file(session, write_csv(tmp_path / "calls.csv", CALL_LOG, CALLS[:1]), CALL_MAPPING,
                             zone=_zone(), skip_invalid=False, rejects_to=tmp_path / "r.csv")
    assert activities(engine)["C-1001"].lead_id == newer


BAD = [[*CALLS[0][:5], "three minutes", *CALLS[0][6:]], CALLS[1],
       [CALLS[2][0], CALLS[2][1], CALLS[2][2], "31/02/2024", *CALLS[2][4:]]]


class TestBadFiles:

    def test_bad_rows_are_named_and_nothing_is_written(self, run: Run, engine: Engine, company: Company,
                                                       tmp_path: Path) -> None:
        before = row_counts(engine)
        result = run("import", "activities", str(write_csv(tmp_path / "calls.csv", CALL_LOG, BAD)),
                     "--mapping", str(mapping(tmp_path / "calls.yaml", CALL_MAPPING)))
        assert result.exit_code == 1
        text = " ".join(result.output.split())
        assert "Row 2: duration: Must be a duration like 0:03:25" in text and "row 4.occurred_at" in text
        assert row_counts(engine) == before

    def test_skip_invalid_keeps_the_good_rows_and_writes_the_rest_under_the_data_dir(
            self, run: Run, engine: Engine, company: Company, tmp_path: Path) -> None:
        result = run("import", "activities", str(write_csv(tmp_path / "calls.csv", CALL_LOG, BAD)),
                     "--mapping", str(mapping(tmp_path / "calls.yaml", CALL_MAPPING)), "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert "3 rows: 1 created" in result.output and "2 rejected" in result.output
        rejected = list((tmp_path / "rejects").glob("calls.*.rejected.csv"))
        assert len(rejected) == 1
        lines = rejected[0].read_text(encoding="utf-8-sig").splitlines()
        assert lines[0].startswith("row,field,problem,Call ID") and lines[1].startswith("2,duration,")
        assert lines[2].startswith("4,occurred_at,")
        assert set(activities(engine)) == {"C-1002"}

    def test_unknown_mapping_fields_are_listed_with_the_known_ones(self, run: Run, company: Company,
                                                                  tmp_path: Path) -> None:
        yaml = CALL_MAPPING.replace("  rep: Agent\n", "  agent: Agent\n  owner: Agent\n")
        result = run("import", "activities", str(write_csv(tmp_path / "calls.csv", CALL_LOG, CALLS)),
                     "--mapping", str(mapping(tmp_path / "calls.yaml", yaml)))
        assert result.exit_code == 1
        text = " ".join(result.output.split())
        assert "agent, owner" in text and "the fields are source_system, external_id, type," in text
        assert "Importing activities" not in text  # refused before the progress bar started


def test_a_stream_in_small_chunks_gives_what_one_chunk_does(engine: Engine, company: Company,
                                                            tmp_path: Path) -> None:
    """Rows repeated across chunks and within one (the last wins); one audit entry for the whole file."""
    rows = [*CALLS, [*CALLS[0][:7], "No Answer"], CALLS[1]]
    path = write_csv(tmp_path / "calls.csv", CALL_LOG, rows)
    entries = len(audit_entries(engine))
    with session_scope(engine) as session:
        report = importer.import_file(session, path, CALL_MAPPING, zone=_zone(), skip_invalid=False,
                                      rejects_to=tmp_path / "r.csv", size=2)
    assert (report.rows, report.tally.created, report.tally.updated, report.waiting) == (6, 2, 1, 2)
    assert activities(engine)["C-1001"].answered is False
    assert [e.action for e in audit_entries(engine)[entries:]] == ["activities.imported"]


def _zone() -> ZoneInfo:
    return ZoneInfo("Asia/Shanghai")


def test_a_refused_file_raises_invalid_naming_the_first_row(engine: Engine, company: Company, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "calls.csv", CALL_LOG, BAD)
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        importer.import_file(session, path, CALL_MAPPING, zone=_zone(), skip_invalid=False,
                             rejects_to=tmp_path / "r.csv")
    assert caught.value.field == "row 2.duration"
    assert [(d["row"], d["field"]) for d in caught.value.details or []] == [(2, "row 2.duration"),
                                                                             (4, "row 4.occurred_at")]
