"""`evenhand scorecard show` prints the blocks, live or frozen, one rep or all, as text or JSON; GET
/api/v1/scorecards/export gives the ranking as XLSX and PDF for the cards the caller may see. On SQLite and PostgreSQL,
over the small company's October."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import Role
from evenhand.performance import service
from tests.builders import Org
from tests.conftest import Run
from tests.performance import company
from tests.performance.company import AFTER, OCTOBER


@pytest.fixture
def sold(engine: Engine, org: Org) -> Org:
    with session_scope(engine) as session:
        company.build(session, org)
    return org


def test_show_prints_each_block_best_first(run: Run, sold: Org) -> None:
    result = run("scorecard", "show", "--period", "2026-10")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-10 · Live: computed now, provisional until the period is closed."
    assert lines[1:3] == ["Rep N1 | 销售部 | 2026-10 score: 100.0", "Cash collection attainment: 100%"]
    assert lines[3:5] == ["Rep N2 | 销售部 | 2026-10 score: 50.0", "Cash collection attainment: 50%"]
    assert "Rep E1 | 大客户部 | 2026-10 score: 15.0" in lines


def test_show_one_rep_frozen_as_json(run: Run, engine: Engine, sold: Org) -> None:
    with session_scope(engine) as session:
        service.close(session, OCTOBER, actor=Principal(0, "ops", "ops", Role.OPS, via="system"), today=AFTER)
    result = run("scorecard", "show", "--period", "2026-10", "--rep", "Rep N2", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert (found["period"], found["frozen"], found["revision"]) == ("2026-10", True, 1)
    [card] = found["cards"]
    assert (card["name"], card["total"], card["tier"], card["department"]) == ("Rep N2", 50, "silver", "销售部")
    assert card["block"] == ["Rep N2 | 销售部 | 2026-10 score: 50.0", "Cash collection attainment: 50%"]
    assert card["groups"] == {"results": 50.0, "process": None, "quality": None} and card["flag"] is None
    assert {m["metric"]: m["value"] for m in card["metrics"]} == {"cash_collected": 5000, "new_contracts": 1}
    text = run("scorecard", "show", "--period", "2026-10", "--rep", "Rep N2")
    assert text.output.splitlines()[0] == "2026-10 · Closed: frozen cards, revision 1."


@pytest.mark.parametrize(("args", "message"), [
    (("--period", "2026-10", "--rep", "Nobody"), "No scorecard of Nobody in 2026-10."),
    (("--period", "2026/10"), "A period is a month like 2026-09 or a quarter like 2026-Q3, not 2026/10."),
])
def test_show_refuses_naming_what_is_wrong(run: Run, sold: Org, args: tuple[str, ...], message: str) -> None:
    result = run("scorecard", "show", *args)
    assert result.exit_code == 1
    assert message in result.output.replace("\n", " ")


def test_export_as_xlsx_for_what_the_caller_sees(client: TestClient, sold: Org) -> None:
    answer = client.get("/api/v1/scorecards/export", params={"period": "2026-10", "format": "xlsx"},
                        headers={**sold.headers("ops"), "Accept-Language": "en"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == 'attachment; filename="scorecards-2026-10.xlsx"'
    rows = list(load_workbook(io.BytesIO(answer.content))["Ranking"].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:3]] == ["Rep N1", "Rep N2"] and rows[1][5] == 100
    mine = client.get("/api/v1/scorecards/export", params={"period": "2026-10", "format": "xlsx"},
                      headers={**sold.headers("rep_s1"), "Accept-Language": "en"})
    book = load_workbook(io.BytesIO(mine.content))
    assert [r[1] for r in book["Ranking"].iter_rows(min_row=2, values_only=True)] == ["Rep S1"]
    assert {r[0] for r in book["Metrics"].iter_rows(min_row=2, values_only=True)} == {"Rep S1"}


def test_export_as_pdf_and_refusals(client: TestClient, sold: Org) -> None:
    answer = client.get("/api/v1/scorecards/export", params={"period": "2026-10", "format": "pdf", "team_id":
                                                             sold.teams["north"].id}, headers=sold.headers("ops"))
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    assert answer.headers["content-disposition"].endswith(f'scorecards-2026-10-team-{sold.teams["north"].id}.pdf"')
    bad = client.get("/api/v1/scorecards/export", params={"period": "Q3", "format": "xlsx"},
                     headers=sold.headers("ops"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "period"
    assert client.get("/api/v1/scorecards/export", params={"period": "2026-10"}).status_code == 401
