"""The daily points: on a small company built by hand (3 days × 2 channels, with known conversions, response times,
deliveries and appeals) every point the refresh stores is the one worked out here; and the pure core's rules
(quantiles as numpy's, a horizon's cumulative numerator by age, too few rows, a row filter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.models import (
    Appeal,
    KpiPoint,
    Lead,
    LeadStatus,
    Notification,
    NotificationStatus,
    RoutingDecision,
    User,
)
from evenhand.monitor import service
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import DaysOff, DaysWorked, day_number, points
from evenhand.monitor.sources import Facts
from tests.builders import make_team, make_user

DAY1 = date(2026, 3, 2)  # local days in Asia/Shanghai (UTC+8)
D1, D2, D3 = day_number(DAY1), day_number(DAY1) + 1, day_number(DAY1) + 2
NOW = datetime(2026, 4, 20, 4, 0, tzinfo=UTC)  # every outcome of the three days is known by then
H = 21

DOCUMENT = """\
name: test KPIs
kpis:
  - id: volume
    name: {en: Leads, zh: 线索量}
    source: leads
    kind: count
    good: up
    unit: count
    dimensions: [channel]
  - id: conversion
    name: {en: Conversion, zh: 转化率}
    source: leads
    kind: rate
    numerator: converted
    horizon_days: 21
    good: up
    unit: share
    dimensions: [channel, client]
    min_n: 1
  - id: response_mean
    name: {en: First response, zh: 首次响应}
    source: leads
    kind: mean
    measure: first_response_hours
    good: down
    unit: hours
    dimensions: [channel]
    min_n: 1
  - id: response_p90
    name: {en: First response p90, zh: 首次响应 P90}
    source: leads
    kind: quantile
    measure: first_response_hours
    q: 0.9
    good: down
    unit: hours
    dimensions: [channel]
    min_n: 2
  - id: delivery
    name: {en: Delivery, zh: 送达率}
    source: notifications
    kind: rate
    numerator: delivered
    good: up
    unit: share
    dimensions: [client]
    min_n: 1
  - id: appeals
    name: {en: Appeals, zh: 申诉率}
    source: decisions
    kind: rate
    numerator: appealed
    good: down
    unit: share
    dimensions: [team]
    min_n: 1
"""


def at(day: int, hour: float) -> datetime:
    """``hour`` o'clock local (UTC+8) on the day numbered ``day``."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day, hours=hour - 8)


@dataclass
class LeadSpec:
    day: int
    channel: str
    response_hours: float | None = None
    converted_after_days: int | None = None
    push: tuple[str, str, bool] | None = None  # platform, app version, delivered


# Each day's leads at 10:00 local: (channel, hours to first response, days to conversion, its push notification).
LEADS = (
    LeadSpec(D1, "website", 1, 2, ("android", "3.2.0", True)),
    LeadSpec(D1, "website", 2, None, ("android", "3.2.0", False)),
    LeadSpec(D1, "website", 3, None, ("android", "3.2.0", True)),
    LeadSpec(D1, "baidu_ads", 4, None, ("ios", "3.1.4", True)),
    LeadSpec(D1, "baidu_ads", None, None, ("ios", "3.1.4", True)),
    LeadSpec(D2, "website", 0.5, 0),
    LeadSpec(D2, "website", 1.5, 30),  # converted after the 21-day horizon: not counted
    LeadSpec(D2, "baidu_ads", 2, 21),  # on the horizon's last day: counted
    LeadSpec(D2, "baidu_ads", 2),
    LeadSpec(D2, "baidu_ads", 8),
    LeadSpec(D3, "website", 6),
    LeadSpec(D3, "baidu_ads"),
)


@dataclass
class Company:
    reps: dict[str, User] = field(default_factory=dict)
    leads: list[Lead] = field(default_factory=list)


def build(session: Session) -> Company:
    """Two reps in teams North and South; the leads above (owned alternately), their pushes, and three routing
    decisions (two on day 1, one of them appealed; one on day 2)."""
    company = Company()
    for name in ("North", "South"):
        company.reps[name] = make_user(session, username=f"rep_{name.lower()}", team=make_team(session, name=name))
    for i, spec in enumerate(LEADS):
        company.leads.append(add_lead(session, spec, company.reps["North" if i % 2 == 0 else "South"]))
    north, south = company.reps["North"], company.reps["South"]
    appealed = decision(session, company.leads[0], north, at(D1, 10))
    decision(session, company.leads[1], south, at(D1, 10))
    decision(session, company.leads[5], north, at(D2, 10))
    session.add(Appeal(decision_id=appealed.id, lead_id=company.leads[0].id, appellant_id=south.id,
                       team_id=south.team_id, reason_code="other", created_at=at(D1, 15)))
    sms(session, company.leads[6], south, at(D2, 10))
    session.flush()
    return company


