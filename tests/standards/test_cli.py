"""``evenhand standards show|set|check`` as a fresh process runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.standards.document import default_text
from tests.standards.company import Company, build
from tests.support import Run

PERIOD = ("--since", "2026-11-01", "--until", "2026-11-29")


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def test_show_set_and_show_a_version(run: Run, company: Company, tmp_path: Path) -> None:
    shown = run("standards", "show")
    assert shown.exit_code == 0, shown.output
    assert default_text() in shown.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(default_text().replace("within: 5 working days", "within: soon").replace("negotiation:", "closing:"),
                   encoding="utf-8")
    refused = run("standards", "set", str(bad), "--note", "broken")
    assert refused.exit_code == 1
    assert "closing" in refused.output
    good = tmp_path / "good.yaml"
    good.write_text(default_text().replace("within: 48h", "within: 24h"), encoding="utf-8")
    saved = run("standards", "set", str(good), "--note", "一天内")
    assert saved.exit_code == 0, saved.output
    assert "version 2" in saved.output
    assert "within: 24h" in run("standards", "show").stdout
    assert "within: 48h" in run("standards", "show", "--version", "1").stdout
    again = run("standards", "set", str(good))
    assert again.exit_code == 1 and "Nothing to save" in again.output


def test_check_prints_the_figures(run: Run, company: Company) -> None:
    result = run("standards", "check", *PERIOD, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["overall"]["entries"], figures["overall"]["met"]) == (8, 3)
    li = json.loads(run("standards", "check", *PERIOD, "--rep", "li", "--json").stdout)
    assert [r["rep"] for r in li["reps"]] == ["Li"] and li["overall"]["met"] == 0
    south = json.loads(run("standards", "check", *PERIOD, "--team", "South", "--json").stdout)
    assert [t["team"] for t in south["teams"]] == ["South"]
    table = run("standards", "check", *PERIOD)
    assert table.exit_code == 0 and "37.5%" in table.output and "North" in table.output
    nobody = run("standards", "check", "--rep", "nobody")
    assert nobody.exit_code == 1 and "No rep nobody" in nobody.output
    too_long = run("standards", "check", "--since", "2024-01-01", "--until", "2026-11-29")
    assert too_long.exit_code == 1 and "366 days" in too_long.output
