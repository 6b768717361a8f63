"""The board over HTTP: figures with the previous period, compliance, the drill-down, who sees what, and refusals
that name the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from evenhand.kit.clock import frozen
from tests.board.conftest import NOW, Company
from tests.builders import bearer

SPAN = {"from": "2026-06-11", "to": "2026-07-10"}  # days 10..39 of the company's pipeline, Shanghai time


def get(client: TestClient, company: Company, who: str, path: str, **params: object) -> dict:
    with frozen(NOW):
        answer = client.get(f"/api/v1/board{path}", params={**SPAN, **params}, headers=bearer(company.tokens[who]))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_board_answers_with_the_previous_period(client: TestClient, company: Company) -> None:
    found = get(client, company, "ops", "")
    assert (found["previous"]["since"], found["since"]) == ("2026-05-12T00:00:00+08:00", "2026-06-11T00:00:00+08:00")
    assert [t["team"] for t in found["teams"]] == ["North", "South"]
    current, before = found["overall"]["current"], found["overall"]["previous"]
    assert current["cycle"]["count"] == 1 and before["cycle"]["count"] == 0
    assert sum(current["stuck"]["needs_analysis"]) == 1


def test_a_rep_reads_only_their_own_board(client: TestClient, company: Company) -> None:
    mine = get(client, company, "rep1", "")
    assert mine["teams"] == [] and [r["rep_id"] for r in mine["reps"]] == [company.users["rep1"]]
    drilled = get(client, company, "rep1", "/deals", figure="stuck")
    assert drilled["items"] == []  # the stuck deals are rep 3's


def test_the_deals_behind_a_figure(client: TestClient, company: Company) -> None:
    drilled = get(client, company, "sup", "/deals", figure="conversion", stage="proposal", outcome="lost")
    assert [i["name"] for i in drilled["items"]] == ["Deal B"] and drilled["kind"] == "deals"
    leads = get(client, company, "ops", "/deals", figure="first_response", bucket=1, team=company.teams["North"])
    assert [i["id"] for i in leads["items"]] == [company.leads[1]] and leads["items"][0]["hours"] == 2.0


def test_compliance_for_both_periods(client: TestClient, company: Company) -> None:
    found = get(client, company, "ops", "/compliance")
    assert set(found) == {"current", "previous"} and "share_on_time" in found["current"]["overall"]


def test_refusals_name_the_field(client: TestClient, company: Company) -> None:
    for params, field in (({"region": "nowhere"}, "region"), ({"product_line": "none"}, "product_line"),
                          ({"team": 999}, "team"), ({"from": "2026-07-10", "to": "2026-06-01"}, "from")):
        with frozen(NOW):
            answer = client.get("/api/v1/board", params={**SPAN, **params}, headers=bearer(company.tokens["ops"]))
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, answer.text
    with frozen(NOW):
        answer = client.get("/api/v1/board/deals", params={"figure": "speed"}, headers=bearer(company.tokens["ops"]))
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "figure"
    assert client.get("/api/v1/board").status_code == 401