def add_lead(session: Session, spec: LeadSpec, owner: User, hour: float = 10) -> Lead:
    created = at(spec.day, hour)
    lead = Lead(source=spec.channel, external_id=f"L-{spec.day}-{hour}-{id(spec)}", company="Acme",
                owner_id=owner.id, created_at=created, assigned_at=created,
                status=LeadStatus.CONVERTED if spec.converted_after_days is not None else LeadStatus.ASSIGNED,
                first_response_at=created + timedelta(hours=spec.response_hours) if spec.response_hours else None,
                closed_at=created + timedelta(days=spec.converted_after_days)
                if spec.converted_after_days is not None else None, score=50)
    session.add(lead)
    session.flush()
    if spec.push is not None:
        platform, version, delivered = spec.push
        push(session, lead, owner, created, platform, version, delivered)
    return lead


def push(session: Session, lead: Lead, owner: User, sent: datetime, platform: str, version: str,
         delivered: bool) -> Notification:
    note = Notification(kind="lead_assigned", recipient_id=owner.id, lead_id=lead.id, channel="app_push",
                        platform=platform, app_version=version, idempotency_key=f"push-{lead.id}-{sent.timestamp()}",
                        status=NotificationStatus.DELIVERED if delivered else NotificationStatus.FAILED,
                        created_at=sent, sent_at=sent, delivered_at=sent + timedelta(seconds=30) if delivered else None)
    session.add(note)
    return note


def sms(session: Session, lead: Lead, owner: User, sent: datetime) -> None:
    session.add(Notification(kind="lead_assigned", recipient_id=owner.id, lead_id=lead.id, channel="sms",
                             idempotency_key=f"sms-{lead.id}", status=NotificationStatus.DELIVERED, created_at=sent,
                             sent_at=sent, delivered_at=sent + timedelta(seconds=5)))


def decision(session: Session, lead: Lead, rep: User, made: datetime) -> RoutingDecision:
    found = RoutingDecision(lead_id=lead.id, kind="intake", outcome="assigned", rep_id=rep.id, pool_id="default",
                            policy_version=1, latency_us=1500, audit_seq=0, created_at=made)
    session.add(found)
    session.flush()
    return found


def stored(session: Session, kpi: str | None = None) -> list[tuple[Any, ...]]:
    """Every stored point (of one KPI) as (kpi, dimension, value, day, n, x, x2, v, by_age), in order."""
    stmt = select(KpiPoint.kpi, KpiPoint.dimension, KpiPoint.value, KpiPoint.day, KpiPoint.n, KpiPoint.x,
                  KpiPoint.x2, KpiPoint.v, KpiPoint.by_age)
    if kpi is not None:
        stmt = stmt.where(KpiPoint.kpi == kpi)
    return [tuple(r) for r in session.execute(stmt.order_by(KpiPoint.kpi, KpiPoint.dimension, KpiPoint.value,
                                                             KpiPoint.day))]


def ages(*counts: tuple[int, int]) -> list[int]:
    """A cumulative by-age list of H + 1 entries: (age, events at that age) pairs."""
    out = [0] * (H + 1)
    for age, count in counts:
        for a in range(age, H + 1):
            out[a] += count
    return out


def day(number: int) -> date:
    return DAY1 + timedelta(days=number - D1)


