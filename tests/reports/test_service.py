"""The fairness report from the database, on SQLite and PostgreSQL: routed leads, historical leads without
a routing decision, visibility, exports over the API, and posting the report to a team."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.kit.clock import local
from evenhand.models import (
    Appeal,
    AppealStatus,
    AuditEntry,
    Channel,
    Lead,
    Notification,
    Opportunity,
    RoutingDecision,
    RoutingPolicyVersion,
    Stage,
)
from evenhand.reports import service
from evenhand.reports.monthly import FairnessReport, Month
from evenhand.routing import policy_versions, router
from tests.reports.company import Company, build, intake, march_history
from tests.support import error_of, row_counts

ZONE = ZoneInfo("Asia/Shanghai")
MARCH = Month(2026, 3)


@pytest.fixture
def company(engine: Engine) -> Company:
    return build(engine)


def report(engine: Engine, month: Month, **kwargs: object) -> FairnessReport:
    with session_scope(engine, readonly=True) as session:
        return service.build(session, month=month, zone=ZONE, principal=None, **kwargs)  # type: ignore[arg-type]


def routed_month(engine: Engine, company: Company, count: int) -> tuple[Month, list[RoutingDecision]]:
    """``count`` east leads routed on intake now; the first one becomes a deal its rep won, and is appealed."""
    with session_scope(engine) as session:
        leads = [intake(session, n) for n in range(count)]
        decisions = list(session.scalars(select(RoutingDecision).order_by(RoutingDecision.id)))
        first = decisions[0]
        session.add(Opportunity(name="首单", lead_id=leads[0].id, owner_id=first.rep_id, stage=Stage.WON,
                                amount=Decimal("1000")))
        session.add(Appeal(decision_id=first.id, lead_id=first.lead_id, appellant_id=first.rep_id,
                           team_id=company.east, reason_code="wrong_industry", status=AppealStatus.UPHELD,
                           created_at=first.created_at, decided_at=first.created_at + timedelta(hours=2)))
    return Month.of(local(decisions[0].created_at, ZONE).date()), decisions


def test_routed_leads_are_measured_against_the_recorded_decisions(engine: Engine, company: Company) -> None:
    month, decisions = routed_month(engine, company, 15)
    assert {d.outcome for d in decisions} == {"assigned"} and len(decisions) == 15
    east = report(engine, month, team_id=company.east).teams[0]
    rows = {r.username: r for r in east.reps}
    assert set(rows) == {"wangfang", "liming", "zhaolei"}  # supervisors carry no leads here
    assert [rows[u].leads for u in ("wangfang", "liming", "zhaolei")] == [5, 5, 5]  # strict round robin
    assert all(r.expected == pytest.approx(5.0) and r.evidence == "routing" for r in east.reps)
    assert (east.routed, east.unrouted, east.evidence) == (15, 0, "routing")
    assert east.chi_square is not None and east.chi_square.statistic == pytest.approx(0.0)
    assert east.chi_square.p_value == pytest.approx(1.0) and east.verdict == "consistent"
    winner = next(r for r in east.reps if r.rep_id == decisions[0].rep_id)
    assert (winner.won, winner.conversion_rate) == (1, pytest.approx(1 / 5))
    assert east.appeals.filed == 1 and east.appeals.by_status["upheld"] == 1
    assert east.appeals.median_hours_to_decision == pytest.approx(2.0)


def test_a_lead_reassigned_in_the_month_counts_once_for_its_last_owner(engine: Engine, company: Company) -> None:
    month, decisions = routed_month(engine, company, 6)
    with session_scope(engine) as session:
        lead = session.get(Lead, decisions[0].lead_id)
        assert lead is not None
        again = router.route(session, lead, kind="reassign")
        final_owner = again.rep_id
    east = report(engine, month, team_id=company.east).teams[0]
    assert (east.leads, east.routed) == (6, 6)
    assert sum(r.expected for r in east.reps) == pytest.approx(6.0)
    got = {r.rep_id: r.leads for r in east.reps}
    before = {r: sum(d.rep_id == r for d in decisions) for r in got}
    assert got[final_owner] == before[final_owner] + (final_owner != decisions[0].rep_id)


def test_history_without_decisions_is_measured_against_an_equal_share(engine: Engine, company: Company) -> None:
    march_history(engine, company)
    teams = {t.name: t for t in report(engine, MARCH).teams}
    east = teams["华东组"]
    rows = {r.username: r for r in east.reps}
    assert (east.evidence, east.routed, east.unrouted, east.leads) == ("equal_share", 0, 5, 5)
    assert [rows[u].leads for u in ("wangfang", "liming", "zhaolei")] == [4, 1, 0]  # 04-01 00:30 is April
    assert rows["wangfang"].expected == pytest.approx(1 / 3 + 1 / 2 + 1 / 2 + 1 / 2 + 1 / 2)
    assert rows["liming"].expected == pytest.approx(1 / 3 + 1 / 2 + 1 / 2 + 1 / 2)  # on leave 03-05
    assert rows["zhaolei"].expected == pytest.approx(1 / 3 + 1 / 2)  # left 03-10
    assert (east.high_value, rows["wangfang"].high_value, rows["liming"].high_value_share) == (2, 1, 0.5)
    assert {r.evidence for r in east.reps} == {"equal_share"}
    assert teams["华南组"].leads == 1 and teams["华南组"].reps[0].expected == pytest.approx(1.0)


def test_conversion_counts_deals_the_receiving_rep_won(engine: Engine, company: Company) -> None:
    march_history(engine, company)
    with session_scope(engine) as session:
        leads = {lead.external_id: lead for lead in session.scalars(select(Lead))}
        u = company.users
        session.add_all([Opportunity(name="赢", lead_id=leads["H0"].id, owner_id=u["wangfang"], stage=Stage.WON),
                         Opportunity(name="输", lead_id=leads["H1"].id, owner_id=u["wangfang"], stage=Stage.LOST),
                         Opportunity(name="他人", lead_id=leads["H2"].id, owner_id=u["wangfang"], stage=Stage.WON)])
    rows = {r.username: r for r in report(engine, MARCH, team_id=company.east).teams[0].reps}
    assert (rows["wangfang"].won, rows["wangfang"].conversion_rate) == (1, pytest.approx(1 / 4))
    assert rows["liming"].won == 0  # H2 went to liming, but wangfang won it


def test_the_report_reads_the_active_policy_and_writes_nothing(engine: Engine) -> None:
    before = row_counts(engine)
    with session_scope(engine, readonly=True) as session:
        note = service.policy_note(session)
    assert (note.version, note.threshold) == (None, 80)
    assert row_counts(engine) == before
    with session_scope(engine) as session:
        policy_versions.save(session, "name: 七十五分\nthreshold_high_value: 75\npools:\n  - id: all\n", author=None)
    with session_scope(engine, readonly=True) as session:
        note = service.policy_note(session)
        assert (note.name, note.version, note.threshold) == ("七十五分", session.scalar(
            select(RoutingPolicyVersion.version).where(RoutingPolicyVersion.active.is_(True))), 75)


class TestApi:
    def test_visibility_follows_the_teams(self, client: TestClient, company: Company, engine: Engine) -> None:
        march_history(engine, company)

        def teams(who: str, **params: object) -> list[str]:
            response = client.get("/api/v1/reports/fairness", params={"month": "2026-03", **params},
                                  headers=company.tokens[who])
            assert response.status_code == 200, response.text
            return [t["name"] for t in response.json()["teams"]]

        assert teams("ops") == teams("auditor") == ["华东组", "华南组"]
        assert teams("boss_e") == teams("wangfang") == ["华东组"]
        assert teams("boss_s") == teams("sunli") == ["华南组"]
        other = client.get("/api/v1/reports/fairness", params={"month": "2026-03", "team_id": company.south},
                           headers=company.tokens["wangfang"])
        assert other.status_code == 404 and error_of(other)["field"] == "team_id"

    def test_the_json_carries_the_figures(self, client: TestClient, company: Company, engine: Engine) -> None:
        march_history(engine, company)
        body = client.get("/api/v1/reports/fairness", params={"month": "2026-03", "team_id": company.east},
                          headers=company.tokens["boss_e"]).json()
        assert body["month"] == "2026-03" and body["policy"]["threshold"] == 80 and body["zone"] == "Asia/Shanghai"
        team = body["teams"][0]
        assert (team["evidence"], team["verdict"], team["chi_square"]) == ("equal_share", "too_few", None)
        wang = next(r for r in team["reps"] if r["username"] == "wangfang")
        assert wang["leads"] == 4 and wang["evidence"] == "equal_share" and wang["actual_share"] == 0.8

    def test_a_rep_reads_appeal_counts_but_only_their_own_appeals(self, client: TestClient, company: Company,
                                                                 engine: Engine) -> None:
        month, decisions = routed_month(engine, company, 3)
        appellant = decisions[0].rep_id
        names = {v: k for k, v in company.users.items()}
        other = next(n for n in ("wangfang", "liming", "zhaolei") if company.users[n] != appellant)

        def appeals(who: str) -> tuple[int, int]:
            team = client.get("/api/v1/reports/fairness", params={"month": month.label},
                              headers=company.tokens[who]).json()["teams"][0]
            return team["appeals"]["filed"], len(team["appeal_rows"])

        assert appeals(names[appellant]) == (1, 1)
        assert appeals(other) == (1, 0)
        assert appeals("boss_e") == (1, 1)

    @pytest.mark.parametrize("month", ["2026-3", "2026-13", "March", "2999-01"])
    def test_bad_months_are_refused_naming_the_field(self, client: TestClient, company: Company,
                                                     month: str) -> None:
        response = client.get("/api/v1/reports/fairness", params={"month": month}, headers=company.tokens["ops"])
        assert response.status_code == 422 and error_of(response)["field"] == "month"

    def test_exports_download_with_a_filename(self, client: TestClient, company: Company, engine: Engine) -> None:
        march_history(engine, company)
        headers = {**company.tokens["ops"], "Accept-Language": "zh-CN"}

        def get(fmt: str) -> bytes:
            response = client.get("/api/v1/reports/fairness/export", params={"month": "2026-03", "format": fmt},
                                  headers=headers)
            assert response.status_code == 200, response.text
            assert response.headers["content-disposition"] == f'attachment; filename="fairness-2026-03.{fmt}"'
            return response.content

        rows = list(csv.reader(io.StringIO(get("csv").decode("utf-8-sig"))))
        assert rows[0][2] == "销售代表" and [r[2] for r in rows[1:]] == ["李明", "王芳", "赵磊", "孙丽"]
        book = load_workbook(io.BytesIO(get("xlsx")))
        assert book.sheetnames == ["销售", "团队", "申诉"] and book["团队"].max_row == 3
        assert get("pdf").startswith(b"%PDF")
        assert "王芳" in get("html").decode("utf-8")
        bad = client.get("/api/v1/reports/fairness/export", params={"month": "2026-03", "format": "doc"},
                         headers=headers)
        assert bad.status_code == 422

    def test_publish_notifies_the_team_once_and_is_audited(self, client: TestClient, company: Company,
                                                           engine: Engine) -> None:
        march_history(engine, company)
        body = {"month": "2026-03", "team_id": company.east}
        first = client.post("/api/v1/reports/fairness/publish", json=body, headers=company.tokens["boss_e"])
        assert first.status_code == 200, first.text
        assert first.json() | {"link": None} == {"team_id": company.east, "month": "2026-03", "recipients": 4,
                                                  "notified": 4, "link": None}
        again = client.post("/api/v1/reports/fairness/publish", json=body, headers=company.tokens["ops"])
        assert (again.status_code, again.json()["notified"]) == (200, 0)
        with session_scope(engine, readonly=True) as session:
            inbox = list(session.scalars(select(Notification).where(Notification.kind == "fairness_report",
                                                                     Notification.channel == Channel.IN_APP)))
            entries = list(session.scalars(select(AuditEntry).where(
                AuditEntry.action == "reports.fairness_published").order_by(AuditEntry.seq)))
        u = company.users
        assert sorted(n.recipient_id for n in inbox) == sorted([u["wangfang"], u["liming"], u["zhaolei"], u["boss_e"]])
        assert all(n.link == f"/reports/fairness?month=2026-03&team={company.east}" for n in inbox)
        assert "2026-03" in inbox[0].title and "华东组" in inbox[0].title
        assert [(e.actor_id, e.payload["notified"], e.payload["leads"]) for e in entries] == [
            (u["boss_e"], 4, 5), (u["ops"], 0, 5)]

    @pytest.mark.parametrize("who", ["wangfang", "boss_s", "auditor"])
    def test_only_the_teams_supervisor_or_staff_publish(self, client: TestClient, company: Company,
                                                        engine: Engine, who: str) -> None:
        before = row_counts(engine)
        response = client.post("/api/v1/reports/fairness/publish", json={"month": "2026-03", "team_id": company.east},
                               headers=company.tokens[who])
        assert response.status_code == 403
        assert row_counts(engine) == before


def test_months_after_this_one_are_refused() -> None:
    with pytest.raises(Invalid) as caught:
        service.parse_month("2026-12", zone=ZONE, now=datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert caught.value.field == "month"
    # 16:00 UTC on 11-30 is already December in Shanghai
    assert service.parse_month("2026-12", zone=ZONE, now=datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == Month(2026, 12)
