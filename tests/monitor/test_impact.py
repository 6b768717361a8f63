"""The before/after board: matched windows, one comparison per kind of KPI, a horizon rate waiting for its cohorts,
and the SMS fallback's board read from hand-built daily points through the service, the API and the command."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats as sp
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.kit.clihelp import Typer
from evenhand.models import ChangeEntry, KpiDefinitionVersion, KpiPoint
from evenhand.monitor import impact, impact_cli
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import Series
from evenhand.monitor.stats import Moments, bootstrap_difference, newcombe_difference, welch_difference
from tests.builders import Org
from tests.support import clear_caches, error_of

ZONE_DAY = date(2026, 9, 24)  # the SMS fallback took effect at 11:00 in Shanghai
EPOCH = date(1970, 1, 1)
DELIVERY = Kpi("notification_delivery", "Notification delivery", "通知送达率", "notifications", "rate",
               numerator="delivered", good="up", unit="share")
RESPONSE = Kpi("first_response_mean", "First response (mean)", "首次响应（平均）", "leads", "mean",
               measure="first_response_hours", good="down", unit="hours")
RESPONSE_P90 = Kpi("first_response_p90", "First response (p90)", "首次响应（p90）", "leads", "quantile",
                   measure="first_response_hours", q=0.9, good="down", unit="hours")
CONVERSION = Kpi("lead_conversion", "Lead conversion", "线索转化率", "leads", "rate", numerator="converted",
                 horizon_days=21, good="up", unit="share")
ALERTS = Kpi("alerts_opened", "Alerts opened", "新告警", "alerts", "count", good="down", unit="count")


def number(day: date) -> int:
    return (day - EPOCH).days


# --- windows --------------------------------------------------------------------------------------------------------


def test_whole_weeks_take_the_days_right_before_and_after_the_change_day() -> None:
    w = impact.windows(ZONE_DAY, 21)
    assert (w.before, w.after) == ((date(2026, 9, 3), date(2026, 9, 23)), (date(2026, 9, 25), date(2026, 10, 15)))
    assert (w.days, w.gap) == (21, 0)


@pytest.mark.parametrize("days", range(7, 30))
def test_windows_hold_each_weekday_equally_often(days: int) -> None:
    w = impact.windows(ZONE_DAY, days)

    def weekdays(first: date, last: date) -> Counter[int]:
        return Counter((first + timedelta(i)).weekday() for i in range((last - first).days + 1))

    assert weekdays(*w.before) == weekdays(*w.after)
    assert (w.before[1] - w.before[0]).days + 1 == days == w.days
    assert w.before[1] < ZONE_DAY < w.after[0] == ZONE_DAY + timedelta(1)
    assert 0 <= w.gap < 7 and (w.gap == 0) == (days % 7 in (0, 6))  # 6: the change day completes the week


# --- one KPI from its daily points ----------------------------------------------------------------------------------


def series(first: date, n: list[float], x: list[float], x2: list[float] | None = None,
           v: list[float | None] | None = None) -> Series:
    size = len(n)
    return Series(days=np.arange(number(first), number(first) + size, dtype=np.int64), n=np.array(n, dtype=float),
                  x=np.array(x, dtype=float), x2=np.array(x2 or [0.0] * size, dtype=float),
                  v=np.array([np.nan if a is None else a for a in (v or [None] * size)], dtype=float), by_age=None)


W7 = impact.windows(ZONE_DAY, 7)  # before 09-17 … 09-23, after 09-25 … 10-01
FIRST = W7.before[0]
KNOWN = date(2026, 11, 1)


def _days(before: list[float], day: float, after: list[float]) -> list[float]:
    return [*before, day, *after]


def test_a_rate_is_pooled_over_each_window_and_its_interval_is_newcombes() -> None:
    n = _days([100] * 7, 100, [100] * 7)
    x = _days([70, 72, 68, 70, 71, 69, 70], 0, [95] * 7)
    row = impact.compare(DELIVERY, series(FIRST, n, x), W7, KNOWN, declared=True)
    assert row.status == impact.COMPARED and (row.n_before, row.n_after) == (700, 700)
    assert row.difference == newcombe_difference(490, 700, 665, 700)
    assert row.difference is not None and row.difference.estimate == pytest.approx(0.25)
    assert (row.verdict, row.method) == (impact.BETTER, "newcombe")
    assert row.relative == pytest.approx(0.25 / 0.7)


def test_a_rate_whose_days_swing_counts_its_rows_for_less() -> None:
    """The same 490 of 700 before, but on days that swing from 40 to 100 of 100: the rows of a day are not
    independent draws, and the interval widens by the days' dispersion until the rise is no longer clear."""
    n = _days([100] * 7, 100, [100] * 7)
    x = _days([40, 100, 45, 95, 40, 100, 70], 0, [80] * 7)
    row = impact.compare(DELIVERY, series(FIRST, n, x), W7, KNOWN, declared=True)
    pooled = newcombe_difference(490, 700, 560, 700)
    assert row.difference is not None and row.difference.estimate == pytest.approx(pooled.estimate)
    assert row.difference.low < pooled.low and row.difference.high > pooled.high
    assert pooled.excludes_zero and row.verdict == impact.UNCLEAR


