"""The incremental refresh: after new and changed rows in every source it stores the very points a full rebuild
stores, recomputing only from the first day that changed; ``until`` ends the series and a later refresh takes up
from there; a new version of the definitions rebuilds everything (a KPI added by configuration gets its series);
the command and the endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.models import (
    Alert,
    AlertStatus,
    Appeal,
    KpiWatermark,
    Lead,
    LeadStatus,
    Opportunity,
    Role,
    RoutingDecision,
    Stage,
    StageChange,
    User,
)
from evenhand.monitor import service
from evenhand.monitor.series import day_date
from tests.builders import make_user, token_for
from tests.monitor.test_series import (
    D1,
    D2,
    D3,
    DOCUMENT,
    NOW,
    LeadSpec,
    add_lead,
    build,
    day,
    push,
    stored,
)
from tests.monitor.test_sources import extras
from tests.support import Run

FIRST = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)  # the first refresh: the day after D3, noon local
SECOND = FIRST + timedelta(days=1)
CONFIGURED = """\
  - id: website_conversion
    name: {en: Website conversion, zh: 官网线索转化率}
    source: leads
    kind: rate
    numerator: converted
    horizon_days: 21
    where: {channel: [website]}
    good: up
    unit: share
    dimensions: [team]
    min_n: 1