@pytest.fixture
def refreshed(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        build(session)
        service.save(session, DOCUMENT, author=None, note="test KPIs")
    with session_scope(engine) as session:
        service.refresh(session, until=day(D3), now=NOW)
    return engine


def expect(session: Session, kpi: str, rows: list[tuple[Any, ...]]) -> None:
    found = stored(session, kpi)
    wanted = sorted((kpi, *row[:2], day(row[2]), *row[3:]) for row in rows)
    assert [r[:4] for r in found] == [w[:4] for w in wanted]
    for got, want in zip(found, wanted, strict=True):
        assert got[4:8] == pytest.approx(want[4:8]), got
        assert got[8] == want[8], got


def test_the_leads_count_per_day_and_channel(refreshed: Engine) -> None:
    with session_scope(refreshed, readonly=True) as session:
        expect(session, "volume", [
            ("", "", D1, 5, 5, 5, 5, None), ("", "", D2, 5, 5, 5, 5, None), ("", "", D3, 2, 2, 2, 2, None),
            ("channel", "baidu_ads", D1, 2, 2, 2, 2, None), ("channel", "baidu_ads", D2, 3, 3, 3, 3, None),
            ("channel", "baidu_ads", D3, 1, 1, 1, 1, None), ("channel", "website", D1, 3, 3, 3, 3, None),
            ("channel", "website", D2, 2, 2, 2, 2, None), ("channel", "website", D3, 1, 1, 1, 1, None)])


def test_conversion_counts_within_the_horizon_by_age_and_client(refreshed: Engine) -> None:
    with session_scope(refreshed, readonly=True) as session:
        expect(session, "conversion", [
            ("", "", D1, 5, 1, 1, 0.2, ages((2, 1))), ("", "", D2, 5, 2, 2, 0.4, ages((0, 1), (21, 1))),
            ("", "", D3, 2, 0, 0, 0.0, ages()),
            ("channel", "baidu_ads", D1, 2, 0, 0, 0.0, ages()),
            ("channel", "baidu_ads", D2, 3, 1, 1, 1 / 3, ages((21, 1))),
            ("channel", "baidu_ads", D3, 1, 0, 0, 0.0, ages()),
            ("channel", "website", D1, 3, 1, 1, 1 / 3, ages((2, 1))),
            ("channel", "website", D2, 2, 1, 1, 0.5, ages((0, 1))),
            ("channel", "website", D3, 1, 0, 0, 0.0, ages()),
            # the client is the first push's; leads without one are ""
            ("client", "", D2, 5, 2, 2, 0.4, ages((0, 1), (21, 1))), ("client", "", D3, 2, 0, 0, 0.0, ages()),
            ("client", "android 3.2.0", D1, 3, 1, 1, 1 / 3, ages((2, 1))),
            ("client", "ios 3.1.4", D1, 2, 0, 0, 0.0, ages())])


def test_response_means_and_quantiles_leave_out_leads_without_a_response(refreshed: Engine) -> None:
    with session_scope(refreshed, readonly=True) as session:
        expect(session, "response_mean", [
            ("", "", D1, 4, 10, 30, 2.5, None), ("", "", D2, 5, 14, 74.5, 2.8, None), ("", "", D3, 1, 6, 36, 6, None),
            ("channel", "baidu_ads", D1, 1, 4, 16, 4, None), ("channel", "baidu_ads", D2, 3, 12, 72, 4, None),
            ("channel", "website", D1, 3, 6, 14, 2, None), ("channel", "website", D2, 2, 2, 2.5, 1, None),
            ("channel", "website", D3, 1, 6, 36, 6, None)])
        # p90 of [1, 2, 3, 4] is 3.7, of [0.5, 1.5, 2, 2, 8] 5.6; a cell of one row has no value (min_n 2)
        expect(session, "response_p90", [
            ("", "", D1, 4, 10, 30, 3.7, None), ("", "", D2, 5, 14, 74.5, 5.6, None),
            ("", "", D3, 1, 6, 36, None, None),
            ("channel", "baidu_ads", D1, 1, 4, 16, None, None), ("channel", "baidu_ads", D2, 3, 12, 72, 6.8, None),
            ("channel", "website", D1, 3, 6, 14, 2.8, None), ("channel", "website", D2, 2, 2, 2.5, 1.4, None),
            ("channel", "website", D3, 1, 6, 36, None, None)])


def test_delivery_and_appeals(refreshed: Engine) -> None:
    with session_scope(refreshed, readonly=True) as session:
        expect(session, "delivery", [
            ("", "", D1, 5, 4, 4, 0.8, None), ("", "", D2, 1, 1, 1, 1.0, None),
            ("client", "", D2, 1, 1, 1, 1.0, None),  # the SMS has no client
            ("client", "android 3.2.0", D1, 3, 2, 2, 2 / 3, None), ("client", "ios 3.1.4", D1, 2, 2, 2, 1.0, None)])
        expect(session, "appeals", [
            ("", "", D1, 2, 1, 1, 0.5, None), ("", "", D2, 1, 0, 0, 0.0, None),
            ("team", "North", D1, 1, 1, 1, 1.0, None), ("team", "North", D2, 1, 0, 0, 0.0, None),
            ("team", "South", D1, 1, 0, 0, 0.0, None)])


def test_a_series_fills_the_days_without_rows(refreshed: Engine) -> None:
    with session_scope(refreshed, readonly=True) as session:
        volume = service.series(session, "volume", day(D1) - timedelta(days=1), day(D3) + timedelta(days=1),
                                "channel", "website")
        conversion = service.cells(session, "conversion", "channel", day(D1), day(D3))
    assert volume.days.tolist() == list(range(D1 - 1, D3 + 2))
    assert volume.n.tolist() == [0, 3, 2, 1, 0] and volume.v.tolist() == [0, 3, 2, 1, 0]  # a count is 0, not missing
    assert sorted(conversion) == ["baidu_ads", "website"]
    website = conversion["website"]
    assert website.x.tolist() == [1, 1, 0] and website.v.tolist() == pytest.approx([1 / 3, 0.5, 0.0])
    assert website.by_age is not None and website.by_age.shape == (3, H + 1)
    assert website.by_age[0].tolist() == ages((2, 1))


# --- the pure core ---------------------------------------------------------------------------------------------------


def facts(n: int, seed: int = 3) -> Facts:
    rng = np.random.default_rng(seed)
    return Facts("leads", rng.integers(0, 4, n).astype(np.int64), {
        "channel": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        "first_response_hours": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(3, n)),
        "converted": rng.random(n) < 0.3, "converted_day": rng.integers(0, 40, n).astype(np.float64)})


