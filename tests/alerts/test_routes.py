"""The alerts API: the list and one alert with its evidence and actions, acting on it, and the rules document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.alerts import service
from evenhand.db import session_scope
from evenhand.kit.clock import frozen, utcnow
from evenhand.models import Alert, AuditEntry, Stage
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company
from tests.builders import bearer, token_for


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return co.build(session)


@pytest.fixture
def headers(engine: Engine, company: Company) -> dict[str, dict[str, str]]:
    with session_scope(engine) as session:
        return {name: bearer(token_for(session, session.get(type(user), user.id))) for name, user in  # type: ignore[arg-type]
                company.users.items()}


@pytest.fixture
def alert_id(engine: Engine, company: Company) -> int:
    with session_scope(engine) as session:
        deal = co.deal(session, company, "chen", stage=Stage.NEGOTIATION, age=6 * DAY).id
    with frozen(NOW), session_scope(engine) as session:
        service.scan(session, now=NOW)
        found = session.scalar(select(Alert.id).where(Alert.rule == "stale_opportunity", Alert.entity_id == deal))
    assert found is not None
    return found


def test_the_list_and_one_alert_with_its_evidence(client: TestClient, headers: dict[str, dict[str, str]],
                                                   alert_id: int) -> None:
    mine = client.get("/api/v1/alerts", params={"scope": "mine"}, headers=headers["chen"])
    assert mine.status_code == 200 and alert_id in {a["id"] for a in mine.json()}
    assert alert_id not in {a["id"] for a in client.get("/api/v1/alerts", headers=headers["zhao"]).json()}
    one = client.get(f"/api/v1/alerts/{alert_id}", headers=headers["wang"])
    assert one.status_code == 200
    body = one.json()
    assert body["rule"] == "stale_opportunity" and body["status"] == "open"
    assert body["evidence"]["facts"]["stage"] == "negotiation" and body["actions"] == []
    missing = client.get(f"/api/v1/alerts/{alert_id}", headers=headers["zhao"])
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "alert_id"


def test_acknowledge_comment_snooze_resolve(client: TestClient, headers: dict[str, dict[str, str]],
                                            alert_id: int, engine: Engine) -> None:
    url = f"/api/v1/alerts/{alert_id}"
    done = client.post(f"{url}/acknowledge", json={"comment": "在跟进"}, headers=headers["chen"])
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    said = client.post(f"{url}/comments", json={"comment": "客户下周回复"}, headers=headers["wang"])
    assert [a["action"] for a in said.json()["actions"]] == ["acknowledged", "commented"]
    until = (utcnow() + timedelta(days=2)).isoformat()
    refused = client.post(f"{url}/snooze", json={"until": until, "reason": "出差"}, headers=headers["chen"])
    assert refused.status_code == 403
    no_reason = client.post(f"{url}/snooze", json={"until": until, "reason": ""}, headers=headers["wang"])
    assert no_reason.status_code == 422
    snoozed = client.post(f"{url}/snooze", json={"until": until, "reason": "出差"}, headers=headers["wang"])
    assert snoozed.status_code == 200 and snoozed.json()["status"] == "snoozed"
    assert alert_id not in {a["id"] for a in client.get("/api/v1/alerts", headers=headers["wang"]).json()}
    gone = client.post(f"{url}/resolve", json={"comment": "已处理"}, headers=headers["li"])
    assert gone.status_code == 200 and gone.json()["status"] == "resolved" and gone.json()["resolved_by"]
    again = client.post(f"{url}/acknowledge", json={}, headers=headers["wang"])
    assert again.status_code == 409
    auditor = client.post(f"{url}/comments", json={"comment": "x"}, headers=headers["shen"])
    assert auditor.status_code == 403
    with session_scope(engine, readonly=True) as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "alerts")))
    assert {"alerts.opened", "alerts.acknowledged", "alerts.commented", "alerts.snoozed", "alerts.resolved"} <= set(
        actions)


RULES = """name: 测试规则
rules:
  - id: stale
    label: 久未更新
    entity: opportunity
    when: days_since_update >= params.days
    params: {days: 3}
"""


def test_the_rules_document(client: TestClient, headers: dict[str, dict[str, str]], engine: Engine) -> None:
    active = client.get("/api/v1/alerts/rules", headers=headers["chen"])
    assert active.status_code == 200 and active.json()["version"] == 1 and "stale_opportunity" in active.json()["body"]
    wrong = RULES.replace("params.days", "params.weeks").replace("entity: opportunity", "entity: opportunity")
    checked = client.post("/api/v1/alerts/rules/validate", json={"body": wrong}, headers=headers["li"]).json()
    assert checked["valid"] is False
    [problem] = checked["problems"]
    assert problem["field"] == "rules.0.when" and problem["line"] == 6 and "params.weeks" in problem["message"]
    syntax = client.post("/api/v1/alerts/rules/validate", json={"body": RULES.replace(">= params.days", ">=")},
                         headers=headers["li"]).json()
    assert syntax["problems"][0]["field"] == "rules.0.when" and "CEL" in syntax["problems"][0]["message"]
    assert client.put("/api/v1/alerts/rules", json={"body": RULES}, headers=headers["wang"]).status_code == 403
    bad = client.put("/api/v1/alerts/rules", json={"body": wrong}, headers=headers["li"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "rules.0.when"
    saved = client.put("/api/v1/alerts/rules", json={"body": RULES, "note": "只留一条"}, headers=headers["li"])
    assert saved.status_code == 200 and saved.json()["version"] == 2
    versions = client.get("/api/v1/alerts/rules/versions", headers=headers["li"]).json()
    assert [v["version"] for v in versions] == [2, 1]
    with session_scope(engine, readonly=True) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "alerts.rules_saved"))
    assert entry is not None and "+    when: days_since_update >= params.days" in entry.payload["diff"]
