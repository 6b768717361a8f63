"""The three intake doors — one POST per lead, a batch POST, an imported file — give the same leads, scores,
routing decisions with their evidence, and notifications for the same input; a historical import
(``--history``) records no decision and sends nothing (R1.1, R1.3)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from evenhand.cli import app as cli_app
from evenhand.config import Settings
from evenhand.db import make_engine, session_scope
from evenhand.models import Department, Lead, Notification, Presence, Region, Role, RoutingDecision, Team, User
from evenhand.routing import service as routing_service
from tests.builders import bearer, token_for
from tests.databases import PgDatabase, fresh_sqlite
from tests.support import clear_caches

LEADS = [{"source": "website", "external_id": f"D-{n}", "company": f"门户公司{n}",
          "region": ("east", "south")[n % 3 % 2], "industry": ("制造业", "零售", "物流")[n % 3],
          "company_size": (40, 350, 1200, 80)[n % 4],
          "title": ("采购经理", "CEO", None)[n % 3], "email": f"buyer{n % 7}@door{n % 7}.cn"} for n in range(12)]
ONLINE_SINCE = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
COLUMNS = ["source", "external_id", "company", "region", "industry", "company_size", "title", "email"]
MAPPING = "fields:\n" + "".join(f"  {c}: {c}\n" for c in COLUMNS) + 'missing: [""]\n'


def company(engine: Engine) -> str:
    """The shipped policy's two direct departments in two regions, a team of two online reps for each, and an
    ops user whose token posts the leads."""
    with session_scope(engine) as session:
        depts = [Department(code=code, name=name)
                 for code, name in (("key_accounts", "大客户部"), ("smb", "中小企业部"))]
        regions = [Region(code=code, name=name) for code, name in (("east", "华东"), ("south", "华南"))]
        session.add_all([*depts, *regions])
        session.flush()
        for dept in depts:
            for region in regions:
                team = Team(name=f"{dept.name}{region.name}组", department_id=dept.id, region_id=region.id)
                session.add(team)
                session.flush()
                session.add_all(User(username=f"{dept.code}-{region.code}{i}", display_name=f"{team.name}{i}",
                                     role=Role.REP, team_id=team.id, presence=Presence.ONLINE,
                                     presence_since=ONLINE_SINCE, working_hours={}, max_open_leads=50,
                                     daily_lead_cap=3, monthly_quota=Decimal(100_000))
                                for i in range(2))
        ops = User(username="ops", display_name="运营", role=Role.OPS)
        session.add(ops)
        session.flush()
        return token_for(session, ops)


def outcome(engine: Engine) -> dict[str, Any]:
    """Everything the doors must agree on, without what differs by nature (ids of audit entries, actors)."""
    with session_scope(engine, readonly=True) as session:
        leads = [{"external_id": lead.external_id, "score": lead.score, "model": lead.score_model_version,
                  "owner": lead.owner_id, "status": lead.status, "duplicate_of": lead.duplicate_of_id,
                  "backfilled": lead.backfilled, "company_key": lead.company_key}
                 for lead in session.scalars(select(Lead).order_by(Lead.id))]
        decisions = []
        for row in session.scalars(select(RoutingDecision).order_by(RoutingDecision.id)):
            _, evidence = routing_service.decision(session, row.id)
            decisions.append({"lead": row.lead_id, "kind": row.kind, "outcome": row.outcome, "rep": row.rep_id,
                              "track": row.track, "pool": row.pool_id,
                              # the moment of routing differs by nature between doors tried one after another
                              "decision": {k: v for k, v in evidence["decision"].items() if k != "now"}})
        notes = [(n.recipient_id, n.kind, n.lead_id)
                 for n in session.scalars(select(Notification).order_by(Notification.id))]
    return {"leads": leads, "decisions": decisions, "notifications": notes}


@pytest.fixture
def fresh(db_url: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """A new empty database each call, on the backend of ``db_url``: the doors must not see each other's leads."""
    engines: list[Engine] = []
    count = 0

    def make() -> str:
        nonlocal count
        count += 1
        if backend == "sqlite":
            folder = tmp_path / f"door{count}"
            folder.mkdir()
            return fresh_sqlite(request.getfixturevalue("sqlite_template"), folder)
        database: PgDatabase = request.getfixturevalue("pg_database")
        database.empty()
        return db_url

    yield make
    for engine in engines:
        engine.dispose()


