"""Two server processes on one PostgreSQL database, each keeping the configuration it routes with in its own
memory (``kit.revision``): a change made through one is what the other routes with from its next transaction —
a rep set offline, back online, a new policy version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import Role, RoutingDecision
from tests.builders import bearer, make_user, token_for
from tests.e2e.conftest import evenhand_serve
from tests.intake.test_config_cache import company
from tests.routing.factory import policy_text

pytestmark = [pytest.mark.slow, pytest.mark.pg]


@contextmanager
def server(db_url: str, directory: Path, token: str) -> Iterator[httpx.Client]:
    """``evenhand serve`` in a process of its own (no worker), and a client holding the ops token."""
    directory.mkdir()
    settings = {"EVENHAND_WORKER_IN_SERVE": "false", "EVENHAND_LOCALE": "en"}
    with evenhand_serve(db_url, directory, settings) as base, \
            httpx.Client(base_url=base, headers=bearer(token), timeout=30) as client:
        yield client


class Leads:
    def __init__(self) -> None:
        self.n = 0

    def post(self, client: httpx.Client) -> dict[str, Any]:
        self.n += 1
        answer = client.post("/api/v1/leads", json={"source": "website", "external_id": f"p-{self.n}",
                                                     "company": f"公司{self.n}", "region": "east",
                                                     "company_size": 20})
        assert answer.status_code == 201, answer.text
        assignment: dict[str, Any] = answer.json()["assignment"]
        return assignment

    def reps(self, client: httpx.Client, count: int) -> list[int]:
        return [self.post(client)["rep_id"] for _ in range(count)]


@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_each_server_routes_with_the_change_the_other_made_at_its_next_transaction(engine: Engine, db_url: str,
                                                                                    tmp_path: Path) -> None:
    a, b = company(engine)
    with session_scope(engine) as session:
        token = token_for(session, make_user(session, username="ops", role=Role.OPS))
    leads = Leads()
    with ExitStack() as stack:
        one, two = (stack.enter_context(server(db_url, tmp_path / name, token)) for name in ("one", "two"))
        assert set(leads.reps(one, 2)) == set(leads.reps(two, 2)) == {a, b}  # each has kept the roster
        assert two.put(f"/api/v1/users/{a}/presence", json={"presence": "offline"}).status_code == 200
        assert leads.reps(one, 3) == [b, b, b]
        assert one.put(f"/api/v1/users/{a}/presence", json={"presence": "online"}).status_code == 200
        assert set(leads.reps(two, 2)) == {a, b}
        saved = one.put("/api/v1/routing/policy", json={"body": policy_text([{"id": "everyone"}])})
        assert saved.status_code == 200, saved.text
        decision = leads.post(two)
    assert decision["pool_id"] == "everyone"
    with session_scope(engine, readonly=True) as session:
        assert session.get_one(RoutingDecision, decision["decision_id"]).policy_version == saved.json()["version"]
