"""``evenhand qa sample``, ``verify`` and the rubric commands, as a fresh process runs them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, update

from evenhand.db import make_engine, session_scope
from evenhand.models import Activity
from tests.builders import build_org
from tests.qa import company
from tests.qa.company import PERIOD
from tests.support import Run


def seed(db_url: str) -> dict[str, list[int]]:
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return company.build(session, build_org(session))
    finally:
        engine.dispose()


def test_the_same_seed_prints_the_same_ids(run: Run, db_url: str) -> None:
    calls = seed(db_url)
    first = run("qa", "sample", "--period", PERIOD, "--seed", "2024", "--json")
    assert first.exit_code == 0, first.output
    drawn = json.loads(first.output)
    assert drawn["seed"] == 2024 and drawn["share"] == 0.1 and drawn["fresh"] is True
    assert len(drawn["activity_ids"]) == 6
    assert set(drawn["activity_ids"]) & set(calls["rep_e1"]) == set(calls["rep_e1"])
    again = json.loads(run("qa", "sample", "--period", PERIOD, "--seed", "2024", "--json").output)
    assert again["activity_ids"] == drawn["activity_ids"] and again["fresh"] is False
    other = run("qa", "sample", "--period", PERIOD, "--seed", "7")
    assert other.exit_code == 0 and "seed 7" in other.output and "share 10.0%" in other.output
    verified = run("qa", "verify", "--period", PERIOD)
    assert verified.exit_code == 0 and "matches a fresh draw" in verified.output


def test_a_fresh_seed_is_printed_and_verify_fails_when_the_calls_changed(run: Run, db_url: str) -> None:
    calls = seed(db_url)
    drawn = json.loads(run("qa", "sample", "--period", PERIOD, "--share", "0.5", "--json").output)
    assert drawn["seed"] >= 0 and drawn["share"] == 0.5
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        session.execute(update(Activity).where(Activity.id.in_(calls["rep_n1"])).values(recording_ref=None))
    engine.dispose()
    result = run("qa", "verify", "--period", PERIOD, "--seed", str(drawn["seed"]), "--json")
    assert result.exit_code == 1 and json.loads(result.output)["calls_now"] == 18


def test_a_wrong_period_is_refused(run: Run, db_url: str) -> None:
    result = run("qa", "sample", "--period", "March")
    assert result.exit_code == 1 and "YYYY-MM" in result.output
    assert run("qa", "verify", "--period", "2026-01").exit_code == 1


def test_the_rubric_is_shown_and_set(run: Run, db_url: str, tmp_path: Path) -> None:
    shown = run("qa", "rubric")
    assert shown.exit_code == 0 and "需求挖掘深度" in shown.output
    changed = tmp_path / "rubric.yaml"
    changed.write_text(shown.stdout.replace("需求挖掘深度", "需求挖掘"), encoding="utf-8")
    saved = run("qa", "set-rubric", str(changed), "--note", "更短的标签")
    assert saved.exit_code == 0 and "version 2" in saved.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncriteria:\n  Bad: {}\n", encoding="utf-8")
    refused = run("qa", "set-rubric", str(broken))
    assert refused.exit_code == 1 and "criteria.Bad" in refused.output
