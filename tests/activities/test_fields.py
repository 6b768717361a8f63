"""A note's text and declared type, a conversation's message count and an e-mail's attachments, through every
door: the API (POST, PATCH, GET), a file (``evenhand import activities`` and its alias ``evenhand activities
import``), the reconciliation list (kept while waiting, carried when matched), and the bulk path against the
one-row path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from evenhand.activities import service
from evenhand.activities.schemas import ActivityCreate
from evenhand.db import session_scope
from evenhand.models import Activity, ActivityType, UnmatchedActivity, User
from tests.activities.exports import Company, build, mapping
from tests.builders import bearer, token_for
from tests.files import write_csv
from tests.support import Run, error_of, row_counts

NOTE: dict[str, Any] = {
    "source_system": "crm", "external_id": "N-1", "type": "note", "direction": "internal",
    "occurred_at": "2024-03-12T18:00:00+08:00", "rep": "A007", "lead": "00Q001",
    "body": "电话沟通了报价。\n客户下周回复。", "declared_type": "call"}
CHAT: dict[str, Any] = {
    "source_system": "wecom", "external_id": "WC-1", "type": "message", "direction": "inbound",
    "occurred_at": "2024-03-12T10:00:00+08:00", "rep": "A007", "lead": "00Q001", "message_count": 14}
NOTES = ["Note Id", "Owner", "Lead Id", "Created", "Text", "Kind", "Messages"]
NOTE_ROWS = [["N-1", "A007", "00Q001", "2024-03-12 18:00", "电话沟通了报价。", "电话", ""],
             ["N-2", "A007", "00Q001", "2024-03-13 09:00", "拜访客户，见了采购总监", "拜访", ""],
             ["N-3", "A999", "00Q001", "2024-03-13 10:00", "会议纪要", "会议", "3"]]
NOTE_MAPPING = """\
fields:
  source_system: {value: crm}
  external_id: Note Id
  type: {value: note}
  direction: {value: internal}
  rep: Owner
  lead: Lead Id
  occurred_at: Created
  note: Text
  declared_type: {column: Kind, map: {电话: call, 拜访: visit, 会议: meeting}}
  message_count: Messages