def test_a_mean_whose_days_differ_counts_its_rows_for_less() -> None:
    """Before: days answered in 2 h and days in 10 h (each day's own rows close together); after: about 5 h every
    day."""
    n = _days([10] * 7, 0, [10] * 7)
    after = [4.9, 5.1, 5.0, 5.0, 4.9, 5.1, 5.0]
    x = _days([20, 100, 20, 100, 20, 100, 20], 0, [10 * m for m in after])
    x2 = _days([41, 1001, 41, 1001, 41, 1001, 41], 0, [10 * m * m + 1 for m in after])  # within a day: ±0.3 h
    row = impact.compare(RESPONSE, series(FIRST, n, x, x2), W7, KNOWN, declared=False)
    plain = welch_difference(impact.Moments(70, 4 * 20 + 3 * 100, 4 * 41 + 3 * 1001),
                             impact.Moments(70, sum(10 * m for m in after), sum(10 * m * m + 1 for m in after)))
    assert row.difference is not None and row.difference.estimate == pytest.approx(plain.estimate)
    width = row.difference.high - row.difference.low
    assert width > 3 * (plain.high - plain.low)
    days = sp.ttest_ind(after, [2.0, 10.0, 2.0, 10.0, 2.0, 10.0, 2.0], equal_var=False).confidence_interval(0.95)
    assert 0.9 < width / (days.high - days.low) < 1.3  # about what seven days, one observation each, give


def test_the_change_day_is_in_neither_window() -> None:
    n, x = _days([10] * 7, 1000, [10] * 7), _days([5] * 7, 1000, [5] * 7)
    row = impact.compare(DELIVERY, series(FIRST, n, x), W7, KNOWN, declared=True)
    assert row.difference is not None and (row.difference.before, row.difference.after) == (0.5, 0.5)
    assert row.verdict == impact.UNCLEAR


def test_a_mean_is_welchs_over_every_row_and_falling_is_better_when_good_is_down() -> None:
    """Each before day: five leads answered in 4 h and five in 8 h; each after day five in 1 h and five in 3 h."""
    n = _days([10] * 7, 0, [10] * 7)
    x = _days([60] * 7, 0, [20] * 7)
    x2 = _days([400] * 7, 0, [50] * 7)
    row = impact.compare(RESPONSE, series(FIRST, n, x, x2), W7, KNOWN, declared=False)
    before, after = np.array([4.0, 8.0] * 35), np.array([1.0, 3.0] * 35)
    ci = sp.ttest_ind(after, before, equal_var=False).confidence_interval(0.95)
    assert row.difference is not None
    assert (row.difference.before, row.difference.after, row.difference.estimate) == (6, 2, -4)
    assert (row.difference.low, row.difference.high) == pytest.approx((ci.low, ci.high))
    assert (row.verdict, row.declared) == (impact.BETTER, False)


def test_a_quantile_bootstraps_the_days_values_weighted_by_their_rows() -> None:
    v: list[float | None] = [8, 8, 9, 8, 7, 8, None, 50, 3, 3, 2, 3, 3, 4, 3]
    n = _days([10, 10, 10, 10, 10, 20, 2], 10, [10] * 7)
    row = impact.compare(RESPONSE_P90, series(FIRST, n, [0.0] * 15, v=v), W7, KNOWN, declared=True)
    expected = bootstrap_difference(np.array([8.0, 8, 9, 8, 7, 8]), np.array([3.0, 3, 2, 3, 3, 4, 3]),
                                    before_weights=np.array([10.0, 10, 10, 10, 10, 20]),
                                    after_weights=np.full(7, 10.0))
    assert row.difference == expected
    assert expected.before == pytest.approx(56 / 7) and expected.after == pytest.approx(3)
    assert row.verdict == impact.BETTER and row.method == "bootstrap"


