"""``evenhand scorecard close``, ``reopen`` and ``templates show|set``, as a fresh process runs them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from evenhand.db import make_engine, session_scope
from evenhand.models import AuditEntry
from tests.builders import build_org
from tests.performance import company
from tests.support import Run


def seed(db_url: str) -> None:
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            company.build(session, build_org(session))
    finally:
        engine.dispose()


def test_close_reopen_and_close_again(run: Run, db_url: str) -> None:
    seed(db_url)
    closed = run("scorecard", "close", "--period", "2026-10")
    assert closed.exit_code == 0, closed.output
    assert "Closed 2026-10: revision 1" in closed.output and "cards frozen" in closed.output
    again = run("scorecard", "close", "--period", "2026-10")
    assert again.exit_code == 1 and "already closed" in again.output
    no_reason = run("scorecard", "reopen", "--period", "2026-10", "--reason", " ")
    assert no_reason.exit_code == 1 and "Say why the period is re-opened" in no_reason.output
    reopened = run("scorecard", "reopen", "--period", "2026-10", "--reason", "a late payment")
    assert reopened.exit_code == 0 and "revision 1 stays readable" in reopened.output
    assert "revision 2" in run("scorecard", "close", "--period", "2026-10").output
    engine = make_engine(db_url)
    try:
        with session_scope(engine, readonly=True) as session:
            entries = session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "score_periods")).all()
    finally:
        engine.dispose()
    assert [e.actor_id for e in entries] == [None, None, None] and entries[1].payload["reason"] == "a late payment"


def test_a_period_still_running_is_refused(run: Run, db_url: str) -> None:
    seed(db_url)
    future = run("scorecard", "close", "--period", "2099-01")
    assert future.exit_code == 1 and "has not ended" in future.output
    assert run("scorecard", "close", "--period", "2026-13").exit_code == 1


def test_templates_show_and_set(run: Run, db_url: str, tmp_path: Path) -> None:
    seed(db_url)
    shown = run("scorecard", "templates", "show")
    assert shown.exit_code == 0 and "name: 测试考核" in shown.output
    edited = tmp_path / "templates.yaml"
    edited.write_text(company.TEMPLATES.replace("target: 2, cap: 150", "target: 2, cap: 200"), encoding="utf-8")
    refused = run("scorecard", "templates", "set", str(edited))
    assert refused.exit_code == 1 and "metrics.new_contracts.cap" in refused.output and "4" in refused.output
    edited.write_text(company.TEMPLATES.replace("target: 2, cap: 150", "target: 3, cap: 150"), encoding="utf-8")
    saved = run("scorecard", "templates", "set", str(edited), "--note", "three contracts")
    assert saved.exit_code == 0 and "version 3" in saved.output
    assert "target: 3" in run("scorecard", "templates", "show").output
