"""What-if replay against the database (R4.7): history rebuilt, both policies replayed, API and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from evenhand import config, db
from evenhand.auth.principal import Principal
from evenhand.auth.service import create_token
from evenhand.cli import app as cli_app
from evenhand.db import session_scope
from evenhand.errors import Forbidden, Invalid
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.models import Lead, Presence, Role, User
from evenhand.routing import policy_versions, router, whatif
from evenhand.routing.rerun import rerun
from tests.builders import make_department, make_lead, make_region, make_team, make_user
from tests.support import error_of

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
DAY = date(2026, 3, 2)
POLICY = """
name: 测试策略
threshold_high_value: 80
pools:
  - id: east
    members: {regions: [east]}
"""
CANDIDATE = POLICY.replace("{regions: [east]}", "{regions: [east], teams: [华东一组]}")
Routed = tuple[dict[str, int], dict[int, int]]  # user ids by name, each lead's recorded owner


def company(session: Session) -> dict[str, User]:
    """Team one: a, b online, c offline; team two: d offline, e online — presence known since the day before."""
    dept, east = make_department(session, code="smb"), make_region(session, code="east")
    one = make_team(session, department=dept, name="华东一组", region=east)
    two = make_team(session, department=dept, name="华东二组", region=east)
    people = {}
    for name, team, presence in (("a", one, Presence.ONLINE), ("b", one, Presence.ONLINE),
                                 ("c", one, Presence.OFFLINE), ("d", two, Presence.OFFLINE),
                                 ("e", two, Presence.ONLINE)):
        people[name] = make_user(session, username=f"rep_{name}", team=team, working_hours={}, presence=presence,
                                 presence_since=T0 - timedelta(days=1))
    people["ops"] = make_user(session, username="ops", role=Role.OPS)
    people["boss"] = make_user(session, username="boss", role=Role.SUPERVISOR, working_hours={})  # offline
    policy_versions.save(session, POLICY, author=None, note="test")
    return people


def route_history(session: Session, people: dict[str, User]) -> list[Lead]:
    """Twelve leads a minute apart, routed live; d comes online at the fifth (the audit log records it), and
    c comes online only today, directly (nothing recorded says when)."""
    leads = []
    for k in range(12):
        at = T0 + timedelta(minutes=k, seconds=30)
        if k == 5:
            d = people["d"]
            d.presence, d.presence_since = Presence.ONLINE, T0 + timedelta(minutes=5)
            audit.append(session, action="presence.change", subject_type="users", subject_id=d.id,
                         payload={"from": "offline", "to": "online"}, at=T0 + timedelta(minutes=5))
        lead = make_lead(session, created_at=at, region="east", score=90 if k % 4 == 0 else 50)
        router.route(session, lead, now=at)
        leads.append(lead)
    people["c"].presence, people["c"].presence_since = Presence.ONLINE, utcnow()
    session.flush()
    return leads


@pytest.fixture
def routed(engine: Engine) -> Routed:
    """User ids by name, and each lead's recorded owner."""
    with session_scope(engine) as session:
        people = company(session)
        leads = route_history(session, people)
        return {name: u.id for name, u in people.items()}, {lead.id: lead.owner_id for lead in leads}  # type: ignore


def test_the_active_policy_replays_to_the_recorded_owners(engine: Engine, routed: Routed) -> None:
    ids, owners = routed
    with session_scope(engine, readonly=True) as session:
        history = whatif.read_history(session, DAY, DAY, ZONE, threshold=80)
        run = rerun(history.arrivals, history.roster, policy_versions.compiled_body(POLICY), states=history.states,
                    until=history.finish)
    assert run.owners() == owners and run.held == ()
    assert ids["c"] not in owners.values()  # offline then; online now, but nothing says since when
    first_five = [owners[lead] for lead in sorted(owners)[:5]]
    assert ids["d"] not in first_five and ids["d"] in owners.values()  # online from the recorded change on


def test_a_candidate_without_team_two_gives_its_leads_to_team_one(engine: Engine, routed: Routed) -> None:
    ids, owners = routed
    with session_scope(engine, readonly=True) as session:
        result = whatif.replay(session, CANDIDATE, start=DAY, end=DAY)
    rows = {row["rep_id"]: row for row in result["reps"]}
    for rep, row in rows.items():
        assert row["current"]["leads"] == row["actual"] == sum(1 for o in owners.values() if o == rep)
    assert [rows[ids[n]]["candidate"]["leads"] for n in ("a", "b", "d", "e")] == [6, 6, 0, 0]
    assert ids["c"] not in rows
    team_two = sum(row["actual"] for rep, row in rows.items() if rep in (ids["d"], ids["e"]))
    assert rows[ids["e"]]["difference"]["leads"] == -rows[ids["e"]]["actual"] and team_two > 0
    assert result["difference"]["moved"] >= team_two and result["difference"]["held"] == 0
    assert result["leads"] == 12 and result["current"]["assigned"] == result["candidate"]["assigned"] == 12
    assert result["policies"]["current"]["version"] == 2 and result["current"]["high_value"] == 3
    assert {t["team"] for t in result["teams"]} == {"华东一组", "华东二组"}