def test_quantiles_are_numpys_and_a_filter_keeps_its_rows() -> None:
    rows = facts(2000)
    kpi = Kpi("p", "P", "P", "leads", "quantile", measure="first_response_hours", q=0.37, dimensions=("channel",),
              where={"channel": ("a", "c")})
    found = points(kpi, rows, 0, 3)
    hours, channel = rows.columns["first_response_hours"], rows.columns["channel"]
    for i in range(len(found)):
        keep = (rows.day == found.day[i]) & ~np.isnan(hours) & np.isin(channel, ["a", "c"])
        if found.dimension[i]:
            keep &= channel == found.value[i]
        assert found.n[i] == keep.sum() and found.v[i] == np.quantile(hours[keep], 0.37)
    assert set(found.value.tolist()) == {"", "a", "c"}


def test_a_horizon_rate_counts_each_conversion_at_its_age() -> None:
    rows = facts(500)
    kpi = Kpi("c", "C", "C", "leads", "rate", numerator="converted", horizon_days=7)
    found = points(kpi, rows, 0, 3)
    age = rows.columns["converted_day"] - rows.day
    for i in range(len(found)):
        today = rows.day == found.day[i]
        expected = [int((today & rows.columns["converted"] & (np.maximum(age, 0) <= a)).sum()) for a in range(8)]
        assert found.by_age is not None and found.by_age[i].tolist() == expected
        assert found.x[i] == expected[-1] and found.v[i] == expected[-1] / today.sum()


def test_days_worked_leave_out_the_holidays_and_read_each_cohort_where_it_had_worked_that_long() -> None:
    """Days 10–12 are off. A cohort of day 8 has worked 1 day by day 9 and still 1 by day 12; by day 14 it has worked
    3. Its numerator by 2 days worked is the one it had on day 13, its second working day after it."""
    worked = DaysWorked.over(5, 30, DaysOff(holidays=frozenset({10, 11, 12})))
    assert worked.age(np.array([8, 8, 8, 8]), np.array([0, 1, 4, 6])).tolist() == [0, 1, 1, 3]
    assert worked.age(np.array([20]), np.array([5])).tolist() == [5]  # no day off between
    by_age = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]], float)  # one more each calendar day
    aligned = worked.aligned(np.array([8, 20]), by_age)
    assert aligned[0].tolist() == [0, 1, 5, 6, 7, 7, 7, 7]  # day 9, then 13, 14, 15; past day 15 its horizon is over
    assert aligned[1].tolist() == by_age[1].tolist()
    assert DaysWorked.over(5, 30).aligned(np.array([8]), by_age)[0].tolist() == by_age[0].tolist()
