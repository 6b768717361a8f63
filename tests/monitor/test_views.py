"""What the monitoring pages and the anomaly endpoints read: the tiles (the latest window beside the one before, a
horizon rate on its mature cohorts), the change markers (local days, planned changes left out), the anomaly list
(open first), the drill-down (windows, ranked explanations, funnel trace, linked changes), a KPI's chart with its
bands and top dimension values, and who may read them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from evenhand import errors
from evenhand.app import RequestContext
from evenhand.auth.principal import Principal
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.errors import Forbidden, NotFound
from evenhand.models import AnomalyStatus, Role
from evenhand.monitor import views
from evenhand.monitor.anomaly_routes import router
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import Series
from tests.builders import Org
from tests.monitor import company_kpis as co

ZONE = ZoneInfo("Asia/Shanghai")
OPS = Principal(user_id=1, username="ops", display_name="Ops", role=Role.OPS)
SUPERVISOR = Principal(user_id=2, username="sup", display_name="Sup", role=Role.SUPERVISOR)
REP = Principal(user_id=3, username="rep", display_name="Rep", role=Role.REP)


@pytest.fixture
def built(engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as session:
        found = co.build(session)
        return {k: v.id for k, v in found.items()}


def _series(kind: str, n: list[float], x: list[float], v: list[float]) -> tuple[Kpi, Series]:
    kpi = Kpi(id="k", name_en="K", name_zh="K", source="leads", kind=kind, window_days=3, min_n=5)
    empty = np.zeros(len(n))
    return kpi, Series(np.arange(100, 100 + len(n)), np.array(n, float), np.array(x, float), empty,
                       np.array(v, float), None)


def test_a_window_pools_rows_and_weights_daily_quantiles_by_their_rows() -> None:
    kpi, series = _series("rate", [10, 0, 30, 4], [1, 0, 9, 4], [0.1, np.nan, 0.3, 1.0])
    assert np.allclose(views.pooled(kpi, series, 3), [0.1, 0.1, 10 / 40, 13 / 34])
    kpi, series = _series("quantile", [10, 30, 2], [0, 0, 0], [1.0, 3.0, np.nan])
    assert np.allclose(views.pooled(kpi, series, 3), [1.0, 2.5, 2.5])
    kpi, series = _series("count", [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8])
    assert np.allclose(views.pooled(kpi, series, 3), [2, 3, 4, 6])
    kpi, series = _series("mean", [2, 2, 2], [4, 4, 4], [2, 2, 2])
    assert np.isnan(views.pooled(kpi, series, 2)[0]) and views.pooled(kpi, series, 3)[2] == 2.0  # fewer than min_n


def test_the_tiles_read_the_last_window_beside_the_one_before(engine: Engine, built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        found = views.overview(session, OPS, ZONE)
    assert found.as_of == co.LAST
    tiles = {t.kpi.id: t for t in found.tiles}
    assert list(tiles) == ["lead_conversion", "first_response_mean", "lead_score_mean", "notification_delivery"]
    response = tiles["first_response_mean"]
    assert response.now == pytest.approx(6.0) and response.before == pytest.approx(6.0)
    assert response.window == (co.LAST - timedelta(6), co.LAST)
    assert len(response.line.days) == views.SPARK_DAYS and response.line.days[-1] == co.LAST
    assert response.line.mature == views.SPARK_DAYS and response.anomaly is None
    assert response.beyond_alert and tiles["lead_conversion"].beyond_alert  # above 4 h; below 8%
    assert not tiles["lead_score_mean"].beyond_alert and not tiles["notification_delivery"].beyond_alert  # none set
    assert tiles["notification_delivery"].anomaly == built["delivery"]
    assert tiles["lead_score_mean"].anomaly is None  # its anomaly ended


def test_a_horizon_rate_compares_its_mature_cohorts(engine: Engine, built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        tile = {t.kpi.id: t for t in views.overview(session, OPS, ZONE).tiles}["lead_conversion"]
    end = co.LAST - timedelta(21)
    assert tile.window == (end - timedelta(6), end)
    assert tile.now == pytest.approx(0.065) and tile.before == pytest.approx(0.065)  # not the young cohorts' 3%
    assert tile.anomaly == built["conversion"]
    assert tile.line.mature == views.SPARK_DAYS - 21  # the last 21 days still maturing


def test_change_markers_fall_on_local_days_and_leave_planned_changes_out(engine: Engine,
                                                                         built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        found = views.markers(session, date(2026, 7, 1), co.LAST, ZONE)
        narrow = views.markers(session, date(2026, 8, 16), co.LAST, ZONE)
    assert [(m.id, m.day, m.status) for m in found] == [
        (built["old"], date(2026, 7, 20), "rolled_back"), (built["crm"], date(2026, 8, 15), "released"),
        (built["app"], date(2026, 8, 17), "released")]  # the SMS fallback is still planned
    assert [m.id for m in narrow] == [built["app"]]  # the upgrade at 22:00 on 08-15 local is not on the 16th


def test_the_anomaly_list_puts_open_ones_first_with_their_top_explanation(engine: Engine,
                                                                          built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        rows = views.listed(session, SUPERVISOR)
        only_open = views.listed(session, OPS, status=AnomalyStatus.OPEN, kpi="lead_conversion")
    assert [r.id for r in rows] == [built["conversion"], built["delivery"], built["ended"]]
    first = rows[0]
    assert first.delay == 11 and first.harmful is True and first.kpi is not None
    assert (first.top.dimension, first.top.value, first.top.power) == ("client", "android 3.2.0", 0.62)  # type: ignore[union-attr]
    assert [c.title for c in first.changes] == ["CRM 升级 v3.2 / 移动端推送组件更新", "移动端 App 3.2.0 发布"]
    assert rows[2].top is None and rows[2].status == "closed"
    assert [r.id for r in only_open] == [built["conversion"]]


def test_the_drill_down_reads_windows_explanations_trace_and_changes(engine: Engine, built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        found = views.drill(session, OPS, built["conversion"], ZONE)
    assert found.windows == {"baseline": (date(2026, 7, 18), date(2026, 8, 14)),
                             "anomalous": (date(2026, 8, 17), date(2026, 8, 28))}
    assert found.line is not None and found.line.days[0] == date(2026, 7, 4)  # 14 days before the baseline
    assert found.line.days[-1] == co.LAST
    assert [d.name for d in found.dimensions] == ["client", "channel"]
    assert found.dimensions[0].elements[0].observed == 0.05
    trace = found.trace
    assert trace is not None and [c.kpi for c in trace.children] == ["first_response_mean", "lead_score_mean"]
    assert trace.children[1].status == "steady" and trace.children[0].children[0].anomaly_id == built["delivery"]
    assert found.chain == ("lead_conversion", "first_response_mean", "notification_delivery")
    crm, app = found.changes
    assert (crm.id, crm.score, crm.days_before) == (built["crm"], 2.4, 2)
    assert crm.reasons == ("before_start", "mentions:推送")
    assert (app.id, app.days_before) == (built["app"], 0)
    assert [m.id for m in found.markers] == [built["old"], built["crm"], built["app"]]


def test_an_anomaly_without_explanation_still_reads(engine: Engine, built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        found = views.drill(session, OPS, built["ended"], ZONE)
    assert found.dimensions == () and found.trace is None and found.changes == () and found.windows == {}
    assert found.line is not None and found.line.days[0] == date(2026, 6, 17)


def test_a_kpi_chart_shades_its_anomalies_and_draws_a_dimensions_largest_values(engine: Engine,
                                                                                built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        found = views.kpi_view(session, OPS, "notification_delivery", days=90, zone=ZONE)
        year = views.kpi_view(session, OPS, "lead_score_mean", days=365, zone=ZONE)
        top = views.top_values(session, OPS, "notification_delivery", "client", days=90, zone=ZONE, top=2)
        with pytest.raises(NotFound) as refused:
            views.top_values(session, OPS, "notification_delivery", "region", days=90, zone=ZONE)
    assert [(b.id, b.first, b.last) for b in found.bands] == [(built["delivery"], co.SHIFT, co.LAST)]
    assert len(year.line.days) == 365 and year.line.daily[0] is None  # before the first point
    assert [b.id for b in year.bands] == [built["ended"]]
    assert [value for value, _ in top] == ["ios 3.2.0", "android 3.2.0"]
    assert top[1][1].rolling[-1] == pytest.approx(0.40)
    assert refused.value.field == "dimension"


def test_reps_read_no_monitoring(engine: Engine, built: dict[str, Any]) -> None:
    with session_scope(engine, readonly=True) as session:
        for read in (lambda: views.overview(session, REP, ZONE), lambda: views.listed(session, REP),
                     lambda: views.drill(session, REP, built["conversion"], ZONE),
                     lambda: views.kpi_view(session, REP, "lead_conversion", days=90, zone=ZONE)):
            with pytest.raises(Forbidden):
                read()
        with pytest.raises(NotFound) as missing:
            views.kpi(session, OPS, "nothing")
    assert missing.value.field == "kpi"


# --- the endpoints --------------------------------------------------------------------------------------------------


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The anomaly router on an app of its own (the app names it among its routers)."""
    app = FastAPI()
    app.state.settings, app.state.engine = settings, engine
    errors.install(app)
    app.add_middleware(RequestContext, settings=settings)
    app.include_router(router, prefix="/api/v1")
    with TestClient(app) as client:
        yield client