def test_range_candidate_and_caller_are_checked_before_anything_is_read(engine: Engine) -> None:
    today = utcnow().astimezone(ZONE).date()
    with session_scope(engine, readonly=True) as session:
        for start, end in ((DAY, DAY - timedelta(days=1)), (DAY - timedelta(days=92), DAY),
                           (today, today + timedelta(days=1))):
            with pytest.raises(Invalid) as caught:
                whatif.replay(session, CANDIDATE, start=start, end=end)
            assert caught.value.field == "to"
        with pytest.raises(Invalid) as caught:
            whatif.replay(session, POLICY.replace("regions: [east]", "regoins: [east]"), start=DAY, end=DAY)
        assert caught.value.field == "pools.0.members.regoins" and caught.value.details
        assert caught.value.details[0]["line"] == 6
        rep = Principal(user_id=1, username="rep", display_name="Rep", role=Role.REP)
        with pytest.raises(Forbidden):
            whatif.replay(session, CANDIDATE, start=DAY, end=DAY, principal=rep)
        result = whatif.replay(session, CANDIDATE, start=DAY - timedelta(days=91), end=DAY)  # 92 days: allowed
    assert result["leads"] == 0 and result["reps"] == []


def test_the_api_runs_the_replay_for_ops_and_supervisors_but_not_reps(client: TestClient, engine: Engine,
                                                                       routed: Routed) -> None:
    with session_scope(engine) as session:
        ops = {"Authorization": f"Bearer {create_token(session, username='ops', role=Role.OPS)[0]}"}
        rep = {"Authorization": f"Bearer {create_token(session, username='rep_a', role=Role.REP)[0]}"}
        boss = {"Authorization": f"Bearer {create_token(session, username='boss', role=Role.SUPERVISOR)[0]}"}
    body = {"body": CANDIDATE, "from": "2026-03-02", "to": "2026-03-02"}
    response = client.post("/api/v1/routing/whatif", json=body, headers=ops)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["from"], result["to"], result["leads"]) == ("2026-03-02", "2026-03-02", 12)
    assert sum(r["candidate"]["leads"] for r in result["reps"]) == 12 and result["estimator"]["prior_leads"] == 20
    assert client.post("/api/v1/routing/whatif", json=body, headers=rep).status_code == 403
    assert client.post("/api/v1/routing/whatif", json=body, headers=boss).status_code == 200
    too_long = client.post("/api/v1/routing/whatif", json=body | {"from": "2025-01-01"}, headers=ops)
    assert too_long.status_code == 422 and error_of(too_long)["field"] == "to"
    broken = client.post("/api/v1/routing/whatif", json=body | {"body": POLICY + "bogus: 1\n"}, headers=ops)
    assert broken.status_code == 422 and error_of(broken)["field"] == "bogus"
    assert broken.json()["error"]["details"][0]["line"] == 7


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI as a fresh process would run it; the configured database is an empty file, so only --db works."""
    monkeypatch.setenv("EVENHAND_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENHAND_LOCALE", "en")
    config.forget_settings()
    yield CliRunner()
    db.get_engine(db_url).dispose()
    db.get_engine.cache_clear()
    config.forget_settings()


def test_the_cli_prints_one_json_object_or_the_problems(cli: CliRunner, db_url: str, tmp_path: Path,
                                                         routed: Routed) -> None:
    ids, _ = routed
    candidate, broken = tmp_path / "candidate.yaml", tmp_path / "broken.yaml"
    candidate.write_text(CANDIDATE, encoding="utf-8")
    broken.write_text(CANDIDATE.replace("id: east", "id: East"), encoding="utf-8")
    args = ["routing", "replay", "--from", "2026-03-02", "--to", "2026-03-02", "--db", db_url]
    result = cli.invoke(cli_app, [*args, "--policy", str(candidate), "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert {r["rep_id"]: r["candidate"]["leads"] for r in parsed["reps"]}[ids["a"]] == 6
    tables = cli.invoke(cli_app, [*args, "--policy", str(candidate)])
    assert tables.exit_code == 0 and "Rep A" in tables.stdout and "Expected conversions" in tables.stdout
    wrong = cli.invoke(cli_app, [*args, "--policy", str(broken)])
    assert wrong.exit_code == 1 and "pools.0.id" in wrong.output and "line 5" in wrong.output
    bad_day = cli.invoke(cli_app, [*args[:2], "--from", "2 March", "--to", "2026-03-02", "--policy", str(candidate)])
    assert bad_day.exit_code == 1 and "--from" in bad_day.output
