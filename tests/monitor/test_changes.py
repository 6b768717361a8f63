"""The change registry on SQLite and PostgreSQL: configuration saves record themselves, a planned change is released
only with its checklist answered and its monitors active, and every write is in the audit chain."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.alerts import service as alerts_service
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.models import AuditEntry, ChangeEntry, ChangeStatus, User
from evenhand.monitor import changes
from evenhand.monitor import service as monitor_service
from evenhand.monitor.change_schemas import QUESTIONS, ChangeCreate, ChangeUpdate, Monitor
from evenhand.notify import outbound, preferences
from evenhand.notify.schemas import EndpointWrite
from evenhand.routing import policy_versions
from evenhand.standards import service as standards_service
from tests.builders import Org

ZONE = ZoneInfo("Asia/Shanghai")
KPIS = """\
name: test KPIs
kpis:
  - id: lead_conversion
    name: {en: Lead conversion, zh: 线索转化率}
    source: leads
    kind: rate
    numerator: converted
    horizon_days: 21
    good: up
    unit: share
  - id: first_response_p90
    name: {en: First response (p90), zh: 首次响应（P90）}
    source: leads
    kind: quantile
    measure: first_response_hours
    q: 0.9
    good: down
    unit: hours
"""
ANSWERS = {key: f"answer to {key}" for key in QUESTIONS}


def define_kpis(session: Session, body: str = KPIS) -> None:
    """Lead conversion and first response (p90) the only KPIs of the active definitions."""
    monitor_service.save(session, body, author=None, note="two KPIs")


def principal(session: Session, org: Org, name: str) -> Principal:
    user = session.get(User, org.id(name))
    assert user is not None
    supervised = frozenset(t.id for t in org.teams.values() if t.supervisor_id == user.id)
    return Principal(user.id, user.username, user.display_name, user.role, user.team_id, supervised)


def entries(session: Session) -> list[ChangeEntry]:
    return list(session.scalars(select(ChangeEntry).order_by(ChangeEntry.id)))


def actions(session: Session) -> list[tuple[str, str | None, int | None]]:
    stmt = select(AuditEntry).where(AuditEntry.subject_type == "change_entries").order_by(AuditEntry.seq)
    return [(e.action, e.subject_id, e.actor_id) for e in session.scalars(stmt)]


def planned(**fields: Any) -> ChangeCreate:
    data: dict[str, Any] = {"title": "CRM 升级 v3.2", "kind": "release", "system": "crm"}
    return ChangeCreate.model_validate({**data, **fields})


# --- configuration records itself ---------------------------------------------------------------------------------


def test_each_saved_document_version_leaves_exactly_one_released_entry(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        ops = principal(session, org, "ops")
        policy = policy_versions.active(session).body + "\n# wider pools\n"
        policy_versions.save(session, policy, author=ops, note="放宽等待", affected_metrics=["wait", "lead_conversion"])
        assert len(entries(session)) == 1
        standards_service.save(session, standards_service.STANDARDS.active(session).body + "\n# again\n",
                               author=None, note="")
        assert len(entries(session)) == 2
        alerts_service.save(session, alerts_service.RULES.active(session).body + "\n# again\n", author=ops,
                            note="stale deals: one more day")
        found = entries(session)
    assert [(e.system, e.document, e.document_version, e.title) for e in found] == [
        ("routing_policies", "routing_policies", 2, "routing_policies v2: 放宽等待"),
        ("stage_standards", "stage_standards", 2, "stage_standards v2"),
        ("alert_rules", "alert_rules", 2, "alert_rules v2: stale deals: one more day")]
    assert [(e.source, e.kind, e.status, e.author_id, e.released_by_id) for e in found] == [
        ("config", "config", ChangeStatus.RELEASED, org.id("ops"), org.id("ops")),
        ("config", "config", ChangeStatus.RELEASED, None, None),
        ("config", "config", ChangeStatus.RELEASED, org.id("ops"), org.id("ops"))]
    assert found[0].affected_metrics == ["wait", "lead_conversion"] and found[1].affected_metrics == []
    assert all(e.effective_at == e.released_at for e in found)


def test_a_refused_save_records_no_change(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session, pytest.raises(Invalid):
        alerts_service.save(session, "rules: [", author=None)
    with session_scope(engine, readonly=True) as session:
        assert entries(session) == []


def test_the_organisations_notification_channels_are_recorded_as_they_are_saved_and_deleted(
        engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        ops = principal(session, org, "ops")
        data = EndpointWrite(name="销售群", channel="dingtalk", url="dingtalk://SECsecretsecret@robottoken123/",
                             user_ids=[])
        endpoint = preferences.save_endpoint(session, data, actor=ops, allowed=outbound.Allowed())
        preferences.delete_endpoint(session, endpoint.id, actor=ops)
        found = [(e.system, e.title, e.source, e.status, e.author_id) for e in entries(session)]
    assert found == [("notify_endpoints", f"notify_endpoints {endpoint.id} 销售群: saved", "config",
                      ChangeStatus.RELEASED, org.id("ops")),
                     ("notify_endpoints", f"notify_endpoints {endpoint.id} 销售群: deleted", "config",
                      ChangeStatus.RELEASED, org.id("ops"))]


# --- a change entered by hand ------------------------------------------------------------------------------------


def test_a_planned_change_is_released_only_when_its_checklist_is_answered_and_its_kpis_watched(
        engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        define_kpis(session)
        ops = principal(session, org, "ops")
        entry = changes.add(session, planned(affected_metrics=["lead_conversion", "crm_availability"]), actor=ops)
        assert (entry.status, entry.source, entry.author_id) == (ChangeStatus.PLANNED, "manual", org.id("ops"))
        change_id = entry.id

    def refused(update: dict[str, Any] | None = None) -> Invalid:
        with session_scope(engine) as session:
            ops = principal(session, org, "ops")
            if update:
                changes.edit(session, change_id, ChangeUpdate.model_validate(update), actor=ops)
            with pytest.raises(Invalid) as caught:
                changes.release(session, change_id, actor=ops)
        return caught.value

    first = refused()
    assert first.field == "checklist.user_change"
    assert [d["field"] for d in first.details or []] == [*(f"checklist.{k}" for k in QUESTIONS), "monitors",
                                                         "affected_metrics.0"]
    answered = {k: v for k, v in ANSWERS.items() if k != "rollback_plan"}
    assert refused({"checklist": answered}).field == "checklist.rollback_plan"
    assert refused({"checklist": {"rollback_plan": "回滚到 v3.1"}}).field == "monitors"
    unknown = refused({"monitors": [{"kpi": "page_load_time"}]})
    assert (unknown.field, unknown.params["kpi"]) == ("monitors.0.kpi", "page_load_time")
    unwatched = refused({"monitors": [{"kpi": "first_response_p90", "above": 4.0}]})
    assert (unwatched.field, unwatched.params["metric"]) == ("affected_metrics.0", "lead_conversion")

    with session_scope(engine) as session:
        ops = principal(session, org, "ops")
        changes.edit(session, change_id, ChangeUpdate(monitors=[
            Monitor(kpi="first_response_p90", above=4.0), Monitor(kpi="lead_conversion", below=0.08)]), actor=ops)
        released = changes.release(session, change_id, actor=ops)
        assert (released.status, released.released_by_id) == (ChangeStatus.RELEASED, org.id("ops"))
        assert released.released_at is not None and released.checklist["rollback_plan"] == "回滚到 v3.1"
        assert released.monitors == [{"kpi": "first_response_p90", "above": 4.0, "below": None},
                                     {"kpi": "lead_conversion", "above": None, "below": 0.08}]
        assert changes.missing(released, changes.active_kpi_ids(session)) == []
        done = actions(session)
    assert [a for a, _, _ in done] == ["change.added", *["change.edited"] * 5, "change.released"]
    assert {(s, who) for _, s, who in done} == {(str(change_id), org.id("ops"))}


def test_monitors_name_kpis_of_the_active_definitions_the_shipped_ones_until_a_version_is_saved(
        engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        shipped = changes.add(session, planned(checklist=ANSWERS, monitors=[{"kpi": "notification_delivery"}]),
                              actor=None)
        changes.release(session, shipped.id, actor=None)
        define_kpis(session)  # lead conversion and first response only
        assert [e.title for e in entries(session) if e.source == "config"] == ["kpi_definitions v2: two KPIs"]
        entry = changes.add(session, planned(checklist=ANSWERS, monitors=[{"kpi": "notification_delivery"}]),
                            actor=None)
        with pytest.raises(Invalid) as caught:
            changes.release(session, entry.id, actor=None)
    assert shipped.status is ChangeStatus.RELEASED
    assert (caught.value.field, caught.value.params["kpi"]) == ("monitors.0.kpi", "notification_delivery")


def test_edits_merge_answers_and_refuse_unknown_questions_and_double_monitors(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        entry = changes.add(session, planned(checklist={"user_change": "新筛选项", "watch_plan": "看首响"}), actor=None)
        changes.edit(session, entry.id, ChangeUpdate(checklist={"watch_plan": "", "rollback_plan": "回滚"},
                                                     title="CRM 升级 v3.2.1"), actor=None)
        assert entry.checklist == {"user_change": "新筛选项", "rollback_plan": "回滚"}
        assert entry.title == "CRM 升级 v3.2.1" and entry.system == "crm"
        with pytest.raises(Invalid) as question:
            changes.edit(session, entry.id, ChangeUpdate(checklist={"owner": "王强"}), actor=None)
        with pytest.raises(Invalid) as twice:
            changes.add(session, planned(monitors=[{"kpi": "lead_conversion"}, {"kpi": "lead_conversion"}]),
                        actor=None)
    assert question.value.field == "checklist.owner"
    assert twice.value.field == "monitors.1.kpi"


def test_roll_back_keeps_the_reason_and_each_state_refuses_what_it_cannot_do(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        define_kpis(session)
        ops = principal(session, org, "ops")
        entry = changes.add(session, planned(checklist=ANSWERS, monitors=[{"kpi": "lead_conversion"}]), actor=ops)
        with pytest.raises(Conflict):
            changes.roll_back(session, entry.id, reason="还没发布", actor=ops)
        changes.release(session, entry.id, actor=ops)
        for again in (lambda: changes.release(session, entry.id, actor=ops),
                      lambda: changes.edit(session, entry.id, ChangeUpdate(title="x"), actor=ops)):
            with pytest.raises(Conflict):
                again()
        with pytest.raises(Invalid):
            changes.roll_back(session, entry.id, reason="  ", actor=ops)
        changes.roll_back(session, entry.id, reason="安卓推送送达率下降", actor=ops)
        assert entry.status is ChangeStatus.ROLLED_BACK
        with pytest.raises(Conflict):
            changes.roll_back(session, entry.id, reason="again", actor=ops)
        done = changes.history(session, ops, entry.id)
    assert [(d.action, d.actor, d.reason) for d in done] == [
        ("added", "Ops", None), ("released", "Ops", None), ("rolled_back", "Ops", "安卓推送送达率下降")]


def test_a_configuration_entry_is_neither_edited_released_nor_rolled_back(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        standards_service.save(session, standards_service.STANDARDS.active(session).body + "\n#\n", author=None)
        entry = entries(session)[0]
        for attempt in (lambda: changes.edit(session, entry.id, ChangeUpdate(title="x"), actor=None),
                        lambda: changes.release(session, entry.id, actor=None),
                        lambda: changes.roll_back(session, entry.id, reason="x", actor=None)):
            with pytest.raises(Conflict) as caught:
                attempt()
            assert caught.value.field == "change_id"
        with pytest.raises(NotFound):
            changes.release(session, entry.id + 1, actor=None)


def test_reps_read_nothing_and_only_ops_and_admins_write(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        entry = changes.add(session, planned(), actor=principal(session, org, "admin"))
        sup, auditor, rep = (principal(session, org, n) for n in ("sup_a", "auditor", "rep_n1"))
        assert changes.get(session, sup, entry.id).id == changes.get(session, auditor, entry.id).id == entry.id
        with pytest.raises(Forbidden):
            changes.get(session, rep, entry.id)
        with pytest.raises(Forbidden):
            changes.listing(rep, zone=ZONE)
        for who in (sup, auditor, rep):
            with pytest.raises(Forbidden):
                changes.add(session, planned(), actor=who)
            with pytest.raises(Forbidden):
                changes.release(session, entry.id, actor=who)


def test_the_registry_lists_newest_first_by_every_filter(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        ops = principal(session, org, "ops")
        for title, system, at in (("官网表单改版", "website", datetime(2026, 8, 1, 2, tzinfo=UTC)),
                                  ("CRM 升级", "crm", datetime(2026, 8, 15, 14, tzinfo=UTC)),
                                  ("App 3.2.0", "mobile_app", datetime(2026, 8, 17, 2, tzinfo=UTC))):
            changes.add(session, planned(title=title, system=system, effective_at=at.isoformat()), actor=ops)
        standards_service.save(session, standards_service.STANDARDS.active(session).body + "\n#\n", author=ops)

    def titles(**filters: Any) -> list[str]:
        with session_scope(engine, readonly=True) as session:
            stmt = changes.listing(principal(session, org, "auditor"), zone=ZONE, **filters)
            return [e.title for e in session.scalars(stmt)]

    assert titles() == ["stage_standards v2", "App 3.2.0", "CRM 升级", "官网表单改版"]
    assert titles(source="manual", system="crm") == ["CRM 升级"]
    assert titles(status=ChangeStatus.RELEASED) == ["stage_standards v2"]
    # 2026-08-15 14:00 UTC is 22:00 in Shanghai: on the 15th there, not the 16th
    assert titles(since=date(2026, 8, 15), until=date(2026, 8, 15)) == ["CRM 升级"]
    assert titles(since=date(2026, 8, 16), until=date(2026, 8, 17)) == ["App 3.2.0"]
    with session_scope(engine, readonly=True) as session:
        assert changes.systems(session, principal(session, org, "sup_a")) == [
            "crm", "mobile_app", "stage_standards", "website"]
