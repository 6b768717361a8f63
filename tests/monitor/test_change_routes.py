"""/api/v1/changes on SQLite and PostgreSQL: ops enter a change, fill its checklist and monitors, release it and
roll it back; the refusal names every missing field; reps read nothing; a saved policy appears by itself."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.routing import policy_versions
from tests.builders import Org
from tests.support import audit_actions, error_of

URL = "/api/v1/changes"
CRM = {"title": "CRM 升级 v3.2 / 移动端推送组件更新", "kind": "release", "system": "crm",
       "effective_at": "2026-08-15T22:00:00+08:00", "affected_metrics": ["first_response_p90", "crm_availability"]}
ANSWERS = {"user_change": "商机看板新增筛选项；推送组件更新", "business_metrics": "首次响应、线索转化",
           "affected_scope": "安卓与 iOS 的 App 用户", "watch_plan": "首响 P90 超过 4 小时即告警",
           "rollback_plan": "回滚到 v3.1 与旧推送组件", "follow_up_owner": "王强"}


def test_ops_enter_fill_release_and_roll_back_a_change(client: TestClient, engine: Engine, org: Org) -> None:
    ops = org.headers("ops")
    added = client.post(URL, json=CRM, headers=ops)
    assert added.status_code == 201, added.text
    change = added.json()
    assert (change["status"], change["source"], change["author_id"]) == ("planned", "manual", org.id("ops"))
    assert change["effective_at"].startswith("2026-08-15T14:00") and [h["action"] for h in change["history"]] == [
        "added"]
    assert {m["field"] for m in change["missing"]} >= {"checklist.rollback_plan", "monitors", "affected_metrics.0"}

    refused = client.post(f"{URL}/{change['id']}/release", headers={**ops, "Accept-Language": "zh-CN"})
    error = error_of(refused)
    assert refused.status_code == 422 and error["field"] == "checklist.user_change"
    assert error["message"] == "checklist.user_change：尚未回答"
    assert [d["field"] for d in error["details"]] == [m["field"] for m in change["missing"]]

    patched = client.patch(f"{URL}/{change['id']}", headers=ops, json={
        "checklist": ANSWERS, "monitors": [{"kpi": "first_response_p90", "above": 4}]})
    assert patched.status_code == 200 and patched.json()["missing"] == [], patched.text
    released = client.post(f"{URL}/{change['id']}/release", headers=ops).json()
    assert (released["status"], released["released_by_id"]) == ("released", org.id("ops"))
    rolled = client.post(f"{URL}/{change['id']}/rollback", json={"reason": "安卓推送丢失"}, headers=ops).json()
    assert rolled["status"] == "rolled_back"
    assert [(h["action"], h["actor"], h["reason"]) for h in rolled["history"]] == [
        ("added", "Ops", None), ("edited", "Ops", None), ("released", "Ops", None),
        ("rolled_back", "Ops", "安卓推送丢失")]
    assert [a for a, _, _ in audit_actions(engine)][-4:] == [
        "change.added", "change.edited", "change.released", "change.rolled_back"]


def test_everyone_but_reps_reads_and_only_ops_and_admins_write(client: TestClient, org: Org) -> None:
    change = client.post(URL, json=CRM, headers=org.headers("admin")).json()
    for who in ("sup_a", "auditor", "ops"):
        assert client.get(f"{URL}/{change['id']}", headers=org.headers(who)).status_code == 200
    assert client.get(URL, headers=org.headers("rep_n1")).status_code == 403
    assert client.get(f"{URL}/{change['id']}", headers=org.headers("rep_n1")).status_code == 403
    for who in ("sup_a", "auditor", "rep_n1"):
        assert client.post(URL, json=CRM, headers=org.headers(who)).status_code == 403
        assert client.post(f"{URL}/{change['id']}/release", headers=org.headers(who)).status_code == 403
    assert error_of(client.get(f"{URL}/999999", headers=org.headers("ops")))["field"] == "change_id"


def test_the_list_filters_and_pages_and_shows_saved_configuration(client: TestClient, engine: Engine,
                                                                  org: Org) -> None:
    ops = org.headers("ops")
    for n in range(3):
        assert client.post(URL, json={**CRM, "title": f"App 3.2.{n}", "system": "mobile_app",
                                      "effective_at": f"2026-09-0{n + 1}T10:00:00+08:00"}, headers=ops).is_success
    with session_scope(engine) as session:
        policy_versions.save(session, policy_versions.active(session).body + "\n#\n", author=None, note="更宽的池")
    page = client.get(URL, params={"system": "mobile_app", "limit": 2}, headers=ops).json()
    assert (page["total"], [c["title"] for c in page["items"]]) == (3, ["App 3.2.2", "App 3.2.1"])
    rest = client.get(URL, params={"system": "mobile_app", "limit": 2, "offset": 2}, headers=ops).json()
    assert [c["title"] for c in rest["items"]] == ["App 3.2.0"]
    config = client.get(URL, params={"source": "config"}, headers=ops).json()["items"]
    assert [(c["title"], c["status"], c["document_version"], c["missing"]) for c in config] == [
        ("routing_policies v2: 更宽的池", "released", 2, [])]
    days = client.get(URL, params={"since": "2026-09-02", "until": "2026-09-02"}, headers=ops).json()["items"]
    assert [c["title"] for c in days] == ["App 3.2.1"]
    assert client.get(URL, params={"status": "shipped"}, headers=ops).status_code == 422


def test_a_change_refuses_unknown_questions_and_kinds(client: TestClient, org: Org) -> None:
    ops = org.headers("ops")
    unknown = client.post(URL, json={**CRM, "checklist": {"owner": "王强"}}, headers=ops)
    assert unknown.status_code == 422 and error_of(unknown)["field"] == "checklist.owner"
    kind = client.post(URL, json={**CRM, "kind": "hotfix"}, headers=ops)
    assert kind.status_code == 422 and error_of(kind)["field"] == "kind"
