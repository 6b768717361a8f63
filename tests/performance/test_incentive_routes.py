"""The incentives over the API on both databases: who holds each grant a closed period earned (a rep their own rows,
a supervisor their teams', staff everyone's) and the what-if of a tier change (sales ops, supervisors, auditors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.models import Role, User
from evenhand.performance.template import default_text
from tests.builders import bearer, make_team, make_user, token_for
from tests.performance.test_incentives import LOWER_GOLD_TIER, Company, closed_with_history, company

URL = "/api/v1/scorecards/grants"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers={"Accept-Language": "en"}) as english:
        yield english


@pytest.fixture
def setup(engine: Engine) -> tuple[Company, str, dict[str, dict[str, str]]]:
    """The incentives' company with last month closed (a gold, b silver, c nothing), an auditor and a rep of
    another team with a supervisor of their own; a token for each."""
    with session_scope(engine) as session:
        c = company(session)
        key = closed_with_history(session, c).key
        other_boss = make_user(session, username="boss2", role=Role.SUPERVISOR)
        make_user(session, username="z", team=make_team(session, name="其他组", supervisor=other_boss))
        make_user(session, username="auditor", role=Role.AUDITOR)
        users = {u.username: u for u in session.query(User)}
        tokens = {name: bearer(token_for(session, user)) for name, user in users.items()}
    return c, key, tokens


def test_each_reader_sees_the_grants_the_page_shows_them(client: TestClient,
                                                         setup: tuple[Company, str, dict[str, dict[str, str]]]
                                                         ) -> None:
    c, key, tokens = setup

    def rows(who: str, period: str = key) -> list[tuple[str, int, str]]:
        answer = client.get(URL, params={"period": period}, headers=tokens[who])
        assert answer.status_code == 200, answer.text
        return [(g["grant"], g["user_id"], g["status"]) for g in answer.json()]

    everyone = [("key_account", c.a, "held"), ("training_priority", c.b, "held"), ("promotion_list", c.a, "held")]
    assert rows("ops") == rows("auditor") == rows("boss") == everyone
    assert rows("a") == [("key_account", c.a, "held"), ("promotion_list", c.a, "held")]
    assert rows("b") == [("training_priority", c.b, "held")]
    assert rows("c") == rows("z") == rows("boss2") == []
    first = client.get(URL, params={"period": key}, headers=tokens["ops"]).json()[0]
    assert first["reason"] == f"scorecard {key}: gold" and first["tier_label"] == {"zh-CN": "金牌", "en": "Gold"}
    assert first["team"] == "大客户组" and first["total"] == 100.0 and first["expires_at"] is not None
    assert rows("ops", "2020-01") == []  # never closed: nothing earned


def test_the_grants_refuse_a_bad_period_and_strangers(client: TestClient,
                                                      setup: tuple[Company, str, dict[str, dict[str, str]]]) -> None:
    _, _, tokens = setup
    bad = client.get(URL, params={"period": "2026-13"}, headers=tokens["ops"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "period"
    missing = client.get(URL, headers=tokens["ops"])
    assert missing.status_code == 422 and "period" in missing.json()["error"]["field"]
    assert client.get(URL, params={"period": "2026-09"}).status_code == 401


def test_the_whatif_for_staff_and_supervisors_only(client: TestClient,
                                                   setup: tuple[Company, str, dict[str, dict[str, str]]]) -> None:
    c, key, tokens = setup
    body = {"body": LOWER_GOLD_TIER, "days": 5}
    for who in ("ops", "auditor", "boss"):
        answer = client.post(f"{URL}/whatif", json=body, headers=tokens[who])
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["period"], found["revision"], found["leads"], found["pools"]) == (key, 1, 6, ["key_accounts"])
        assert found["holders"] == {"before": [c.a], "after": [c.a, c.b], "by_hand": []}
        assert found["from"] <= found["to"] and found["held"] == {"before": 0, "after": 0}
        shares = {r["user_id"]: (r["before"]["leads"], r["after"]["leads"]) for r in found["reps"]}
        assert shares[c.a][0] == 6 and sum(after for _, after in shares.values()) == 6
    for who in ("a", "z"):
        refused = client.post(f"{URL}/whatif", json=body, headers=tokens[who])
        assert refused.status_code == 403


def test_the_whatif_names_the_field_it_refuses(client: TestClient,
                                               setup: tuple[Company, str, dict[str, dict[str, str]]]) -> None:
    _, key, tokens = setup

    def refused(body: dict[str, object], status: int) -> str:
        answer = client.post(f"{URL}/whatif", json=body, headers=tokens["ops"])
        assert answer.status_code == status, answer.text
        return str(answer.json()["error"]["field"])

    assert refused({"body": default_text().replace("    min: 85\n", "    min: 185\n")}, 422).startswith("tiers.0.min")
    assert "days" in refused({"body": default_text(), "days": 93}, 422)
    assert "days" in refused({"body": default_text(), "days": 0}, 422)
    assert refused({"body": default_text(), "period": "2026-Q5"}, 422) == "period"
    assert refused({"body": default_text(), "period": "2020-01"}, 404) == "period"
    assert "body" in refused({"period": key}, 422)
    assert "extra" in refused({"body": default_text(), "extra": 1}, 422)