def test_a_count_is_compared_per_day_and_rising_is_worse_when_good_is_down() -> None:
    x = _days([1, 0, 2, 1, 0, 1, 2], 0, [4, 6, 5, 7, 5, 4, 6])
    row = impact.compare(ALERTS, series(FIRST, x, x), W7, KNOWN, declared=True)
    before, after = np.array(x[:7], dtype=float), np.array(x[8:], dtype=float)
    assert row.difference == welch_difference(Moments(7, before.sum(), (before ** 2).sum()),
                                               Moments(7, after.sum(), (after ** 2).sum()))
    assert row.verdict == impact.WORSE


def test_an_empty_window_says_too_few_figures() -> None:
    n, x = _days([0] * 7, 0, [100] * 7), _days([0] * 7, 0, [90] * 7)
    row = impact.compare(DELIVERY, series(FIRST, n, x), W7, KNOWN, declared=True)
    assert (row.status, row.difference, row.verdict) == (impact.NO_DATA, None, None)


def test_a_horizon_rate_waits_for_its_youngest_cohort() -> None:
    n, x = _days([100] * 7, 100, [100] * 7), _days([12] * 7, 12, [6] * 7)
    ready = W7.after[1] + timedelta(days=22)  # 10-01 + 21 days of horizon, then the day after
    early = impact.compare(CONVERSION, series(FIRST, n, x), W7, ready - timedelta(days=2), declared=True)
    assert (early.status, early.ready_on, early.difference) == (impact.PENDING, date(2026, 10, 23), None)
    assert impact.status_text(early.status, early.verdict, early.ready_on, lambda m, **p: m.format(**p)) == \
        "Not enough data yet, ready on 2026-10-23"
    on_time = impact.compare(CONVERSION, series(FIRST, n, x), W7, ready - timedelta(days=1), declared=True)
    assert on_time.status == impact.COMPARED and on_time.verdict == impact.WORSE


def test_a_window_still_running_waits_too() -> None:
    n, x = _days([100] * 7, 100, [100] * 7), _days([70] * 7, 70, [95] * 7)
    row = impact.compare(DELIVERY, series(FIRST, n, x), W7, W7.after[1] - timedelta(days=1), declared=True)
    assert (row.status, row.ready_on) == (impact.PENDING, W7.after[1] + timedelta(days=1))


def test_figures_are_written_in_their_unit() -> None:
    def tr(message: str, **params: object) -> str:
        return message.format(**params)

    assert impact.figure(0.125, "share", tr) == "12.5%"
    assert impact.figure(-0.06, "share", tr, signed=True) == "-6.0 pp"
    assert impact.figure(2.1, "hours", tr) == "2.10 h"
    assert impact.figure(-4.7, "hours", tr, signed=True) == "-4.70 h"
    assert impact.figure(1234.0, "count", tr) == "1,234.0"
    assert impact.figure(None, "count", tr) == "—" and impact.relative(-0.6667) == "-67%"


# --- the SMS fallback's board, from hand-built daily points -----------------------------------------------------------

DEFINITIONS = """name: before and after
kpis:
  - id: notification_delivery
    name: {en: Notification delivery, zh: 通知送达率}
    source: notifications
    kind: rate
    numerator: delivered
    good: up
    unit: share
  - id: first_response_mean
    name: {en: First response (mean), zh: 首次响应（平均）}
    source: leads
    kind: mean
    measure: first_response_hours
    good: down
    unit: hours
  - id: first_response_p90
    name: {en: First response (p90), zh: 首次响应（p90）}
    source: leads
    kind: quantile
    measure: first_response_hours
    q: 0.9
    good: down
    unit: hours
  - id: lead_conversion
    name: {en: Lead conversion, zh: 线索转化率}
    source: leads
    kind: rate
    numerator: converted
    horizon_days: 21
    good: up
    unit: share
"""
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADDED = ["first_response_mean", "first_response_p90", "lead_conversion"]
RESPONSE_CI = sp.ttest_ind(np.array([1.0, 3.0] * 35), np.array([4.0, 8.0] * 35), equal_var=False
                           ).confidence_interval(0.95)


