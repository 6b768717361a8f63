"""`evenhand report fairness` through Typer's runner, as a fresh process would run it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from evenhand.cli import app as cli_app
from tests.reports.company import build, march_history
from tests.support import clear_caches

Run = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[Run]:
    march_history(engine, build(engine))
    monkeypatch.setenv("EVENHAND_DATABASE_URL", "sqlite:///" + str(tmp_path / "not-this-one.sqlite"))
    monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENHAND_LOCALE", "zh-CN")
    monkeypatch.chdir(tmp_path)
    clear_caches()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli_app, ["report", "fairness", *args])
    clear_caches()


def test_writes_each_format_from_the_database_named_by_db(run: Run, db_url: str, tmp_path: Path) -> None:
    result = run("--month", "2026-03", "--db", db_url, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "2 个团队，6 条线索" in result.output
    rows = list(csv.reader(io.StringIO((tmp_path / "fairness-2026-03.csv").read_text(encoding="utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["李明", "王芳", "赵磊", "孙丽"]
    out = tmp_path / "east.xlsx"
    result = run("--month", "2026-03", "--db", db_url, "--team", "华东组", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert [r[1] for r in load_workbook(out)["团队"].iter_rows(min_row=2, values_only=True)] == ["华东组"]


@pytest.mark.parametrize(("args", "message"), [
    (("--month", "2026/03"), "--month: 月份格式应为 2026-11，而不是 2026/03。"),
    (("--month", "2026-03", "--team", "不存在"), "--team: 没有你可查看的团队 不存在。"),
    (("--month", "2026-03", "--format", "docx"), "--format 只能是 html, csv, xlsx, pdf 之一，而不是 docx。"),
])
def test_bad_input_names_the_option_and_writes_nothing(run: Run, db_url: str, tmp_path: Path, args: tuple[str, ...],
                                                       message: str) -> None:
    result = run(*args, "--db", db_url)
    assert result.exit_code == 1
    assert message in result.output.replace("\n", "")
    assert not list(tmp_path.glob("fairness-*"))
