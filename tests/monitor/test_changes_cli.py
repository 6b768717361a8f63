"""``evenhand changes add|list|show|release|rollback``, as a fresh process runs them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from evenhand.db import make_engine, session_scope
from evenhand.routing import policy_versions
from tests.support import Run, audit_actions

ANSWERS = ["user_change=商机看板新增筛选项", "business_metrics=首次响应、线索转化", "affected_scope=安卓 App 3.2",
           "watch_plan=首响 P90 超过 4 小时告警", "rollback_plan=回滚推送组件", "follow_up_owner=王强"]


def add(run: Run, *extra: str) -> dict[str, Any]:
    done = run("changes", "add", "--title", "CRM 升级 v3.2 / 移动端推送组件更新", "--kind", "release", "--system",
               "crm", "--effective-at", "2026-08-15T22:00", "--metric", "first_response_p90", "--metric",
               "crm_availability", *extra, "--json")
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout))


def test_add_release_and_roll_back(run: Run, db_url: str) -> None:
    refused_first = add(run)
    said = run("changes", "release", str(refused_first["id"]))
    assert said.exit_code == 1 and "checklist.user_change: not answered yet" in said.output
    assert "affected_metrics.0: first_response_p90 is a KPI; add a monitor for it" in said.output

    change = add(run, "--monitor", "first_response_p90>4", *[a for answer in ANSWERS for a in ("--answer", answer)])
    assert change["effective_at"] == "2026-08-15T14:00:00Z" and change["status"] == "planned"
    assert change["monitors"] == [{"kpi": "first_response_p90", "above": 4.0, "below": None}]
    assert change["missing"] == [] and change["checklist"]["follow_up_owner"] == "王强"
    released = run("changes", "release", str(change["id"]))
    assert released.exit_code == 0 and f"Change {change['id']} released." in released.output
    assert run("changes", "rollback", str(change["id"])).exit_code != 0  # the reason is required
    rolled = run("changes", "rollback", str(change["id"]), "--reason", "安卓推送丢失")
    assert rolled.exit_code == 0, rolled.output
    shown = run("changes", "show", str(change["id"]))
    assert shown.exit_code == 0 and "Rolled back" in shown.output and "安卓推送丢失" in shown.output
    assert "How is it rolled back? 回滚推送组件" in shown.output and "first_response_p90 > 4.0" in shown.output
    engine: Engine = make_engine(db_url)
    try:
        assert [(a, s) for a, s, _ in audit_actions(engine)] == [
            ("change.added", str(refused_first["id"])), ("change.added", str(change["id"])),
            ("change.released", str(change["id"])), ("change.rolled_back", str(change["id"]))]
    finally:
        engine.dispose()


def test_list_filters_and_shows_configuration_saves(run: Run, db_url: str) -> None:
    add(run)
    engine: Engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            policy_versions.save(session, policy_versions.active(session).body + "\n#\n", author=None, note="更宽的池")
    finally:
        engine.dispose()
    listed = json.loads(run("changes", "list", "--json").stdout)
    assert [c["title"] for c in listed] == ["routing_policies v2: 更宽的池", "CRM 升级 v3.2 / 移动端推送组件更新"]
    released = json.loads(run("changes", "list", "--status", "released", "--json").stdout)
    assert [c["source"] for c in released] == ["config"]
    assert json.loads(run("changes", "list", "--since", "2026-08-16", "--json").stdout)[0]["source"] == "config"
    table = run("changes", "list")
    assert table.exit_code == 0 and "Routing" in table.output and "Planned" in table.output  # a wrapped cell


def test_bad_options_are_refused_naming_them(run: Run) -> None:
    for args, said in ((("--kind", "hotfix"), "kind"), (("--kind", "release", "--monitor", "conversion<"), "--monitor"),
                       (("--kind", "release", "--answer", "rollback"), "--answer"),
                       (("--kind", "release", "--answer", "owner=王强"), "checklist.owner"),
                       (("--kind", "release", "--effective-at", "yesterday"), "--effective-at")):
        done = run("changes", "add", "--title", "x", "--system", "crm", *args)
        assert done.exit_code == 1 and said in done.output, (args, done.output)
    assert run("changes", "show", "99").exit_code == 1
    assert "No change with id 99." in run("changes", "show", "99").output
    assert run("changes", "list", "--since", "August").exit_code == 1
