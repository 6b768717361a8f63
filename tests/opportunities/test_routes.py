"""Opportunity endpoints beyond visibility: stage filter and the stage history of a visible deal."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import Stage, StageChange
from tests.builders import T0, Org, make_opportunity


def test_stage_filter(client: TestClient, engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        won = make_opportunity(session, owner=org.users["rep_s1"], stage=Stage.WON, closed_at=T0)
    page = client.get("/api/v1/opportunities", params={"stage": "won"}, headers=org.headers("sup_a")).json()
    assert [(i["id"], i["won"]) for i in page["items"]] == [(won.id, True)]
    assert client.get("/api/v1/opportunities", params={"stage": "won"},
                      headers=org.headers("sup_b")).json()["total"] == 0


def test_open_deals_are_neither_won_nor_lost(client: TestClient, org: Org) -> None:
    page = client.get("/api/v1/opportunities", headers=org.headers("admin")).json()
    assert {i["won"] for i in page["items"]} == {None}


def test_stage_history_in_order_and_only_when_visible(client: TestClient, engine: Engine, org: Org) -> None:
    deal = org.opportunities[0]  # owned by rep_n1
    with session_scope(engine) as session:
        session.add_all([
            StageChange(opportunity_id=deal.id, from_stage=Stage.NEEDS_ANALYSIS, to_stage=Stage.PROPOSAL,
                        changed_at=T0 + timedelta(days=3)),
            StageChange(opportunity_id=deal.id, from_stage=None, to_stage=Stage.QUALIFICATION, changed_at=T0),
            StageChange(opportunity_id=deal.id, from_stage=Stage.QUALIFICATION, to_stage=Stage.NEEDS_ANALYSIS,
                        changed_at=T0 + timedelta(days=1)),
        ])
    path = f"/api/v1/opportunities/{deal.id}/stages"
    history = client.get(path, headers=org.headers("rep_n1")).json()
    assert [h["to_stage"] for h in history] == ["qualification", "needs_analysis", "proposal"]
    assert history[0]["from_stage"] is None
    assert client.get(path, headers=org.headers("rep_n2")).status_code == 404
    assert client.get(path, headers=org.headers("sup_b")).status_code == 404
    assert client.get(path, headers=org.headers("sup_a")).status_code == 200
