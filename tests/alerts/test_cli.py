"""``evenhand alerts scan``, ``list`` and ``rules show|set``, as a fresh process runs them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Opportunity, Stage
from tests.alerts import company as co
from tests.support import Run


def seed(db_url: str) -> int:
    """A deal of chen's in negotiation untouched for a week (negotiation: 5 days)."""
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            company = co.build(session)
            deal = Opportunity(name="停滞的商机", owner_id=company.id("chen"), stage=Stage.NEGOTIATION,
                               created_at=utcnow() - timedelta(days=7))
            session.add(deal)
            session.flush()
            return deal.id
    finally:
        engine.dispose()


def test_scan_opens_once_and_list_shows_it(run: Run, db_url: str) -> None:
    deal = seed(db_url)
    first = run("alerts", "scan", "--json")
    assert first.exit_code == 0, first.output
    counts = json.loads(first.output)
    assert counts["opened"] >= 1 and counts["version"] == 1 and counts["messages"] >= 1
    again = json.loads(run("alerts", "scan", "--json").output)
    assert again["opened"] == 0 and again["live"] == counts["live"]
    listed = json.loads(run("alerts", "list", "--json").output)
    assert {(r["rule"], r["entity_id"]) for r in listed} >= {("stale_opportunity", deal)}
    table = run("alerts", "list")
    assert table.exit_code == 0 and "Rule" in table.output and "Chen" in table.output
    said = run("alerts", "scan")
    assert said.exit_code == 0 and "0 opened" in said.output


def test_rules_show_and_set(run: Run, db_url: str, tmp_path: Path) -> None:
    seed(db_url)
    shown = run("alerts", "rules", "show")
    assert shown.exit_code == 0 and "stale_opportunity" in shown.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(shown.stdout.replace("params.days[stage]", "params.weeks[stage]"), encoding="utf-8")
    refused = run("alerts", "rules", "set", str(bad))
    assert refused.exit_code == 1 and "rules.0.when" in refused.output and "params.weeks" in refused.output
    good = tmp_path / "good.yaml"
    good.write_text(shown.stdout.replace("negotiation: 5", "negotiation: 9"), encoding="utf-8")
    saved = run("alerts", "rules", "set", str(good), "--note", "谈判阶段放宽到 9 天")
    assert saved.exit_code == 0 and "version 2" in saved.output
    assert "negotiation: 9" in run("alerts", "rules", "show").stdout
    assert run("alerts", "rules", "set", str(good)).exit_code == 1  # nothing to save


def test_scan_is_incremental_after_the_first_and_full_when_asked(run: Run, db_url: str) -> None:
    seed(db_url)
    assert json.loads(run("alerts", "scan", "--json").output)["full"] is True  # the first on this database
    again = json.loads(run("alerts", "scan", "--json").output)
    assert again["full"] is False and again["opened"] == 0
    assert json.loads(run("alerts", "scan", "--full", "--json").output)["full"] is True
    assert "--full" in run("alerts", "scan", "--help").output
