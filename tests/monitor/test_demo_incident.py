"""The test that matters (R4.1–R4.3): on the demo company, without being told, the scan finds the conversion drop
within two weeks of the simulated CRM upgrade, ranks first response and the lost push notifications on the affected
Android app versions at the top of the explanation, and links the CRM upgrade's change entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.models import Anomaly, ChangeEntry, Role
from evenhand.monitor import impact, scan, service
from evenhand.monitor.report import Report
from tests.demo.conftest import Built, build_into, disposing

pytestmark = pytest.mark.slow
UPGRADE = date(2026, 8, 15)  # the CRM upgrade (22:00 local) in the demo year ending 2026-11-27
STABLE = (date(2026, 1, 1), date(2026, 7, 31))  # months without a simulated system change
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)  # the demo's snapshot, 17:00 in Shanghai
STAFF = Principal(user_id=0, username="test", display_name="test", role=Role.AUDITOR, via="system")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    built = build_into(tmp_path_factory.mktemp("monitor-demo"))
    with session_scope(built.engine) as session:
        service.refresh(session)
    yield from disposing(built)


@pytest.fixture(scope="module")
def found(demo: Built) -> list[Report]:
    with session_scope(demo.engine) as session:
        return scan.scan(session, days=300)


def first(found: list[Report], kpi: str) -> Report:
    """The KPI's first statistical anomaly on or after the upgrade."""
    return min((r for r in found if r.kpi.id == kpi and r.finding.kind == "statistical"
                and scan.day_date(r.finding.started) >= UPGRADE - timedelta(days=3)), key=lambda r: r.finding.started)


def test_the_conversion_drop_is_found_within_two_weeks_and_traced_to_lost_push(found: list[Report]) -> None:
    drop = first(found, "lead_conversion")
    assert drop.finding.direction == "down"
    assert scan.day_date(drop.finding.detected) <= UPGRADE + timedelta(days=14), drop.finding
    assert drop.chain[0] == "lead_conversion" and drop.chain[-1] == "notification_delivery", drop.chain
    assert drop.chain[1].startswith("first_response"), drop.chain


def test_first_response_and_delivery_are_explained_by_the_broken_android_versions(found: list[Report]) -> None:
    for kpi in ("first_response_mean", "notification_delivery"):
        shifted = first(found, kpi)
        top = shifted.dimensions[0]
        assert top.dimension in ("client", "app_version"), (kpi, shifted.dimensions)
        assert top.elements[0].value in ("android 3.2.0", "3.2.0"), (kpi, top)


def test_the_crm_upgrade_is_linked(demo: Built, found: list[Report]) -> None:
    with session_scope(demo.engine, readonly=True) as session:
        titles = dict(session.execute(select(ChangeEntry.id, ChangeEntry.title)).tuples().all())
    linked = [titles[c.id] for c in first(found, "lead_conversion").changes]
    assert any(t.startswith("CRM 升级") for t in linked[:2]), linked
    assert any("3.2.0" in t for t in linked[:2]), linked


def test_the_scan_stores_each_anomaly_once_and_a_second_scan_adds_none(demo: Built, found: list[Report]) -> None:
    with session_scope(demo.engine) as session:
        before = session.scalars(select(Anomaly.id)).all()
        again = scan.scan(session, days=300)
        after = session.scalars(select(Anomaly.id)).all()
    assert len(before) == len(found) and sorted(before) == sorted(after)
    assert sorted(r.anomaly_id for r in again) == sorted(r.anomaly_id for r in found)


def test_false_alarms_in_the_stable_months_stay_under_one_per_kpi_a_quarter(found: list[Report]) -> None:
    stable = [r for r in found if r.finding.kind == "statistical"
              and STABLE[0] <= scan.day_date(r.finding.started) <= STABLE[1]]
    kpis = {r.kpi.id for r in found} | {"lead_conversion"}
    quarters = (STABLE[1] - STABLE[0]).days / 91
    assert len(stable) < len(kpis) * quarters, [(r.kpi.id, scan.day_date(r.finding.started)) for r in stable]


def test_the_sms_fallback_shows_the_recovery_on_its_before_after_board(demo: Built) -> None:
    with session_scope(demo.engine, readonly=True) as session:
        fallback = session.scalar(select(ChangeEntry).where(ChangeEntry.title == "启用短信备用通道"))
        assert fallback is not None
        board = impact.board(session, STAFF, fallback.id, zone=ZoneInfo("Asia/Shanghai"),
                             added=["first_response_mean", "lead_conversion"], now=NOW)
    rows = {r.metric: r for r in board.rows}
    assert rows["notification_delivery"].declared and rows["first_response_mean"].kpi is not None
    for metric, sign in (("notification_delivery", 1), ("first_response_mean", -1), ("lead_conversion", 1)):
        moved = rows[metric].difference
        assert moved is not None and moved.excludes_zero and sign * moved.estimate > 0, (metric, moved)