def _points(kpi: str, rows: Sequence[tuple[float, float, float, float | None]]) -> list[KpiPoint]:
    """One whole-company point a day from 09-17 (the first before day) on: (n, x, x2, v)."""
    return [KpiPoint(kpi=kpi, dimension="", value="", day=FIRST + timedelta(i), n=n, x=x, x2=x2, v=v)
            for i, (n, x, x2, v) in enumerate(rows)]


def build_fallback(session: Session) -> int:
    """Delivery 70% → 95%; first response 6 h → 2 h (each day five leads in 4 h and five in 8 h, then five in 1 h and
    five in 3 h), p90 8 h → 3 h; conversion 12% → 6%, its cohorts far from 21 days old. Points up to 10-01. The
    change "启用短信备用通道" declares delivery and the SMS cost (no KPI); its id is returned."""
    session.add(KpiDefinitionVersion(version=1, name="before and after", body=DEFINITIONS, active=True))
    change = ChangeEntry(title="启用短信备用通道", kind="config", system="notify",
                         effective_at=datetime(2026, 9, 24, 3, 0),
                         affected_metrics=["notification_delivery", "sms_cost"])
    session.add(change)
    session.add_all(_points("notification_delivery", [(100, 70, 70, 0.7)] * 7 + [(100, 80, 80, 0.8)]
                            + [(100, 95, 95, 0.95)] * 7))
    session.add_all(_points("first_response_mean", [(10, 60, 400, 6.0)] * 7 + [(10, 40, 200, 4.0)]
                            + [(10, 20, 50, 2.0)] * 7))
    session.add_all(_points("first_response_p90", [(10, 60, 400, v) for v in (8, 8, 9, 8, 7, 8, 8)]
                            + [(10, 40, 200, 6.0)] + [(10, 20, 50, v) for v in (3, 3, 2, 3, 3, 4, 3)]))
    session.add_all(_points("lead_conversion", [(100, 12, 12, 0.12)] * 8 + [(100, 6, 6, 0.06)] * 7))
    session.flush()
    return change.id


@pytest.fixture
def fallback(engine: Engine) -> int:
    with session_scope(engine) as session:
        return build_fallback(session)


def test_the_sms_fallback_shows_delivery_rising_and_first_response_falling(engine: Engine, org: Org,
                                                                         fallback: int) -> None:
    with session_scope(engine, readonly=True) as session:
        found = impact.board(session, _principal(org, "ops"), fallback, zone=SHANGHAI, days=7, added=ADDED)
    assert (found.windows.before, found.windows.after, found.known) == (
        (date(2026, 9, 17), date(2026, 9, 23)), (date(2026, 9, 25), date(2026, 10, 1)), date(2026, 10, 1))
    rows = {r.metric: r for r in found.rows}
    assert [r.metric for r in found.rows] == ["notification_delivery", "sms_cost", *ADDED]
    assert rows["notification_delivery"].difference == newcombe_difference(490, 700, 665, 700)
    assert rows["notification_delivery"].verdict == impact.BETTER and rows["notification_delivery"].declared
    assert (rows["sms_cost"].status, rows["sms_cost"].kpi) == (impact.NOT_MONITORED, None)
    mean = rows["first_response_mean"].difference
    assert mean is not None and (mean.before, mean.after) == (6, 2)
    assert (mean.low, mean.high) == pytest.approx((RESPONSE_CI.low, RESPONSE_CI.high))
    p90 = rows["first_response_p90"].difference
    assert p90 is not None and (p90.before, p90.after) == pytest.approx((8, 3)) and p90.high < 0
    assert {rows[k].verdict for k in ADDED[:2]} == {impact.BETTER} and not rows["first_response_mean"].declared
    assert (rows["lead_conversion"].status, rows["lead_conversion"].ready_on) == (impact.PENDING, date(2026, 10, 23))


def _principal(org: Org, username: str) -> Principal:
    user = org.users[username]
    return Principal(user.id, user.username, user.display_name, user.role)