"""


def points_after(engine: Engine, **refresh: Any) -> tuple[service.Refreshed, list[tuple[Any, ...]]]:
    with session_scope(engine) as session:
        result = service.refresh(session, **refresh)
    with session_scope(engine, readonly=True) as session:
        return result, stored(session)


def later_rows(session: Session) -> None:
    """What happens after the first refresh, in every source: a new lead, an old lead converted, a push for an old
    lead, an appeal of an old decision, an alert resolved, a deal moving on."""
    first = session.scalars(select(Lead).order_by(Lead.id)).first()
    assert first is not None
    owner = session.get(User, first.owner_id)
    assert owner is not None
    add_lead(session, LeadSpec(D3 + 1, "website", 1.0, None, ("android", "3.2.1", False)), owner, hour=14)
    old = session.scalars(select(Lead).where(Lead.source == "baidu_ads").order_by(Lead.id.desc())).first()
    assert old is not None
    old.status, old.closed_at = LeadStatus.CONVERTED, SECOND - timedelta(hours=3)
    push(session, old, owner, FIRST + timedelta(hours=1), "ios", "3.2.1", True)
    unappealed = session.scalars(select(RoutingDecision).order_by(RoutingDecision.id)).all()[1]
    session.add(Appeal(decision_id=unappealed.id, lead_id=unappealed.lead_id, appellant_id=owner.id,
                       reason_code="other", created_at=FIRST + timedelta(hours=2)))
    alert = session.scalars(select(Alert)).one()
    alert.status, alert.resolved_at = AlertStatus.RESOLVED, FIRST + timedelta(hours=2)
    deal = session.scalars(select(Opportunity)).one()
    deal.stage = Stage.NEGOTIATION
    session.add(StageChange(opportunity_id=deal.id, from_stage=Stage.PROPOSAL, to_stage=Stage.NEGOTIATION,
                            changed_at=FIRST + timedelta(hours=3)))
    session.flush()


@pytest.fixture
def company(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        extras(session, build(session))
    return engine


def test_an_incremental_refresh_stores_what_a_full_rebuild_does(company: Engine) -> None:
    first, before = points_after(company, now=FIRST)
    assert first.full and first.recomputed["leads"] == day(D1) and len(before) > 100
    with session_scope(company) as session:
        later_rows(session)
    second, incremental = points_after(company, now=SECOND)
    assert not second.full
    assert second.recomputed["leads"] == day(D2)  # the lead converted was created on D2
    assert second.recomputed["notifications"] == day(D3 + 1)
    assert second.recomputed["stage_exits"] == day(D3 + 1)
    assert second.recomputed["alerts"] == day(D2)
    assert second.recomputed["decisions"] == day(D1)
    assert second.recomputed["compliance"] == day(D3 + 1)
    rebuilt, full = points_after(company, now=SECOND, full=True)
    assert rebuilt.full and incremental == full
    assert incremental != before


def test_nothing_changed_nothing_recomputed(company: Engine) -> None:
    points_after(company, now=NOW)
    again, _ = points_after(company, now=NOW + timedelta(minutes=30))
    # compliance is judged as of the refresh: its last day is computed again
    assert {s: d for s, d in again.recomputed.items() if d is not None} == {"compliance": NOW.date()}
    assert again.points == 0


def test_until_ends_the_series_and_a_later_refresh_takes_up_from_there(company: Engine) -> None:
    points_after(company, now=FIRST)
    cut, until_d2 = points_after(company, until=day(D2), now=FIRST)
    assert cut.last == day(D2) and max(p[3] for p in until_d2) == day(D2)
    with session_scope(company, readonly=True) as session:
        assert service.last_day(session) == day(D2)
        marks = {w.source: w.seen_until for w in session.scalars(select(KpiWatermark))}
    assert marks["leads"] == datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # the end of D2 in Shanghai
    resumed, incremental = points_after(company, now=FIRST)
    assert resumed.recomputed["leads"] == day(D1)  # its lead converted on D3, after the cut
    assert resumed.recomputed["alerts"] == day(D2)  # resolved on D3
    _, full = points_after(company, now=FIRST, full=True)
    assert incremental == full


def test_new_definitions_rebuild_and_a_configured_kpi_gets_its_series(company: Engine) -> None:
    points_after(company, now=FIRST)
    with session_scope(company) as session:
        service.save(session, DOCUMENT + CONFIGURED, author=None, note="website conversion")
    result, after = points_after(company, now=FIRST)
    assert result.full and {p[0] for p in after} == {"volume", "conversion", "response_mean", "response_p90",
                                                     "delivery", "appeals", "website_conversion"}
    website = [p[1:8] for p in after if p[0] == "website_conversion"]
    # D1: three website leads, one converted two days on; D2: two, one the same day (the other after the horizon)
    assert website == [("", "", day(D1), 3, 1, 1, pytest.approx(1 / 3)), ("", "", day(D2), 2, 1, 1, 0.5),
                       ("", "", day(D3), 1, 0, 0, 0.0), ("team", "North", day(D1), 2, 1, 1, 0.5),
                       ("team", "North", day(D2), 1, 0, 0, 0.0), ("team", "North", day(D3), 1, 0, 0, 0.0),
                       ("team", "South", day(D1), 1, 0, 0, 0.0), ("team", "South", day(D2), 1, 1, 1, 1.0)]


def test_the_refresh_command(company: Engine, run: Run) -> None:
    import json

    result = run("monitor", "refresh", "--until", day_date(D3 + 1).isoformat(), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["full"] and answer["last"] == "2026-03-05" and answer["points"] > 100
    again = run("monitor", "refresh", "--until", "2026-03-05")
    assert again.exit_code == 0 and "series through 2026-03-05" in again.stdout
    assert run("monitor", "refresh", "--until", "5 March").exit_code == 1


def test_the_kpi_endpoints(company: Engine, client: TestClient) -> None:
    with session_scope(company) as session:
        ops = token_for(session, make_user(session, username="ops_kpi", role=Role.OPS))
        rep = token_for(session, make_user(session, username="rep_kpi"))
    headers = {"Authorization": f"Bearer {ops}"}
    before = client.get("/api/v1/monitor/kpis", headers=headers).json()
    assert [k["id"] for k in before][:2] == ["lead_volume", "lead_conversion"] and before[0]["latest"] is None
    with session_scope(company) as session:
        service.refresh(session, until=day(D3), now=FIRST)
    listed = {k["id"]: k for k in client.get("/api/v1/monitor/kpis", headers=headers).json()}
    assert listed["lead_volume"]["latest"] == {"day": "2026-03-04", "n": 2.0, "v": 2.0}
    assert listed["lead_conversion"]["alert_below"] == 0.08 and listed["lead_conversion"]["name"] == "线索转化率"
    english = client.get("/api/v1/monitor/kpis", headers={**headers, "Accept-Language": "en"}).json()
    assert english[1]["name"] == "Lead conversion"
    series = client.get("/api/v1/monitor/kpis/lead_volume/series", headers=headers,
                        params={"first": "2026-03-01", "last": "2026-03-04", "dimension": "channel",
                                "value": "website"}).json()
    assert series["days"] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert series["n"] == [0, 3, 2, 1] and series["by_age"] is None
    conversion = client.get("/api/v1/monitor/kpis/lead_conversion/series", headers=headers,
                            params={"first": "2026-03-02", "last": "2026-03-03"}).json()
    assert conversion["v"] == [0.2, 0.4] and conversion["by_age"][0] == [0, 0] + [1] * 20
    wrong = client.get("/api/v1/monitor/kpis/lead_volume/series", headers=headers, params={"dimension": "colour"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "dimension"
    backwards = client.get("/api/v1/monitor/kpis/lead_volume/series", headers=headers,
                           params={"first": "2026-03-04", "last": "2026-03-01"})
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "first"
    assert client.get("/api/v1/monitor/kpis/nope/series", headers=headers).status_code == 404
    assert client.get("/api/v1/monitor/kpis", headers={"Authorization": f"Bearer {rep}"}).status_code == 403


def test_the_worker_refreshes_every_15_minutes_and_rebuilds_daily(company: Engine) -> None:
    from evenhand.monitor import tasks
    from evenhand.notify import jobs

    registered = {job.name: job.every_seconds for job in jobs.registered()}
    assert registered["monitor.refresh"] == 900 and registered["monitor.rebuild"] == 86400
    with session_scope(company) as session:
        tasks.refresh_series(session, FIRST)
    with session_scope(company) as session:
        later_rows(session)
        tasks.refresh_series(session, SECOND)
    with session_scope(company, readonly=True) as session:
        incremental = stored(session)
    with session_scope(company) as session:
        tasks.rebuild_series(session, SECOND)
    with session_scope(company, readonly=True) as session:
        assert stored(session) == incremental
