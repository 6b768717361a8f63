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
from evenhand.demo.service import YEAR_SCANNED
from evenhand.models import Anomaly, ChangeEntry, Role
from evenhand.monitor import impact, scan
from evenhand.monitor.report import Report
from tests.demo.conftest import Built, build_into, disposing

pytestmark = pytest.mark.slow
UPGRADE = date(2026, 8, 15)  # the CRM upgrade (22:00 local) in the demo year ending 2026-11-27
STABLE = (date(2026, 1, 1), date(2026, 7, 31))  # months without a simulated system change
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)  # the demo's snapshot, 17:00 in Shanghai
STAFF = Principal(user_id=0, username="test", display_name="test", role=Role.AUDITOR, via="system")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("monitor-demo")))


@pytest.fixture(scope="module")
def built_with(demo: Built) -> list[int]:
    """The anomalies the demo's build stored."""
    with session_scope(demo.engine, readonly=True) as session:
        return list(session.scalars(select(Anomaly.id)))


@pytest.fixture(scope="module")
def found(demo: Built, built_with: list[int]) -> list[Report]:
    with session_scope(demo.engine) as session:
        return scan.scan(session, days=YEAR_SCANNED)


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


def test_the_demo_opens_with_the_year_scanned_and_a_scan_again_adds_nothing(demo: Built, built_with: list[int],
                                                                           found: list[Report]) -> None:
    with session_scope(demo.engine) as session:
        again = scan.scan(session, days=YEAR_SCANNED)
        after = session.scalars(select(Anomaly.id)).all()
    assert built_with and sorted(built_with) == sorted(after) == sorted(r.anomaly_id or 0 for r in found)
    assert sorted(r.anomaly_id or 0 for r in again) == sorted(built_with)


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
