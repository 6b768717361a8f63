"""A small monitored company for the monitoring pages' tests: four KPIs over 120 days to 2026-09-30, the push
incident in them (from 2026-08-17 delivery falls on Android 3.2.0, first response slows, conversion falls; lead
score steady), two anomalies found with their explanation, an older one ended, and the changes around them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from evenhand.models import Anomaly, AnomalyStatus, ChangeEntry, ChangeStatus, KpiDefinitionVersion, KpiPoint

LAST = date(2026, 9, 30)
FIRST = LAST - timedelta(days=119)
SHIFT = date(2026, 8, 17)  # the first day of the incident
RELEASE = datetime(2026, 8, 15, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai: the CRM upgrade

DEFINITIONS = """\
name: monitored test company
kpis:
  - id: lead_conversion
    name: {en: Lead conversion, zh: 线索转化率}
    source: leads
    kind: rate
    numerator: converted
    horizon_days: 21
    good: up
    unit: share
    dimensions: [channel, client]
    upstream: [first_response_mean, lead_score_mean]
    alert: {below: 0.08}
  - id: first_response_mean
    name: {en: First response (mean), zh: 首次响应（均值）}
    source: leads
    kind: mean
    measure: first_response_hours
    good: down
    unit: hours
    dimensions: [channel, client]
    upstream: [notification_delivery]
    alert: {above: 4}
  - id: lead_score_mean
    name: {en: Lead score (mean), zh: 线索评分（均值）}
    source: leads
    kind: mean
    measure: score
    good: up
    unit: points
  - id: notification_delivery
    name: {en: Notification delivery, zh: 通知送达率}
    source: notifications
    kind: rate
    numerator: delivered
    good: up
    unit: share
    dimensions: [client, channel]
"""


def days() -> list[date]:
    return [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def _point(kpi: str, day: date, n: float, value: float, *, dimension: str = "", cell: str = "",
           mean: bool = False) -> KpiPoint:
    """A day of a rate (``x`` the count) or a mean (``x`` the sum, squares with a variance of 1)."""
    return KpiPoint(kpi=kpi, dimension=dimension, value=cell, day=day, n=n, x=n * value,
                    x2=n * (value * value + 1) if mean else 0.0, v=value)


def conversion(day: date) -> float:
    """12.5% before the incident, 6.5% after; cohorts younger than 21 days have converted only in part."""
    rate = 0.125 if day < SHIFT else 0.065
    return rate * min(1.0, (LAST - day).days / 21)


def points() -> list[KpiPoint]:
    found = []
    for day in days():
        after = day >= SHIFT
        found += [_point("lead_conversion", day, 40, conversion(day)),
                  _point("first_response_mean", day, 40, 6.0 if after else 2.0, mean=True),
                  _point("lead_score_mean", day, 40, 60.0, mean=True),
                  _point("notification_delivery", day, 60, 0.70 if after else 0.98)]
        for client, n, rate in (("android 3.2.0", 20, 0.40 if after else 0.98), ("ios 3.2.0", 30, 0.98),
                                ("android 3.1.0", 10, 0.97)):
            found.append(_point("notification_delivery", day, n, rate, dimension="client", cell=client))
    return found


def explanation(crm: int, app: int, delivery_anomaly: int) -> dict[str, Any]:
    return {
        "windows": {"baseline": ["2026-07-18", "2026-08-14"], "anomalous": ["2026-08-17", "2026-08-28"]},
        "dimensions": [
            {"dimension": "client", "surprise": 0.12, "elements": [
                {"value": "android 3.2.0", "explanatory_power": 0.62, "surprise": 0.08, "baseline": 0.125,
                 "observed": 0.05, "share": 0.2}]},
            {"dimension": "channel", "surprise": 0.01, "elements": [
                {"value": "website", "explanatory_power": 0.3, "surprise": 0.004, "baseline": 0.13,
                 "observed": 0.09, "share": 0.5}]}],
        "trace": {"kpi": "lead_conversion", "status": "shifted", "anomaly_id": None, "effect": -0.48,
                  "started": "2026-08-17", "children": [
                      {"kpi": "first_response_mean", "status": "shifted", "anomaly_id": None, "effect": 2.0,
                       "started": "2026-08-17", "children": [
                           {"kpi": "notification_delivery", "status": "shifted", "anomaly_id": delivery_anomaly,
                            "effect": -0.29, "started": "2026-08-17", "children": []}]},
                      {"kpi": "lead_score_mean", "status": "steady", "children": []}]},
        "chain": ["lead_conversion", "first_response_mean", "notification_delivery"],
        "changes": [{"id": crm, "score": 2.4, "reasons": ["before_start", "mentions:推送"]},
                    {"id": app, "score": 0.5, "reasons": ["after_start", "mentions:app"]}]}


def changes(session: Session) -> dict[str, ChangeEntry]:
    """The CRM upgrade, the app release, a fix still planned, and a change rolled back a month before."""
    entries = {
        "crm": ChangeEntry(title="CRM 升级 v3.2 / 移动端推送组件更新", kind="release", system="CRM",
                           effective_at=RELEASE, description="推送组件更新"),
        "app": ChangeEntry(title="移动端 App 3.2.0 发布", kind="release", system="App",
                           effective_at=datetime(2026, 8, 17, 2, 0, tzinfo=UTC)),
        "sms": ChangeEntry(title="启用短信备用通道", kind="integration", system="SMS", status=ChangeStatus.PLANNED,
                           effective_at=datetime(2026, 9, 24, 3, 0, tzinfo=UTC)),
        "old": ChangeEntry(title="Routing pools regrouped", kind="config", system="evenhand",
                           status=ChangeStatus.ROLLED_BACK, effective_at=datetime(2026, 7, 20, 1, 0, tzinfo=UTC)),
    }
    session.add_all(entries.values())
    session.flush()
    return entries


def build(session: Session) -> dict[str, Any]:
    """Everything above; returns the changes and anomalies by name."""
    session.add(KpiDefinitionVersion(version=1, name="monitored test company", body=DEFINITIONS, active=True))
    session.add_all(points())
    entries = changes(session)
    delivery = Anomaly(kpi="notification_delivery", kind="statistical", method="two_proportions", direction="down",
                       started_on=SHIFT, detected_on=date(2026, 8, 19), last_on=LAST, baseline=0.98, observed=0.70,
                       effect=-0.29, p_value=1e-6, change_ids=[entries["crm"].id])
    ended = Anomaly(kpi="lead_score_mean", kind="statistical", method="cusum", direction="down",
                    started_on=date(2026, 7, 1), detected_on=date(2026, 7, 6), last_on=date(2026, 7, 8),
                    ended_on=date(2026, 7, 9), baseline=60.0, observed=52.0, effect=-0.13, p_value=0.004,
                    status=AnomalyStatus.CLOSED)
    session.add_all([delivery, ended])
    session.flush()
    conversion_anomaly = Anomaly(
        kpi="lead_conversion", kind="statistical", method="beta_binomial", direction="down", started_on=SHIFT,
        detected_on=date(2026, 8, 28), last_on=LAST, baseline=0.125, observed=0.065, effect=-0.48, p_value=0.0004,
        change_ids=[entries["crm"].id, entries["app"].id],
        explanation=explanation(entries["crm"].id, entries["app"].id, delivery.id))
    session.add(conversion_anomaly)
    session.flush()
    return {**entries, "conversion": conversion_anomaly, "delivery": delivery, "ended": ended}
