"""``evenhand honesty scan`` and ``list``, as a fresh process runs them."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from evenhand.db import make_engine, session_scope
from tests.builders import build_org
from tests.honesty import factory
from tests.support import Run


def seed(db_url: str) -> dict[str, int]:
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return factory.build(session, build_org(session))
    finally:
        engine.dispose()


def test_scan_prints_counts_by_kind_and_is_idempotent(run: Run, db_url: str) -> None:
    notes = seed(db_url)
    first = run("honesty", "scan", "--since", "2026-04-05", "--until", "2026-04-06", "--json")
    assert first.exit_code == 0, first.output
    counts = json.loads(first.output)
    assert counts["notes"] == 7 and counts["new"] == {"unbacked": 2, "duplicate": 2} and counts["digests"] == 2
    again = json.loads(run("honesty", "scan", "--since", "2026-04-05", "--until", "2026-04-06", "--json").output)
    assert again["new"] == {"unbacked": 0, "duplicate": 0} and again["open"] == counts["open"]
    table = run("honesty", "scan", "--since", "2026-04-05", "--until", "2026-04-06")
    assert table.exit_code == 0 and "Unbacked note" in table.output and "Near-duplicate note" in table.output
    listed = json.loads(run("honesty", "list", "--status", "open", "--kind", "unbacked", "--json").output)
    assert {r["activity_id"] for r in listed} == {notes["fake"], notes["solo"]}


def test_a_period_before_the_notes_finds_none(run: Run, db_url: str) -> None:
    seed(db_url)
    result = json.loads(run("honesty", "scan", "--since", "2026-03-01", "--until", "2026-03-31", "--json").output)
    assert result["notes"] == 0 and result["new"] == {"unbacked": 0, "duplicate": 0}


def test_a_bad_date_is_refused(run: Run) -> None:
    result = run("honesty", "scan", "--since", "yesterday")
    assert result.exit_code == 2 and "--since" in result.output
