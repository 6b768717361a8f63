"""``evenhand audit`` against the test database: the four tamperings a chain alone cannot show are named once a
checkpoint was written, a forged checkpoint is refused, and a chain from before the key is resealed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from evenhand.audit import checkpoints
from evenhand.audit.checkpoints import Checkpoint, parse
from evenhand.db import session_scope
from evenhand.kit import audit
from tests.kit.test_audit import append_with_the_public_hash, relink_from, tamper
from tests.support import Run


@pytest.fixture
def checkpointed(run: Run, engine: Engine, tmp_path: Path) -> Path:
    """Five entries and a checkpoint of them; the checkpoint file."""
    with session_scope(engine) as session:
        for n in range(1, 6):
            audit.append(session, action="cli.test", subject_type="things", subject_id=n, payload={"n": n})
    written = run("audit", "checkpoint")
    assert written.exit_code == 0, written.output
    assert "Checkpoint written: entry 5 of 5" in written.output
    path = checkpoints.home(tmp_path, engine.url)  # in the data directory (EVENHAND_DATA_DIR)
    assert f"appended to {path}" in written.output
    return path


def verify(run: Run, *args: str, fails: bool = True) -> str:
    result = run("audit", "verify", *args)
    assert result.exit_code == (1 if fails else 0), result.output
    return " ".join(result.output.split())  # one line, however the terminal wrapped it


def test_a_clean_chain_with_its_checkpoint_verifies_intact(run: Run, checkpointed: Path) -> None:
    out = verify(run, fails=False)
    assert "Audit chain intact: 5 entries." in out and "It matches the checkpoint of" in out and "(entry 5)" in out


def test_without_a_checkpoint_verify_says_what_it_cannot_see(run: Run, engine: Engine) -> None:
    with session_scope(engine) as session:
        audit.append(session, action="cli.test", subject_type="things")
    out = verify(run, fails=False)
    assert "Audit chain intact: 1 entry." in out and "No checkpoint yet" in out


def test_the_last_entry_deleted(run: Run, engine: Engine, checkpointed: Path) -> None:
    tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
    out = verify(run)
    assert "Audit chain broken at entry 5: the chain ends before entry 5" in out
    assert "entries were deleted from the end" in out


def test_every_entry_deleted(run: Run, engine: Engine, checkpointed: Path) -> None:
    tamper(engine, "DELETE FROM audit_log")
    assert "the chain is empty, but the checkpoint of" in verify(run)
    assert "records 5 entries: every entry was deleted" in verify(run)


def test_a_row_appended_with_the_public_hash(run: Run, engine: Engine, checkpointed: Path) -> None:
    append_with_the_public_hash(engine)
    out = verify(run)
    assert "Audit chain broken at entry 6: entries 6–6 were appended after the checkpoint of" in out
    assert "by someone without the audit key (forged rows)" in out
    refused = run("audit", "checkpoint")
    assert refused.exit_code == 1 and "entry 6" in refused.output
    assert len(checkpointed.read_text().splitlines()) == 1  # no checkpoint vouches for it


def test_an_entry_changed_and_every_later_hash_recomputed(run: Run, engine: Engine, checkpointed: Path) -> None:
    relink_from(engine, 2, audit.entry_hash, payload={"n": 2, "forged": True})
    out = verify(run)
    assert "Audit chain broken at entry 2: entry 2 was changed, and it and every later hash up to entry 5 " \
           "recomputed without the audit key (history rewritten)" in out


def test_the_existing_cases_are_still_named(run: Run, engine: Engine, checkpointed: Path) -> None:
    tamper(engine, "UPDATE audit_log SET payload = '{\"n\": 300}' WHERE seq = 4")
    assert "Audit chain broken at entry 4: content does not match its hash" in verify(run)
    tamper(engine, "DELETE FROM audit_log WHERE seq = 2")
    assert "Audit chain broken at entry 2: an entry is missing before the next one" in verify(run)


def test_a_forged_checkpoint(run: Run, checkpointed: Path) -> None:
    signed = parse(checkpointed.read_text().splitlines()[0])
    assert signed is not None
    claimed = Checkpoint(9, "f" * 64, 9, signed.at, signed.key, signed.sig)
    with checkpointed.open("a") as file:
        file.write(claimed.line() + "\n")
    out = verify(run)
    assert f"Checkpoint {checkpointed}, line 2: its signature does not match: the checkpoint was forged or altered" \
           in out
    assert "Audit chain broken" not in out  # nothing read into a checkpoint the key did not sign


def test_a_shipped_copy_is_checked_too(run: Run, engine: Engine, checkpointed: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped.jsonl"
    shipped.write_text(checkpointed.read_text())
    checkpointed.unlink()
    tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
    assert "No checkpoint yet" in verify(run, fails=False)
    assert "entries were deleted from the end" in verify(run, "--checkpoints", str(shipped))


def test_a_chain_from_before_the_key_is_resealed(run: Run, engine: Engine) -> None:
    with session_scope(engine) as session:
        for n in range(1, 4):
            audit.append(session, action="cli.test", subject_type="things", subject_id=n, payload={"n": n})
    relink_from(engine, 1, audit.entry_hash)
    assert "entries 1–3 are chained without the audit key (written before it): run 'evenhand audit reseal'" \
           in verify(run)
    resealed = run("audit", "reseal")
    assert resealed.exit_code == 0, resealed.output
    assert "Resealed 3 entries under the audit key (entries 1–3 had been linked without it)." in resealed.output
    assert "Checkpoint written: entry 4 of 4" in resealed.output
    assert "Audit chain intact: 4 entries." in verify(run, fails=False)
    again = run("audit", "reseal")
    assert again.exit_code == 0 and "Every link is keyed already; nothing to reseal." in again.output
