"""Checkpoints of the audit chain outside the database: written signed, refused when forged, trusted when shipped
elsewhere; a chain from before the key resealed; the worker's job writing them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from evenhand.audit import checkpoints, service
from evenhand.audit.checkpoints import Checkpoint
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.kit import audit, audit_check
from evenhand.models import AuditEntry, Notification, Role, ScheduledJob
from evenhand.notify import jobs
from tests.builders import T0, make_user
from tests.kit.test_audit import append_with_the_public_hash, relink_from, tamper
from tests.support import audit_entries, clear_caches

T1 = T0 + timedelta(hours=1)


def append(engine: Engine, n: int) -> None:
    with session_scope(engine) as session:
        for i in range(n):
            audit.append(session, action="thing.change", subject_type="things", subject_id=i, payload={"i": i},
                         at=T0 + timedelta(seconds=i))


def checkpoint(engine: Engine, settings: Settings, *, now: datetime = T1, only_if_moved: bool = False
               ) -> service.Written:
    with session_scope(engine, readonly=True) as session:
        return service.checkpoint(session, settings, now=now, only_if_moved=only_if_moved)


def report(engine: Engine, settings: Settings, *extra: Path) -> service.Report:
    with session_scope(engine, readonly=True) as session:
        return service.verify(session, settings, extra=extra)


def local(engine: Engine, settings: Settings) -> Path:
    return checkpoints.home(settings.data_dir, engine.url)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


class TestCheckpoint:
    def test_the_head_is_signed_into_the_data_directory(self, engine: Engine, settings: Settings) -> None:
        append(engine, 5)
        written = checkpoint(engine, settings)
        head = audit_entries(engine)[-1]
        assert written.checkpoint is not None and written.files == [local(engine, settings)]
        assert (written.checkpoint.seq, written.checkpoint.mac, written.checkpoint.count) == (5, head.hash, 5)
        assert written.checkpoint.at == T1
        assert lines(local(engine, settings)) == [written.checkpoint.line()]
        assert checkpoints.load([local(engine, settings)], audit.current_keys(settings)) == ([written.checkpoint],
                                                                                                [])

    def test_a_clean_chain_with_checkpoints_verifies_intact(self, engine: Engine, settings: Settings) -> None:
        append(engine, 5)
        checkpoint(engine, settings)
        append(engine, 2)
        checkpoint(engine, settings, now=T1 + timedelta(hours=1))
        result = report(engine, settings)
        assert result.intact and result.count == 7
        assert result.latest is not None and (result.latest.seq, result.latest.count) == (7, 7)
        assert len(lines(local(engine, settings))) == 2

    def test_an_empty_chain_has_a_checkpoint_too(self, engine: Engine, settings: Settings) -> None:
        written = checkpoint(engine, settings)
        assert written.checkpoint is not None and (written.checkpoint.seq, written.checkpoint.mac) == (0, audit.GENESIS)
        append(engine, 1)
        assert report(engine, settings).intact

    def test_a_head_that_has_not_moved_is_not_written_again_by_the_job(self, engine: Engine,
                                                                      settings: Settings) -> None:
        append(engine, 3)
        checkpoint(engine, settings)
        assert checkpoint(engine, settings, now=T1 + timedelta(hours=1), only_if_moved=True).checkpoint is None
        append(engine, 1)
        assert checkpoint(engine, settings, now=T1 + timedelta(hours=2), only_if_moved=True).checkpoint is not None
        assert len(lines(local(engine, settings))) == 2

    def test_a_chain_that_does_not_check_out_is_not_checkpointed(self, engine: Engine, settings: Settings) -> None:
        append(engine, 5)
        checkpoint(engine, settings)
        append_with_the_public_hash(engine)
        written = checkpoint(engine, settings, now=T1 + timedelta(hours=1))
        assert written.checkpoint is None and [p.reason for p in written.problems] == [audit_check.APPENDED]
        assert len(lines(local(engine, settings))) == 1

    def test_a_copy_shipped_elsewhere_still_shows_the_truncation_after_the_local_file_is_gone(
            self, engine: Engine, settings: Settings, tmp_path: Path) -> None:
        shipped = tmp_path / "elsewhere" / "checkpoints.jsonl"
        copying = settings.model_copy(update={"audit_checkpoint_copy": shipped})
        append(engine, 5)
        written = checkpoint(engine, copying)
        assert lines(shipped) == lines(local(engine, settings)) == [written.checkpoint.line()]  # type: ignore[union-attr]
        tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
        local(engine, settings).unlink()  # someone with the machine as well as the database
        assert report(engine, settings).intact
        assert [p.reason for p in report(engine, settings, shipped).problems] == [audit_check.TRUNCATED]


    def test_each_database_keeps_its_own_checkpoints(self, engine: Engine, settings: Settings, tmp_path: Path) -> None:
        append(engine, 2)
        written = checkpoint(engine, settings)
        assert written.files == [local(engine, settings)]
        assert local(engine, settings).parent.parent == tmp_path / "audit"
        other = make_url(f"sqlite:///{tmp_path / 'demo.sqlite'}")
        assert checkpoints.home(tmp_path, other) != local(engine, settings)
        assert checkpoints.home(tmp_path, make_url("postgresql+psycopg://u:pw@db:5432/evenhand")) == \
            checkpoints.home(tmp_path, make_url("postgresql+psycopg2://other@db/evenhand"))
        service.forget(settings, str(engine.url))
        assert not local(engine, settings).exists()


class TestForgedCheckpoints:
    @pytest.fixture
    def signed(self, engine: Engine, settings: Settings) -> Checkpoint:
        append(engine, 5)
        written = checkpoint(engine, settings)
        assert written.checkpoint is not None
        return written.checkpoint

    def forge(self, engine: Engine, settings: Settings, *texts: str) -> None:
        with local(engine, settings).open("a", encoding="utf-8") as file:
            file.writelines(text + "\n" for text in texts)

    def test_an_altered_checkpoint_is_refused_and_not_trusted(self, settings: Settings, engine: Engine,
                                                              signed: Checkpoint) -> None:
        claimed = Checkpoint(9, "f" * 64, 9, signed.at, signed.key, signed.sig)  # claims four more entries
        self.forge(engine, settings, claimed.line())
        result = report(engine, settings)
        assert [(r.line, r.reason) for r in result.refused] == [(2, checkpoints.BAD_SIGNATURE)]
        assert result.problems == [] and not result.intact  # no truncation read into it
        assert result.latest == signed

    def test_checkpoints_not_signed_with_the_key_are_refused(self, settings: Settings, engine: Engine,
                                                             signed: Checkpoint) -> None:
        other = audit.Keys.derive("somebody else's key, 32 characters long")
        self.forge(engine, settings, checkpoints.sign(other, seq=5, mac=signed.mac, count=5, at=T1).line(), "not json",
                   '{"v": 2}', "")
        refused = report(engine, settings).refused
        assert [(r.line, r.reason, r.params) for r in refused] == [
            (2, checkpoints.OTHER_KEY, {"key": other.id}), (3, checkpoints.UNREADABLE, {}),
            (4, checkpoints.UNREADABLE, {})]


class TestReseal:
    def from_before_the_key(self, engine: Engine) -> list[AuditEntry]:
        """A chain as it was written before the key: SHA-256 links."""
        append(engine, 5)
        relink_from(engine, 1, audit.entry_hash)
        return audit_entries(engine)

    def reseal(self, engine: Engine, settings: Settings) -> service.Resealed:
        with session_scope(engine) as session:
            return service.reseal(session, settings, now=T1)

    def test_a_chain_from_before_the_key_is_linked_again_under_it_and_says_so(self, engine: Engine,
                                                                             settings: Settings) -> None:
        old = self.from_before_the_key(engine)
        assert report(engine, settings).problems == [audit_check.Broken(1, audit_check.UNKEYED, {"last": 5})]
        assert checkpoint(engine, settings).checkpoint is None  # nothing vouched for before the reseal
        assert self.reseal(engine, settings) == service.Resealed(5, 5, [])
        entries = audit_entries(engine)
        assert [e.payload for e in entries[:5]] == [e.payload for e in old]
        assert entries[-1].action == "audit.resealed" and entries[-1].payload == {
            "entries": 5, "unkeyed": 5, "previous_head": old[-1].hash, "key": audit.current_keys(settings).id}
        result = report(engine, settings)
        assert result.intact and result.count == 6
        assert checkpoint(engine, settings).checkpoint is not None
        assert self.reseal(engine, settings) == service.Resealed(0, 0, [])  # keyed already

    def test_a_changed_chain_is_not_resealed(self, engine: Engine, settings: Settings) -> None:
        old = self.from_before_the_key(engine)
        tamper(engine, "UPDATE audit_log SET payload = '{\"i\": 99}' WHERE seq = 3")
        resealed = self.reseal(engine, settings)
        assert resealed == service.Resealed(0, 0, [audit_check.Broken(3, audit_check.CHANGED)])
        assert [e.hash for e in audit_entries(engine)] == [e.hash for e in old]


class TestTheJob:
    @pytest.fixture
    def data_dir(self, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        """The worker's environment: this test's database and data directory."""
        monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("EVENHAND_DATABASE_URL", db_url)
        clear_caches()
        yield tmp_path
        clear_caches()

    def run_job(self, engine: Engine, now: datetime) -> ScheduledJob:
        jobs.load_tasks()
        assert "audit.checkpoint" in {job.name for job in jobs.registered()}
        assert "audit.checkpoint" in jobs.run_due(engine, worker="w1", now=now, lease_seconds=60)
        with session_scope(engine, readonly=True) as session:
            row = session.get(ScheduledJob, "audit.checkpoint")
            assert row is not None
            return row

    def test_the_scheduled_job_writes_a_checkpoint(self, engine: Engine, data_dir: Path) -> None:
        append(engine, 5)
        assert self.run_job(engine, T1).last_error is None
        (line,) = lines(checkpoints.home(data_dir, engine.url))
        parsed = checkpoints.parse(line)
        assert parsed is not None and (parsed.seq, parsed.at) == (5, T1)
        append_with_the_public_hash(engine)
        failed = self.run_job(engine, T1 + timedelta(hours=2))
        assert failed.last_error is not None and "entry 6: entries 6–6 were appended" in failed.last_error
        assert len(lines(checkpoints.home(data_dir, engine.url))) == 1

    def test_ops_are_sent_the_checkpoint_and_told_of_a_broken_chain_when_configured(
            self, engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EVENHAND_AUDIT_CHECKPOINT_NOTIFY", "true")
        clear_caches()
        with session_scope(engine) as session:
            ops = make_user(session, username="ops", role=Role.OPS, locale="en").id
        append(engine, 2)
        self.run_job(engine, T1)
        append_with_the_public_hash(engine)
        self.run_job(engine, T1 + timedelta(hours=2))
        with session_scope(engine, readonly=True) as session:
            sent = list(session.scalars(select(Notification).where(Notification.recipient_id == ops)
                                        .order_by(Notification.id)))
        assert [(n.kind, n.title) for n in sent] == [
            (service.CHECKPOINT_KIND, "Audit checkpoint: entry 2"),
            (service.ALERT_KIND, "The audit chain does not verify at entry 3")]
        assert lines(checkpoints.home(data_dir, engine.url))[0] in sent[0].body
        assert "appended after the checkpoint" in sent[1].body
