"""``evenhand scorecard targets import FILE`` and ``targets show``: the company's, a team's and a rep's targets from
CSV and XLSX, every bad row named with its row and field and nothing written, an import run again replacing the same
targets, and what the metrics then resolve."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from evenhand.db import session_scope
from evenhand.models import AuditEntry
from evenhand.models.performance import MetricTarget
from evenhand.performance import period as periods
from evenhand.performance import repository
from tests.conftest import Run
from tests.performance.measured import Company, build

GOOD = """metric,period,team,rep,value
cash_collected,2026-09,,,100000
cash_collected,2026-09,Alpha,,80000
cash_collected,2026-09,Alpha,zhang,120000
nps,2026-Q3,beta,,30
renewal_rate,2026-09,,HR-wang,75
"""


def _company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def _targets(engine: Engine) -> list[tuple[str, str, int | None, int | None, float]]:
    with session_scope(engine, readonly=True) as session:
        return sorted(session.execute(select(MetricTarget.metric, MetricTarget.period, MetricTarget.team_id,
                                             MetricTarget.user_id, MetricTarget.value)).tuples().all(),
                      key=lambda r: (r[0], r[1], r[2] or 0, r[3] or 0))


def _audits(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.count()).where(AuditEntry.action == "targets.imported")) or 0


def test_import_sets_company_team_and_rep_targets(run: Run, engine: Engine, tmp_path: Path) -> None:
    company = _company(engine)
    (tmp_path / "targets.csv").write_text(GOOD, encoding="utf-8")
    result = run("scorecard", "targets", "import", str(tmp_path / "targets.csv"))
    assert result.exit_code == 0, result.output
    assert "targets created: 5, replaced: 0, unchanged: 0" in result.output
    ids, teams = company.ids, company.teams
    assert _targets(engine) == [("cash_collected", "2026-09", None, None, 100000.0),
                                ("cash_collected", "2026-09", None, ids["zhang"], 120000.0),
                                ("cash_collected", "2026-09", teams["Alpha"], None, 80000.0),
                                ("nps", "2026-Q3", teams["Beta"], None, 30.0),
                                ("renewal_rate", "2026-09", None, ids["wang"], 75.0)]
    with session_scope(engine, readonly=True) as session:
        found = repository.targets(session, periods.parse("2026-09"), [ids["zhang"], ids["li"], ids["wang"]])
    assert found == {ids["zhang"]: {"cash_collected": 120000.0}, ids["li"]: {"cash_collected": 80000.0},
                     ids["wang"]: {"cash_collected": 100000.0, "renewal_rate": 75.0}}
    assert _audits(engine) == 1


def test_importing_again_replaces_and_writes_nothing_unchanged(run: Run, engine: Engine, tmp_path: Path) -> None:
    company = _company(engine)
    path = tmp_path / "targets.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert run("scorecard", "targets", "import", str(path)).exit_code == 0
    again = run("scorecard", "targets", "import", str(path))
    assert "targets created: 0, replaced: 0, unchanged: 5" in again.output
    assert _audits(engine) == 1  # nothing changed, nothing audited
    path.write_text(GOOD.replace("120000", "130000"), encoding="utf-8")
    changed = run("scorecard", "targets", "import", str(path))
    assert "targets created: 0, replaced: 1, unchanged: 4" in changed.output
    assert ("cash_collected", "2026-09", None, company.ids["zhang"], 130000.0) in _targets(engine)
    assert len(_targets(engine)) == 5 and _audits(engine) == 2


def test_every_bad_row_is_named_and_nothing_is_written(run: Run, engine: Engine, tmp_path: Path) -> None:
    _company(engine)
    bad = GOOD + """revenue_per_hour,2026-09,,,1
cash_collected,2026-13,,,1
cash_collected,2026-09,Gamma,,1
cash_collected,2026-09,,nobody,1
cash_collected,2026-09,Beta,zhang,1
cash_collected,2026-09,,,lots
cash_collected,2026-09,alpha,,90000
"""
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    result = run("scorecard", "targets", "import", str(tmp_path / "bad.csv"))
    assert result.exit_code == 1
    for row, field in ((7, "metric"), (8, "period"), (9, "team"), (10, "rep"), (11, "team"), (12, "value"),
                       (13, "team")):
        assert f"row {row}.{field}" in result.output, (row, field, result.output)
    assert "2026-13" in result.output and "Gamma" in result.output and "as row 3" in result.output
    assert _targets(engine) == [] and _audits(engine) == 0


def test_skip_invalid_keeps_the_good_rows(run: Run, engine: Engine, tmp_path: Path) -> None:
    _company(engine)
    (tmp_path / "some.csv").write_text(GOOD + "cash_collected,2026-09,,nobody,1\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = run("scorecard", "targets", "import", str(tmp_path / "some.csv"), "--skip-invalid",
                 "--rejects", str(rejects))
    assert result.exit_code == 0, result.output
    assert "rows rejected: 1" in result.output and len(_targets(engine)) == 5
    assert "nobody" in rejects.read_text(encoding="utf-8-sig")


def test_a_file_without_a_value_column_is_refused_naming_it(run: Run, engine: Engine, tmp_path: Path) -> None:
    _company(engine)
    (tmp_path / "short.csv").write_text("metric,period\ncash_collected,2026-09\n", encoding="utf-8")
    result = run("scorecard", "targets", "import", str(tmp_path / "short.csv"))
    assert result.exit_code == 1 and "value" in result.output
    assert _targets(engine) == []


def test_xlsx_and_show(run: Run, engine: Engine, tmp_path: Path) -> None:
    company = _company(engine)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in GOOD.splitlines():
        sheet.append([cell or None for cell in line.split(",")])
    book.save(tmp_path / "targets.xlsx")
    assert run("scorecard", "targets", "import", str(tmp_path / "targets.xlsx")).exit_code == 0
    shown = run("scorecard", "targets", "show", "--period", "2026-09", "--json")
    assert json.loads(shown.output) == {"period": "2026-09", "targets": [
        {"metric": "cash_collected", "team": None, "rep": None, "value": 100000.0},
        {"metric": "cash_collected", "team": "Alpha", "rep": None, "value": 80000.0},
        {"metric": "cash_collected", "team": None, "rep": "zhang", "value": 120000.0},
        {"metric": "renewal_rate", "team": None, "rep": "wang", "value": 75.0}]}
    text = run("scorecard", "targets", "show", "--period", "2026-Q3")
    assert "NPS: 30 — Beta" in text.output
    assert ("cash_collected", "2026-09", None, company.ids["zhang"], 120000.0) in _targets(engine)
    refused = run("scorecard", "targets", "show", "--period", "Q3")
    assert refused.exit_code == 1 and "2026-Q3" in refused.output
