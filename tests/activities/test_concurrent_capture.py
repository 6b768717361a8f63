"""Requests posting the same new activity, account or deal at the same moment: one creates it, the others get it
back; none fails (on PostgreSQL the unique index settles the race, and the loser reads the winner's row)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from evenhand.db import session_scope
from evenhand.kit.audit_check import verify
from evenhand.models import Account, Activity
from tests.builders import Org

BODIES = {
    "/api/v1/activities": lambda n, org: {"source_system": "telephony", "external_id": f"RACE-{n}",
                                          "type": "call", "direction": "outbound",
                                          "occurred_at": "2026-03-02T09:30:00+08:00", "rep": "rep_n1",
                                          "lead": org.leads[0].external_id},
    "/api/v1/accounts": lambda n, org: {"source": "crm", "external_id": f"RACE-{n}", "name": f"Race {n}",
                                        "owner": "rep_n1"},
}


@pytest.mark.parametrize("path", list(BODIES))
def test_the_first_writer_wins_and_the_others_read_its_row(client: TestClient, org: Org, engine: Engine,
                                                            path: str) -> None:
    def post(n: int) -> int:
        return client.post(path, json=BODIES[path](n % 4, org), headers=org.headers("ops")).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(32)))
    assert set(statuses) <= {200, 201} and statuses.count(201) == 4, statuses
    model = Activity if "activities" in path else Account
    with session_scope(engine, readonly=True) as session:
        column = model.external_id
        assert session.scalar(select(func.count(func.distinct(column))).where(column.like("RACE-%"))) == 4
        assert session.scalar(select(func.count()).select_from(model).where(column.like("RACE-%"))) == 4
        assert verify(session)[1] is None  # the audit chain still checks out
