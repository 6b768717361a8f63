"""``evenhand peer open``, ``status``, ``threshold`` and ``close``, as a fresh process runs them."""

from __future__ import annotations

import json

from sqlalchemy import Engine, func, select

from evenhand.db import make_engine, session_scope
from evenhand.models import AuditEntry, PeerReviewAssignment
from tests.builders import build_org
from tests.support import Run


def flat(output: str) -> str:
    """The printed text without the terminal's line breaks."""
    return " ".join(output.split())


def company(db_url: str) -> None:
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            build_org(session)
    finally:
        engine.dispose()


def test_open_status_threshold_and_close(run: Run, db_url: str) -> None:
    company(db_url)
    low = run("peer", "open", "--period", "2026-03", "--threshold", "2")
    assert low.exit_code == 1 and "at least 3" in flat(low.output)
    quarter = run("peer", "open", "--period", "2026-Q1")
    assert quarter.exit_code == 1 and "by month" in flat(quarter.output)
    opened = run("peer", "open", "--period", "2026-03", "--seed", "42", "--per-reviewer", "4", "--json")
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.output) == {"period": "2026-03", "status": "open", "seed": 42, "per_reviewer": 4,
                                         "threshold": 3, "reps": 6, "assignments": 24, "done": 0}
    status = run("peer", "status", "--period", "2026-03")
    assert status.exit_code == 0 and "seed 42" in flat(status.output)
    assert "0 of 24 reviews written" in flat(status.output)
    assert "rep_" not in status.output  # completion is counted, never listed per reviewer
    assert run("peer", "threshold", "--period", "2026-03", "2").exit_code == 1
    assert run("peer", "threshold", "--period", "2026-03", "4").exit_code == 0
    lowered = run("peer", "threshold", "--period", "2026-03", "3")
    assert lowered.exit_code == 1 and "never lowered" in flat(lowered.output)
    assert run("peer", "close", "--period", "2026-03").exit_code == 0
    again = run("peer", "close", "--period", "2026-03")
    assert again.exit_code == 1 and "closed already" in flat(again.output)
    engine = make_engine(db_url)
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(PeerReviewAssignment)) == 24
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("peer.%"))
                                       .order_by(AuditEntry.seq)))
    engine.dispose()
    assert actions == ["peer.cycle_opened", "peer.threshold_raised", "peer.cycle_closed"]


def test_the_same_seed_draws_the_same_reviewers_in_another_database(run: Run, db_url: str) -> None:
    company(db_url)
    too_many = run("peer", "open", "--period", "2026-03", "--per-reviewer", "5")
    assert too_many.exit_code == 1 and "only 4 reps outside it" in flat(too_many.output)
    assert run("peer", "open", "--period", "2026-03", "--seed", "9").exit_code == 0
    engine = make_engine(db_url)
    with session_scope(engine, readonly=True) as session:
        pairs = session.execute(select(PeerReviewAssignment.reviewer_id, PeerReviewAssignment.reviewee_id)).all()
    engine.dispose()
    from evenhand.performance import peer
    from evenhand.performance import peer_repository as repository

    engine = make_engine(db_url)
    with session_scope(engine, readonly=True) as session:
        again = peer.draw(repository.peers(session), 3, 9)
    engine.dispose()
    assert sorted(tuple(p) for p in pairs) == again
