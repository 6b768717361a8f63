"""The fact sources: local day numbers in any zone (daylight saving included), and each source's bulk read giving
what the records say one by one (the ORM rows, and for compliance ``standards.service.for_lead``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.models import (
    Activity,
    ActivityType,
    Alert,
    AlertStatus,
    Direction,
    Lead,
    LeadStatus,
    Notification,
    Opportunity,
    SourceSystem,
    Stage,
    StageChange,
    User,
)
from evenhand.monitor import service
from evenhand.monitor.series import day_date
from evenhand.monitor.sources import event_days, local_days
from evenhand.standards import service as standards
from tests.builders import make_opportunity, make_product_line
from tests.monitor.test_series import D1, D2, D3, NOW, Company, at, build

ZONES = ("Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago", "UTC")
LAST = date(2026, 4, 19)
JUDGED = datetime(2026, 4, 19, 16, 0, tzinfo=UTC)  # the end of LAST in Shanghai, before NOW


@pytest.mark.parametrize("zone", ZONES)
def test_local_days_follow_the_zone_through_daylight_saving(zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = np.random.default_rng(11)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    moments = rng.integers(start, start + 2 * 365 * 86400, 20_000)
    # and every minute around each switch of the two years, where the offset changes inside an hour
    switches = [m for m in range(start, start + 2 * 365 * 86400, 1800)
                if datetime.fromtimestamp(m, tz).utcoffset() != datetime.fromtimestamp(m + 1800, tz).utcoffset()]
    near = np.array([s + d for s in switches for d in range(-3600, 5400, 60)], np.int64)
    moments = np.concatenate([moments, near])
    expected = [(datetime.fromtimestamp(m, tz).date() - date(1970, 1, 1)).days for m in moments.tolist()]
    assert local_days(moments, tz).tolist() == expected
    assert zone in ("Asia/Shanghai", "UTC") or switches


def test_event_days_keep_missing_instants_missing() -> None:
    days = event_days(np.array([np.nan, 0.0, 86400.0 - 8 * 3600]), ZoneInfo("Asia/Shanghai"))
    assert np.isnan(days[0]) and days[1:].tolist() == [0.0, 1.0]


def extras(session: Session, company: Company) -> None:
    """The first lead contacted as the standards ask (call, e-mail, note within hours), an alert, and a deal that
    moved qualification → needs analysis → proposal."""
    north = company.reps["North"]
    lead = company.leads[0]
    contacts = ((1, ActivityType.CALL, SourceSystem.TELEPHONY), (2, ActivityType.EMAIL, SourceSystem.OUTLOOK),
                (3, ActivityType.NOTE, SourceSystem.CRM))
    for hours, kind, system in contacts:
        session.add(Activity(type=kind, direction=Direction.OUTBOUND, source_system=system, external_id=f"A{hours}",
                             rep_id=north.id, lead_id=lead.id, occurred_at=lead.created_at + timedelta(hours=hours)))
    session.add(Alert(rule="late_first_response", entity_type="lead", entity_id=lead.id, rep_id=north.id,
                      status=AlertStatus.RESOLVED, rule_version=1, evidence={}, opened_at=at(D2, 12),
                      last_seen_at=at(D2, 12), resolved_at=at(D3, 9)))
    deal = make_opportunity(session, owner=north, stage=Stage.PROPOSAL, created_at=at(D1, 9),
                            product_line_id=make_product_line(session, name="营销云").id)
    for moved, before, after in ((at(D1, 9), None, Stage.QUALIFICATION),
                                 (at(D2, 9), Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS),
                                 (at(D3, 21), Stage.NEEDS_ANALYSIS, Stage.PROPOSAL)):
        session.add(StageChange(opportunity_id=deal.id, from_stage=before, to_stage=after, changed_at=moved))
    session.flush()


@pytest.fixture
def company(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        extras(session, build(session))
    return engine


def day_of(moment: datetime | None) -> float:
    if moment is None:
        return float("nan")
    return float((moment.astimezone(ZoneInfo("Asia/Shanghai")).date() - date(1970, 1, 1)).days)


def test_leads_read_in_bulk_are_the_leads(company: Engine) -> None:
    with session_scope(company, readonly=True) as session:
        facts = service.facts(session, "leads", first=None, last=LAST, now=NOW)
        leads = list(session.scalars(select(Lead).order_by(Lead.id)))
        owners = {u.id: u.display_name for u in session.scalars(select(User))}
        pushes = {n.lead_id: f"{n.platform} {n.app_version}" for n in reversed(list(session.scalars(
            select(Notification).where(Notification.channel == "app_push").order_by(Notification.id))))}
    c = facts.columns
    assert facts.day.tolist() == [day_of(lead.created_at) for lead in leads]
    assert c["channel"].tolist() == [lead.source for lead in leads]
    assert c["rep"].tolist() == [owners[lead.owner_id] for lead in leads if lead.owner_id]
    assert c["team"].tolist() == ["North", "South"] * 6
    assert c["client"].tolist() == [pushes.get(lead.id, "") for lead in leads]
    assert c["converted"].tolist() == [lead.status is LeadStatus.CONVERTED for lead in leads]
    hours = [(lead.first_response_at - lead.assigned_at).total_seconds() / 3600
             if lead.first_response_at and lead.assigned_at else np.nan for lead in leads]
    assert c["first_response_hours"].tolist() == pytest.approx(hours, nan_ok=True)
    assert c["converted_day"].tolist() == pytest.approx(
        [day_of(lead.closed_at) if lead.status is LeadStatus.CONVERTED else np.nan for lead in leads], nan_ok=True)
    assert c["arm"].tolist() == [""] * len(leads) and c["region"].tolist() == [""] * len(leads)


def test_notifications_decisions_alerts_and_stage_exits(company: Engine) -> None:
    with session_scope(company, readonly=True) as session:
        notes = service.facts(session, "notifications", first=None, last=LAST, now=NOW)
        decisions = service.facts(session, "decisions", first=None, last=LAST, now=NOW)
        alerts = service.facts(session, "alerts", first=None, last=LAST, now=NOW)
        exits = service.facts(session, "stage_exits", first=None, last=LAST, now=NOW)
    assert notes.columns["channel"].tolist() == ["app_push"] * 5 + ["sms"]
    assert notes.columns["client"].tolist() == ["android 3.2.0"] * 3 + ["ios 3.1.4"] * 2 + [""]
    assert notes.columns["delivered"].tolist() == [True, False, True, True, True, True]
    assert notes.columns["delivery_minutes"].tolist() == pytest.approx([0.5, np.nan, 0.5, 0.5, 0.5, 5 / 60],
                                                                      nan_ok=True)
    assert notes.day.tolist() == [D1] * 5 + [D2]
    assert decisions.day.tolist() == [D1, D1, D2] and decisions.columns["appealed"].tolist() == [True, False, False]
    assert decisions.columns["appealed_day"].tolist() == pytest.approx([D1, np.nan, np.nan], nan_ok=True)
    assert decisions.columns["latency_ms"].tolist() == [1.5] * 3
    assert alerts.day.tolist() == [D2] and alerts.columns["resolved_day"].tolist() == [D3]
    assert (alerts.columns["rule"].tolist(), alerts.columns["team"].tolist()) == (["late_first_response"], ["North"])
    assert exits.day.tolist() == [D2, D3]
    assert exits.columns["stage"].tolist() == ["qualification", "needs_analysis"]
    assert exits.columns["days_in_stage"].tolist() == [1.0, 1.5]
    assert exits.columns["product_line"].tolist() == ["营销云"] * 2


def test_a_range_reads_only_its_days(company: Engine) -> None:
    with session_scope(company, readonly=True) as session:
        later = service.facts(session, "leads", first=day_date(D2), last=day_date(D2), now=NOW)
        exits = service.facts(session, "stage_exits", first=day_date(D3), last=LAST, now=NOW)
    assert later.day.tolist() == [D2] * 5
    assert exits.day.tolist() == [D3] and exits.columns["days_in_stage"].tolist() == [1.5]  # entered before the range


def test_compliance_in_bulk_is_each_record_judged_alone(company: Engine) -> None:
    from evenhand.monitor.service import EVERYONE

    with session_scope(company, readonly=True) as session:
        facts = service.facts(session, "compliance", first=None, last=LAST, now=NOW)
        records = [standards.for_lead(session, EVERYONE, i, now=JUDGED) for i in session.scalars(select(Lead.id))]
        records += [standards.for_opportunity(session, EVERYONE, i, now=JUDGED)
                    for i in session.scalars(select(Opportunity.id))]
    one_by_one = [(day_of(e.result.deadline), e.result.stage, e.result.status.value == "met")
                  for record in records for e in record.entries]
    bulk = list(zip(facts.day.tolist(), facts.columns["stage"].tolist(), facts.columns["met"].tolist(), strict=True))
    assert sorted(bulk) == sorted(one_by_one)
    assert len(bulk) == 15 and sum(met for *_, met in bulk) == 1  # only the first lead was contacted as asked
    assert sorted(set(facts.columns["stage"].tolist())) == ["first_contact", "needs_analysis", "proposal",
                                                            "qualification"]
    assert set(facts.columns["team"].tolist()) == {"North", "South"}