def single(app: FastAPI, url: str, tmp_path: Path) -> dict[str, Any]:
    with _served(app, url) as (client, token):
        for lead in LEADS:
            response = client.post("/api/v1/leads", json=lead, headers=bearer(token))
            assert response.status_code == 201, response.text
    return _outcome(url)


def batch(app: FastAPI, url: str, tmp_path: Path) -> dict[str, Any]:
    with _served(app, url) as (client, token):
        response = client.post("/api/v1/leads/batch", json={"leads": LEADS}, headers=bearer(token))
        assert response.status_code == 200, response.text
    return _outcome(url)


def imported(app: FastAPI, url: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    engine = make_engine(url)
    company(engine)
    engine.dispose()
    path, mapping = tmp_path / "leads.csv", tmp_path / "mapping.yaml"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows({c: "" if lead[c] is None else lead[c] for c in COLUMNS} for lead in LEADS)
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EVENHAND_DATABASE_URL", url)
        env.setenv("EVENHAND_LOCALE", "en")
        clear_caches()
        result = CliRunner().invoke(cli_app, ["import", "leads", str(path), "--mapping", str(mapping), *extra])
        clear_caches()
    assert result.exit_code == 0, result.output
    return {"output": result.output, **_outcome(url)}


class _served:
    """The API app bound to ``url`` with a company in it, and the ops token."""

    def __init__(self, app: FastAPI, url: str) -> None:
        self.app, self.url = app, url

    def __enter__(self) -> tuple[TestClient, str]:
        self.engine = make_engine(self.url)
        token = company(self.engine)
        self.app.state.settings = Settings(database_url=self.url, mode="test")
        self.app.state.engine = self.engine
        self.client = TestClient(self.app).__enter__()
        return self.client, token

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)
        self.app.state.settings = self.app.state.engine = None
        self.engine.dispose()


def _outcome(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        return outcome(engine)
    finally:
        engine.dispose()


def test_the_three_doors_give_the_same_leads_decisions_and_notifications(
        shared_app: FastAPI, fresh: Callable[[], str], tmp_path: Path) -> None:
    by_post, by_batch, by_file = (door(shared_app, fresh(), tmp_path) for door in (single, batch, imported))
    assert "Routed: " in by_file.pop("output")
    assert by_post["decisions"], "the company routes: the comparison is not between empty tables"
    assert {d["outcome"] for d in by_post["decisions"]} >= {"assigned"}
    assert len({d["rep"] for d in by_post["decisions"]}) > 1
    assert any(lead["duplicate_of"] for lead in by_post["leads"])  # the repeated e-mail addresses are linked
    assert len(by_post["notifications"]) >= len([d for d in by_post["decisions"] if d["rep"]])
    _same(by_batch, by_post)
    _same(by_file, by_post)


def test_a_historical_import_is_marked_and_neither_routed_nor_announced(
        shared_app: FastAPI, fresh: Callable[[], str], tmp_path: Path) -> None:
    routed = imported(shared_app, fresh(), tmp_path)
    history = imported(shared_app, fresh(), tmp_path, "--history")
    assert "Taken in as history" in history["output"]
    assert history["decisions"] == [] and history["notifications"] == []
    assert all(lead["backfilled"] and lead["owner"] is None for lead in history["leads"])
    # Scored alike: history is scored as it arrives, it just goes to nobody.
    assert [lead["score"] for lead in history["leads"]] == [lead["score"] for lead in routed["leads"]]
    assert not any(lead["backfilled"] for lead in routed["leads"])


def _same(one: dict[str, Any], other: dict[str, Any]) -> None:
    """Equal, and where not, the first place they part named (a plain ``==`` on this much nesting says little)."""
    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            assert a.keys() == b.keys(), f"{path}: keys {sorted(a.keys() ^ b.keys())}"
            for key in a:
                walk(a[key], b[key], f"{path}.{key}")
        elif isinstance(a, list) and isinstance(b, list):
            assert len(a) == len(b), f"{path}: {len(a)} items against {len(b)}"
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
        else:
            assert a == b, f"{path}: {a!r} != {b!r}"
    walk(one, other, "")