def test_the_api_gives_the_board_to_staff_and_supervisors(client: TestClient, org: Org, fallback: int) -> None:
    query = "days=7&kpi=first_response_mean&kpi=lead_conversion"
    answer = client.get(f"/api/v1/changes/{fallback}/impact?{query}", headers=org.headers("sup_a"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["title"], body["change_day"], body["before"], body["after"], body["known"]) == (
        "启用短信备用通道", "2026-09-24", {"first": "2026-09-17", "last": "2026-09-23"},
        {"first": "2026-09-25", "last": "2026-10-01"}, "2026-10-01")
    metrics = {m["metric"]: m for m in body["metrics"]}
    delivery = metrics["notification_delivery"]
    assert (delivery["before"], delivery["after"], delivery["verdict"], delivery["method"]) == (
        0.7, 0.95, "better", "newcombe")
    assert delivery["relative"] == pytest.approx(0.25 / 0.7) and delivery["excludes_zero"] is True
    response = metrics["first_response_mean"]
    assert (response["difference"], response["verdict"], response["declared"], response["unit"]) == (
        -4, "better", False, "hours")
    assert (metrics["sms_cost"]["status"], metrics["sms_cost"]["name"]) == ("not_monitored", None)
    assert (metrics["lead_conversion"]["status"], metrics["lead_conversion"]["ready_on"]) == ("pending", "2026-10-23")
    for reader in ("admin", "auditor"):
        assert client.get(f"/api/v1/changes/{fallback}/impact", headers=org.headers(reader)).status_code == 200


def test_whole_default_windows_wait_for_the_after_window(client: TestClient, org: Org, fallback: int) -> None:
    body = client.get(f"/api/v1/changes/{fallback}/impact", headers=org.headers("ops")).json()
    assert (body["days"], body["after"]["last"]) == (21, "2026-10-15")
    delivery = next(m for m in body["metrics"] if m["metric"] == "notification_delivery")
    assert (delivery["status"], delivery["ready_on"], delivery["before"]) == ("pending", "2026-10-16", None)


def test_the_api_refuses_reps_unknown_changes_and_kpis_and_odd_windows(client: TestClient, org: Org,
                                                                       fallback: int) -> None:
    path = f"/api/v1/changes/{fallback}/impact"
    refused = client.get(path, headers=org.headers("rep_n1"))
    assert (refused.status_code, error_of(refused)["code"]) == (403, "forbidden")
    missing = client.get("/api/v1/changes/999999/impact", headers=org.headers("ops"))
    assert (missing.status_code, error_of(missing)["field"]) == (404, "change_id")
    unknown = client.get(f"{path}?kpi=sms_cost", headers=org.headers("ops"))
    assert (unknown.status_code, error_of(unknown)["field"]) == (422, "kpi")
    for days in (6, 92):
        assert client.get(f"{path}?days={days}", headers=org.headers("ops")).status_code == 422


# --- the command ------------------------------------------------------------------------------------------------------


@pytest.fixture
def command(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Typer]:
    """``impact`` under a group of its own, run as a fresh process would (settings from the environment)."""
    monkeypatch.setenv("EVENHAND_DATABASE_URL", db_url)
    monkeypatch.setenv("EVENHAND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENHAND_LOCALE", "en")
    clear_caches()
    group = Typer(no_args_is_help=True)
    group.command("impact", help=impact_cli.HELP)(impact_cli.impact)
    group.command("nothing")(lambda: None)  # two commands: ``impact`` stays a subcommand, as under ``changes``
    yield group
    clear_caches()


def test_the_command_prints_the_board_and_its_json(command: Typer, fallback: int) -> None:
    runner = CliRunner()
    shown = runner.invoke(command, ["impact", str(fallback), "--days", "7", "--kpi", "first_response_mean"])
    assert shown.exit_code == 0, shown.output
    assert "2026-09-17 – 2026-09-23" in shown.output and "70.0%" in shown.output and "95.0%" in shown.output
    assert "+25.0 pp" in shown.output and "-4.00 h" in shown.output and "Better" in shown.output
    printed = runner.invoke(command, ["impact", str(fallback), "--days", "7", "--json"])
    metrics = {m["metric"]: m for m in json.loads(printed.output)["metrics"]}
    assert (metrics["notification_delivery"]["after"], metrics["sms_cost"]["status"]) == (0.95, "not_monitored")
    wrong = runner.invoke(command, ["impact", str(fallback), "--kpi", "sms_cost"])
    assert wrong.exit_code == 1 and "No KPI sms_cost in the active definitions." in wrong.output
