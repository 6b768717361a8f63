"""The worker's scan over stored series: it stores each anomaly once with its explanation and funnel, tells ops and
admins of each new one through the outbox (once), and a later scan updates the same rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from evenhand.db import session_scope
from evenhand.models import Anomaly, ChangeEntry, KpiDefinitionVersion, Notification, Role
from evenhand.monitor import tasks
from tests.builders import make_user
from tests.monitor import company_kpis as company

NOW = datetime(2026, 10, 1, 2, tzinfo=UTC)


def monitored(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        session.add(KpiDefinitionVersion(version=1, name="monitored", body=company.DEFINITIONS, active=True))
        session.add_all(company.points())
        entries = company.changes(session)
        people = {role: make_user(session, role=role).id for role in (Role.OPS, Role.ADMIN, Role.SUPERVISOR)}
        return {**{k: e.id for k, e in entries.items()}, **{r.value: i for r, i in people.items()}}


def test_the_hourly_scan_stores_explained_anomalies_and_tells_ops_once(engine: Engine) -> None:
    ids = monitored(engine)
    for _ in range(2):
        with session_scope(engine) as session:
            tasks.scan_series(session, NOW)
    with session_scope(engine, readonly=True) as session:
        stored = list(session.scalars(select(Anomaly)))
        found = {a.kpi: a for a in stored if a.kind == "statistical"}
        told = session.execute(select(Notification.recipient_id, Notification.link)
                               .where(Notification.kind == "kpi_anomaly")).tuples().all()
        crm = session.get(ChangeEntry, ids["crm"])
        assert crm is not None
    delivery = found["notification_delivery"]
    assert delivery.direction == "down" and delivery.started_on <= company.SHIFT <= delivery.detected_on
    assert delivery.explanation["dimensions"][0]["elements"][0]["value"] == "android 3.2.0"
    assert ids["crm"] in delivery.change_ids
    response = found["first_response_mean"]
    assert response.explanation["chain"] == ["first_response_mean", "notification_delivery"]
    assert response.explanation["trace"]["children"][0]["anomaly_id"] == delivery.id
    expected = {(ids[r], f"/monitor/anomalies/{a.id}") for r in ("ops", "admin") for a in stored
                if a.status == "open"}
    assert set(told) == expected and len(told) == len(expected)  # nobody else, and each once over two scans


def test_what_a_later_scan_no_longer_finds_is_withdrawn_and_those_told_are_told_again(engine: Engine) -> None:
    """The definitions change so that only a tenfold shift counts (min_effect 1,000 %, no alert line): the next
    hourly scan judges the same days again. The delivery drop is still found (its failures rose more than tenfold)
    and stays; the rest is withdrawn, and each person told of a withdrawn one is told it was — once, however often
    it scans."""
    ids = monitored(engine)
    with session_scope(engine) as session:
        tasks.scan_series(session, NOW)
    blind = "\n".join(line for line in company.DEFINITIONS.replace("    good:", "    min_effect: 10\n    good:")
                      .splitlines() if not line.strip().startswith("alert:"))
    with session_scope(engine) as session:
        session.execute(update(KpiDefinitionVersion).values(active=False))
        session.add(KpiDefinitionVersion(version=2, name="blind", body=blind, active=True))
    for _ in range(2):
        with session_scope(engine) as session:
            tasks.scan_series(session, NOW)
    with session_scope(engine, readonly=True) as session:
        stored = {a.id: (a.kpi, a.kind, a.status.value) for a in session.scalars(select(Anomaly))}
        told = session.execute(select(Notification.recipient_id, Notification.link, Notification.idempotency_key)
                               .where(Notification.kind == "kpi_anomaly")).tuples().all()
    gone = {i for i, (_, _, status) in stored.items() if status == "withdrawn"}
    kept = {(kpi, kind) for kpi, kind, status in stored.values() if status != "withdrawn"}
    assert gone and kept == {("notification_delivery", "statistical")}, stored
    links = {f"/monitor/anomalies/{i}" for i in gone}
    announced = {(uid, link) for uid, link, key in told if key.startswith("kpi_anomaly:") and link in links}
    withdrawn = [(uid, link) for uid, link, key in told if key.startswith("kpi_anomaly_withdrawn:")]
    assert announced and set(withdrawn) == announced and len(withdrawn) == len(announced)
    assert {uid for uid, _ in withdrawn} == {ids["ops"], ids["admin"]}