timezone: Asia/Shanghai
"""


@pytest.fixture
def company(engine: Engine) -> Company:
    return build(engine)


@pytest.fixture
def ops(engine: Engine, company: Company) -> dict[str, str]:
    with session_scope(engine) as session:
        return bearer(token_for(session, session.scalars(select(User).where(User.username == "ops")).one()))


def stored(engine: Engine) -> dict[str, Activity]:
    with session_scope(engine, readonly=True) as session:
        return {a.external_id: a for a in session.scalars(select(Activity))}


class TestApi:
    def test_a_note_keeps_its_text_and_declared_type(self, client: TestClient, company: Company,
                                                     ops: dict[str, str]) -> None:
        created = client.post("/api/v1/activities", json=NOTE, headers=ops)
        assert created.status_code == 201, created.text
        read = client.get(f"/api/v1/activities/{created.json()['id']}", headers=ops).json()
        assert (read["body"], read["declared_type"], read["message_count"]) == (NOTE["body"], "call", None)

    def test_a_chat_keeps_its_message_count_and_an_email_its_attachments(self, client: TestClient,
                                                                         company: Company, ops: dict[str, str]) -> None:
        chat = client.post("/api/v1/activities", json=CHAT, headers=ops).json()
        mail = client.post("/api/v1/activities", json={**CHAT, "external_id": "M-1", "type": "email",
                                                       "message_count": None, "attachment_count": 2}, headers=ops)
        assert (chat["message_count"], mail.json()["attachment_count"]) == (14, 2)

    @pytest.mark.parametrize("kind", ["call", "visit", "email"])
    def test_only_a_note_declares_a_type(self, client: TestClient, engine: Engine, company: Company,
                                         ops: dict[str, str], kind: str) -> None:
        before = row_counts(engine)
        refused = client.post("/api/v1/activities", json={**NOTE, "type": kind},
                              headers={**ops, "Accept-Language": "en"})
        assert (refused.status_code, error_of(refused)["field"]) == (422, "declared_type")
        assert "Only a note declares" in error_of(refused)["details"][0]["message"]
        assert row_counts(engine) == before

    def test_body_and_note_are_one_field(self, client: TestClient, company: Company, ops: dict[str, str]) -> None:
        body = {k: v for k, v in NOTE.items() if k != "body"}
        created = client.post("/api/v1/activities", json={**body, "note": "拜访客户"}, headers=ops)
        assert created.json()["body"] == "拜访客户"
        both = client.post("/api/v1/activities", json={**NOTE, "external_id": "N-2", "note": "other"}, headers=ops)
        assert both.status_code == 422

    def test_a_body_refuses_control_characters_but_keeps_lines(self, client: TestClient, company: Company,
                                                               ops: dict[str, str]) -> None:
        refused = client.post("/api/v1/activities", json={**NOTE, "body": "ok\u202eevil"}, headers=ops)
        assert (refused.status_code, error_of(refused)["field"]) == (422, "body")

    def test_patch_changes_a_note_and_refuses_a_declared_type_on_a_call(self, client: TestClient, engine: Engine,
                                                                        company: Company, ops: dict[str, str]) -> None:
        client.post("/api/v1/activities", json=NOTE, headers=ops)
        changed = client.patch("/api/v1/activities/crm/N-1", json={"note": "拜访了客户", "declared_type": "visit"},
                               headers=ops)
        assert changed.status_code == 200, changed.text
        assert (changed.json()["body"], changed.json()["declared_type"]) == ("拜访了客户", "visit")
        before = row_counts(engine)
        refused = client.patch("/api/v1/activities/crm/N-1", json={"type": "call"}, headers=ops)
        assert (refused.status_code, error_of(refused)["field"]) == (422, "declared_type")
        assert stored(engine)["N-1"].type == ActivityType.NOTE and row_counts(engine) == before
        moved = client.patch("/api/v1/activities/crm/N-1", json={"type": "call", "declared_type": None}, headers=ops)
        assert (moved.status_code, moved.json()["declared_type"]) == (200, None)


class TestImport:
    @pytest.mark.parametrize("command", [("import", "activities"), ("activities", "import")])
    def test_notes_come_in_with_their_declared_type_by_either_command(
            self, run: Run, engine: Engine, company: Company, tmp_path: Path, command: tuple[str, str]) -> None:
        args = (*command, str(write_csv(tmp_path / "notes.csv", NOTES, NOTE_ROWS)),
                "--mapping", str(mapping(tmp_path / "notes.yaml", NOTE_MAPPING)))
        result = run(*args)
        assert result.exit_code == 0, result.output
        got = stored(engine)
        assert {k: (a.body, a.declared_type) for k, a in got.items()} == {
            "N-1": ("电话沟通了报价。", ActivityType.CALL), "N-2": ("拜访客户，见了采购总监", ActivityType.VISIT)}
        again = run(*args)
        assert "0 created, 0 updated, 2 unchanged" in " ".join(again.output.split())

    def test_a_changed_note_text_is_an_update(self, run: Run, engine: Engine, company: Company,
                                              tmp_path: Path) -> None:
        yaml = str(mapping(tmp_path / "notes.yaml", NOTE_MAPPING))
        run("import", "activities", str(write_csv(tmp_path / "a.csv", NOTES, NOTE_ROWS)), "--mapping", yaml)
        edited = [[*NOTE_ROWS[0][:4], "电话沟通了报价，已发合同。", "电话", ""], *NOTE_ROWS[1:]]
        result = run("import", "activities", str(write_csv(tmp_path / "b.csv", NOTES, edited)), "--mapping", yaml)
        assert "0 created, 1 updated, 1 unchanged" in " ".join(result.output.split())
        assert stored(engine)["N-1"].body == "电话沟通了报价，已发合同。"

    def test_a_declared_type_on_a_call_names_the_row_and_field(self, run: Run, engine: Engine, company: Company,
                                                                tmp_path: Path) -> None:
        calls = NOTE_MAPPING.replace("type: {value: note}", "type: {value: call}")
        before = row_counts(engine)
        result = run("import", "activities", str(write_csv(tmp_path / "n.csv", NOTES, NOTE_ROWS)),
                     "--mapping", str(mapping(tmp_path / "n.yaml", calls)))
        assert result.exit_code == 1 and "row 2.declared_type" in result.output
        assert row_counts(engine) == before

    def test_a_waiting_note_keeps_its_fields_and_carries_them_when_matched(self, run: Run, engine: Engine,
                                                                          company: Company, tmp_path: Path) -> None:
        run("import", "activities", str(write_csv(tmp_path / "n.csv", NOTES, NOTE_ROWS)),
            "--mapping", str(mapping(tmp_path / "n.yaml", NOTE_MAPPING)))
        with session_scope(engine) as session:
            entry = session.scalars(select(UnmatchedActivity)).one()
            assert (entry.fields["body"], entry.fields["declared_type"], entry.fields["message_count"]) == (
                "会议纪要", "meeting", 3)
            session.get_one(User, company.reps["chenxiao"]).external_id = "A999"
        assert run("activities", "reconcile").exit_code == 0
        made = stored(engine)["N-3"]
        assert (made.body, made.declared_type, made.message_count, made.rep_id) == (
            "会议纪要", ActivityType.MEETING, 3, company.reps["chenxiao"])


COLUMNS = ("source_system, external_id, type, direction, rep_id, lead_id, opportunity_id, occurred_at, "
           "duration_seconds, answered, replied, attachment_count, subject, recording_ref, message_count, body, "
           "declared_type")


def _mixed(n: int) -> list[ActivityCreate]:
    """Every kind of row the door sorts: new, repeated in the batch (the last wins), unmatched, each new field."""
    at = datetime(2024, 3, 12, tzinfo=UTC)
    out = []
    for i in range(n):
        kind = ("call", "email", "message", "note")[i % 4]
        out.append(ActivityCreate.model_validate({
            "source_system": ("crm", "wecom")[i % 2], "external_id": f"X-{i}", "type": kind,
            "direction": "outbound", "occurred_at": at + timedelta(minutes=i), "rep": ("A007", "A999")[i % 7 == 6],
            "lead": "00Q001" if i % 3 else None, "phone": "13800138000" if i % 3 == 0 and i % 5 else None,
            "duration_seconds": i if kind == "call" else None, "answered": (i % 2 == 0) if kind == "call" else None,
            "attachment_count": i % 3 if kind == "email" else None, "message_count": i if kind == "message" else None,
            "body": f"纪要 {i}\n第二行" if kind == "note" else None,
            "declared_type": ("call", "visit")[i % 2] if kind == "note" else None}))
    return out + [out[i].model_copy(update={"subject": "again"}) for i in (1, 2, 4)]  # matched rows sent again


def _dump(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        acts = conn.execute(text(f"SELECT {COLUMNS} FROM activities ORDER BY source_system, external_id")).all()
        waits = conn.execute(text("SELECT source_system, external_id, reason, fields FROM unmatched_activities "
                                  "ORDER BY source_system, external_id")).all()
    return [tuple(r) for r in acts], [tuple(r) for r in waits]


def test_the_bulk_path_gives_the_rows_the_one_row_path_does(engine: Engine, company: Company) -> None:
    """One batch of every kind of row against the same rows captured one at a time, in order, in another
    database state: the same activities and reconciliation entries, byte for byte (ids aside)."""
    rows = _mixed(60)
    with session_scope(engine) as session:
        service.capture_many(session, rows)
    bulk = _dump(engine)
    with session_scope(engine) as session:
        session.execute(text("DELETE FROM unmatched_activities"))
        session.execute(text("DELETE FROM activities"))
    for row in rows:
        with session_scope(engine) as session:
            service.capture_many(session, [row])
    assert _dump(engine) == bulk
    assert len(bulk[0]) > 30 and len(bulk[1]) > 5