def test_the_endpoints_list_anomalies_and_give_one_with_its_explanation(api: TestClient, org: Org,
                                                                       built: dict[str, Any]) -> None:
    listed = api.get("/api/v1/monitor/anomalies", headers={**org.headers("sup_a"), "Accept-Language": "en"})
    assert listed.status_code == 200
    body = listed.json()
    assert [a["id"] for a in body] == [built["conversion"], built["delivery"], built["ended"]]
    assert body[0]["kpi_name"] == "Lead conversion" and body[0]["days_to_detect"] == 11
    assert body[0]["top_explanation"] == {"dimension": "client", "value": "android 3.2.0", "explanatory_power": 0.62}
    closed = api.get("/api/v1/monitor/anomalies", params={"status": "closed"}, headers=org.headers("auditor"))
    assert [a["id"] for a in closed.json()] == [built["ended"]]
    one = api.get(f"/api/v1/monitor/anomalies/{built['conversion']}", headers={
        **org.headers("ops"), "Accept-Language": "zh-CN"})
    assert one.status_code == 200 and one.json()["kpi_name"] == "线索转化率"
    assert one.json()["explanation"]["chain"][-1] == "notification_delivery"
    assert [(c["id"], c["days_before"]) for c in one.json()["changes"]] == [(built["crm"], 2), (built["app"], 0)]


def test_the_endpoints_refuse_reps_and_name_a_missing_anomaly(api: TestClient, org: Org,
                                                             built: dict[str, Any]) -> None:
    assert api.get("/api/v1/monitor/anomalies", headers=org.headers("rep_n1")).status_code == 403
    assert api.get(f"/api/v1/monitor/anomalies/{built['conversion']}",
                   headers=org.headers("rep_n1")).status_code == 403
    missing = api.get("/api/v1/monitor/anomalies/999999", headers=org.headers("ops"))
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "anomaly_id"
