"""The full demo company (seed 7, ending 2026-11-27): sizes, and the patterns that must emerge from it.

The incident windows are read from the change log, the way a user of evenhand would find them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, Enum, Executable, Integer, String, Text, func, or_, select, text
from sqlalchemy.orm import Session

from evenhand.demo import DEMO_PASSWORD
from evenhand.demo.service import last_snapshot_day
from evenhand.kit import audit_check
from evenhand.kit.clock import as_utc
from evenhand.models import (
    Activity,
    Appeal,
    Base,
    BehaviourEvent,
    ChangeEntry,
    Contract,
    Department,
    HeldLead,
    Lead,
    Notification,
    Opportunity,
    Region,
    RoutingDecision,
    Team,
    User,
)
from evenhand.routing import policy_versions
from evenhand.routing import service as routing_service
from evenhand.routing.engine import escalation
from tests.demo.conftest import END, Built, build_into, disposing

pytestmark = pytest.mark.slow
HOUR = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
SNAPSHOT = datetime(END.year, END.month, END.day, 9, tzinfo=UTC)  # 17:00 in Shanghai


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    yield from disposing(build_into(tmp_path_factory, tmp_path_factory.mktemp("demo-full")))


@pytest.fixture(scope="module")
def engine(demo: Built) -> Engine:
    return demo.engine


@dataclass(frozen=True)
class Windows:
    upgrade: datetime
    fallback: datetime

    @property
    def before(self) -> tuple[datetime, datetime]:
        return self.upgrade - timedelta(weeks=8), self.upgrade

    @property
    def during(self) -> tuple[datetime, datetime]:
        return self.upgrade, self.fallback

    @property
    def after(self) -> tuple[datetime, datetime]:
        """Weeks 2–6 after the fallback (the first week holds the Mid-Autumn and National Day holidays)."""
        return self.fallback + timedelta(weeks=2), self.fallback + timedelta(weeks=6)


@pytest.fixture(scope="module")
def windows(engine: Engine) -> Windows:
    with engine.connect() as conn:
        upgrade = conn.scalar(select(ChangeEntry.effective_at).where(ChangeEntry.title.like("CRM 升级%")))
        fallback = conn.scalar(select(ChangeEntry.effective_at).where(ChangeEntry.title == "启用短信备用通道"))
    assert upgrade is not None and fallback is not None
    return Windows(upgrade, fallback)


def scalar(engine: Engine, stmt: Executable) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def rows(engine: Engine, stmt: Executable) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(stmt))


def scalar_list(engine: Engine, stmt: Executable) -> list[Any]:
    return [r[0] for r in rows(engine, stmt)]


def count(engine: Engine, source: Any, *where: Any) -> int:
    return int(scalar(engine, select(func.count()).select_from(source).where(*where)))


# --- size and shape -------------------------------------------------------------------------------


def test_row_minimums(engine: Engine) -> None:
    assert count(engine, Lead) >= 20_000
    assert count(engine, Opportunity) >= 3_000
    assert count(engine, Activity) >= 200_000
    assert count(engine, User, User.role == "rep") >= 40
    minimums = {"behaviour_events": 50_000, "notifications": 20_000, "stage_changes": 10_000, "accounts": 500,
                "contracts": 500, "payments": 500, "survey_responses": 500, "leaves": 10, "change_entries": 3}
    for table, least in minimums.items():
        assert int(scalar(engine, text(f"SELECT count(*) FROM {table}"))) >= least, table


def test_leads_come_from_several_channels_with_scores_and_trails(engine: Engine) -> None:
    sources = set(scalar_list(engine, select(Lead.source).distinct()))
    assert sources == {"website", "baidu_ads", "webinar", "trade_show", "partner", "referral"}
    assert scalar(engine, select(func.min(Lead.score))) >= 0 and scalar(engine, select(func.max(Lead.score))) <= 100
    kinds = set(scalar_list(engine, text("SELECT DISTINCT kind FROM behaviour_events")))
    assert kinds == {"page_view", "whitepaper_download", "webinar", "form_submit", "email_open", "email_click"}
    assert scalar(engine, text("SELECT min(dwell_seconds) FROM behaviour_events WHERE kind = 'page_view'")) > 0


def test_summary_matches_the_database(demo: Built) -> None:
    for table, n in demo.summary.counts.items():
        assert scalar(demo.engine, text(f"SELECT count(*) FROM {table}")) == n, table
    assert demo.summary.password == DEMO_PASSWORD
    assert ("admin", "admin") in {(a.username, a.role) for a in demo.summary.accounts}
    assert demo.summary.seconds > 0


def test_departments_regions_and_teams(engine: Engine) -> None:
    assert {"大客户部", "中小企业部", "渠道部"} <= set(scalar_list(engine, select(Department.name)))
    assert set(scalar_list(engine, select(Region.code))) == {"east", "south", "north", "central", "southwest"}
    teams = rows(engine, select(Team.id, User.role, User.team_id).join(User, User.id == Team.supervisor_id,
                                                                       isouter=True))
    assert len(teams) == 15
    assert all(role == "supervisor" and team == tid for tid, role, team in teams)


def test_people(engine: Engine) -> None:
    users = rows(engine, select(User.username, User.role, User.level, User.active, User.left_on, User.hired_on,
                                User.region_id))
    assert ("admin", "admin") in {(u[0], u[1]) for u in users}
    assert {"ops", "auditor", "supervisor", "rep"} <= {u[1] for u in users}
    assert all(u[0].isascii() for u in users)
    assert all(active == (left is None) for _, _, _, active, left, _, _ in users)
    reps = [u for u in users if u[1] == "rep"]
    assert sum(1 for u in reps if not u[3]) >= 3  # some left during the year
    assert sum(1 for u in reps if u[5] > END - timedelta(days=90)) >= 3  # new hires
    for region in range(1, 6):
        assert {u[2] for u in reps if u[6] == region} == {"junior", "senior"}
    assert scalar(engine, select(User.role).where(User.username == "wangqiang")) == "supervisor"


def test_presence_and_working_hours(engine: Engine) -> None:
    states = set(scalar_list(engine, select(User.presence).where(User.active)))
    assert states == {"online", "away", "offline"}
    hours = scalar(engine, select(User.working_hours).where(User.role == "rep").limit(1))
    assert hours["mon"] == [["09:00", "18:00"]] and hours["sat"] == []


def test_nothing_happens_after_the_snapshot(engine: Engine) -> None:
    for column in (Lead.created_at, Activity.occurred_at, Notification.sent_at, Opportunity.closed_at,
                   Contract.signed_at, RoutingDecision.created_at, Appeal.created_at, User.presence_since):
        assert scalar(engine, select(func.max(column))) <= SNAPSHOT


@pytest.mark.parametrize(("at", "day"), [
    (datetime(2026, 11, 27, 23, 24, tzinfo=UTC), date(2026, 11, 27)),  # 07:24 on the 28th in Shanghai
    (datetime(2026, 11, 28, 8, 59, tzinfo=UTC), date(2026, 11, 27)),  # 16:59
    (datetime(2026, 11, 28, 9, 0, tzinfo=UTC), date(2026, 11, 28)),  # 17:00: that day's snapshot has passed
    (datetime(2026, 11, 28, 15, 59, tzinfo=UTC), date(2026, 11, 28)),  # 23:59
])
def test_the_default_end_date_is_the_last_snapshot_already_passed(at: datetime, day: date) -> None:
    assert last_snapshot_day(at) == day
    assert as_utc(datetime.combine(day, time(17), tzinfo=ZoneInfo("Asia/Shanghai"))) <= at


# --- the incident ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFacts:
    created: np.ndarray  # epoch seconds
    response_hours: np.ndarray  # NaN where no first response
    converted: np.ndarray
    score: np.ndarray
    owner: np.ndarray  # 0 when unassigned

    def window(self, span: tuple[datetime, datetime]) -> np.ndarray:
        return (self.created >= span[0].timestamp()) & (self.created < span[1].timestamp())

    def mean_response(self, span: tuple[datetime, datetime]) -> float:
        return float(np.nanmean(self.response_hours[self.window(span)]))

    def conversion(self, span: tuple[datetime, datetime]) -> float:
        return float(self.converted[self.window(span)].mean())


@pytest.fixture(scope="module")
def leads(engine: Engine) -> LeadFacts:
    data = rows(engine, select(Lead.created_at, Lead.assigned_at, Lead.first_response_at, Lead.status, Lead.score,
                               Lead.owner_id))
    created = np.array([r[0].timestamp() for r in data])
    hours = np.array([(r[2] - r[1]) / HOUR if r[2] else np.nan for r in data])
    return LeadFacts(created, hours, np.array([r[3] == "converted" for r in data]), np.array([r[4] for r in data]),
                     np.array([r[5] or 0 for r in data]))


def push_failure_share(engine: Engine, span: tuple[datetime, datetime], *where: Any) -> float:
    stmt = select(func.avg(func.cast(Notification.status == "failed", type_=Integer()))).where(
        Notification.channel == "app_push", Notification.sent_at >= span[0], Notification.sent_at < span[1], *where)
    return float(scalar(engine, stmt))


def test_change_log_dates(windows: Windows) -> None:
    assert windows.upgrade.astimezone(SHANGHAI).date() == date(2026, 8, 15)
    assert timedelta(weeks=5) <= windows.fallback - windows.upgrade <= timedelta(weeks=6, days=3)


def test_first_response_slows_markedly_during_the_incident(leads: LeadFacts, windows: Windows) -> None:
    before, during = leads.mean_response(windows.before), leads.mean_response(windows.during)
    assert 1.5 <= before <= 3.0
    assert 5.0 <= during <= 9.0
    assert during >= 2.2 * before


def test_conversion_falls_during_the_incident(leads: LeadFacts, windows: Windows) -> None:
    before, during = leads.conversion(windows.before), leads.conversion(windows.during)
    assert 0.10 <= before <= 0.15
    assert during <= 0.75 * before


def test_about_thirty_percent_of_pushes_fail_during_the_incident(engine: Engine, windows: Windows) -> None:
    assert 0.25 <= push_failure_share(engine, windows.during) <= 0.36
    assert push_failure_share(engine, windows.before) <= 0.03
    last_month = (datetime.combine(END - timedelta(weeks=4), datetime.min.time(), UTC), SNAPSHOT)
    assert push_failure_share(engine, last_month) <= 0.03


def test_failures_sit_on_android_with_app_3_2(engine: Engine, windows: Windows) -> None:
    android_32 = (Notification.platform == "android", Notification.app_version.in_(["3.2.0", "3.2.1"]))
    assert push_failure_share(engine, windows.during, *android_32) >= 0.4
    assert push_failure_share(engine, windows.during, Notification.platform == "ios") <= 0.03
    old_android = (Notification.platform == "android", Notification.app_version.like("3.1.%"))
    assert push_failure_share(engine, windows.during, *old_android) <= 0.03


def test_sms_fallback_catches_lost_pushes_and_response_recovers(engine: Engine, leads: LeadFacts,
                                                                windows: Windows) -> None:
    sms_sent = scalar_list(engine, select(Notification.sent_at).where(Notification.channel == "sms"))
    assert sms_sent and min(sms_sent) >= windows.fallback
    failed_after = count(engine, Notification, Notification.channel == "app_push", Notification.status == "failed",
                         Notification.sent_at >= windows.fallback)
    delivered_sms = count(engine, Notification, Notification.channel == "sms", Notification.status == "delivered")
    assert delivered_sms >= 0.95 * failed_after
    assert leads.mean_response(windows.after) <= 1.3 * leads.mean_response(windows.before)
    assert leads.conversion(windows.after) >= 0.8 * leads.conversion(windows.before)


def test_nothing_in_the_data_names_the_incident(engine: Engine) -> None:
    words = ("丢失", "故障", "推送失败", "兼容", "lost push", "push lost", "incident", "bug")
    for table in Base.metadata.sorted_tables:
        texts = [c for c in table.columns if isinstance(c.type, String | Text) and not isinstance(c.type, Enum)]
        for column in texts:
            hits = count(engine, table, or_(*[column.ilike(f"%{w}%") for w in words]))
            assert hits == 0, f"{table.name}.{column.name}"
    for metrics in scalar_list(engine, select(ChangeEntry.affected_metrics)):
        assert not any(w in str(metrics) for w in words)


def test_every_assigned_lead_was_notified_and_first_response_is_the_first_outbound_contact(engine: Engine) -> None:
    routed = select(RoutingDecision.lead_id)  # the go-live afternoon: evenhand's own message, in the inbox
    handed_out = count(engine, Lead, Lead.assigned_at.is_not(None), Lead.id.not_in(routed))
    pushed = scalar(engine, select(func.count(func.distinct(Notification.lead_id))).where(
        Notification.kind == "lead_assigned", Notification.channel == "app_push", Notification.lead_id.not_in(routed)))
    assert pushed == handed_out
    routed_assigned = count(engine, RoutingDecision, RoutingDecision.outcome == "assigned")
    told = scalar(engine, select(func.count(func.distinct(Notification.lead_id))).where(
        Notification.kind == "lead_assigned", Notification.channel == "in_app", Notification.lead_id.in_(routed)))
    assert told == routed_assigned > 0
    first_outbound = (select(func.min(Activity.occurred_at)).where(Activity.lead_id == Lead.id,
                                                                   Activity.direction == "outbound")
                      .scalar_subquery())
    mismatched = count(engine, Lead, Lead.first_response_at.is_not(None), Lead.first_response_at != first_outbound)
    assert mismatched == 0


# --- the old hand-out rules -----------------------------------------------------------------------


def test_new_hires_got_fewer_high_score_leads_than_veterans(engine: Engine, leads: LeadFacts) -> None:
    reps = rows(engine, select(User.id, User.level, User.hired_on).where(User.role == "rep"))
    new = [uid for uid, _, hired in reps if hired > END - timedelta(days=90)]
    veterans = [uid for uid, level, hired in reps if level == "senior" and hired < END - timedelta(days=4 * 365)]
    high = leads.score >= 80

    def share(owners: list[int]) -> float:
        mine = np.isin(leads.owner, owners)
        return float(high[mine].mean())

    assert new and veterans
    assert share(new) < 0.5 * share(veterans)


# --- discounting, satisfaction and renewals -------------------------------------------------------


def test_discounting_seniors_win_big_and_renew_less(engine: Engine) -> None:
    won = rows(engine, select(Opportunity.owner_id, func.avg(Opportunity.discount_pct), func.avg(Opportunity.amount))
               .join(User, User.id == Opportunity.owner_id)
               .where(Opportunity.stage == "won", User.level == "senior").group_by(Opportunity.owner_id))
    discounters = {o for o, discount, _ in won if float(discount) >= 15}
    others = {o for o, discount, _ in won if float(discount) < 15}
    assert len(discounters) >= 2

    def renewal_rate(owners: set[int]) -> float:
        decided = rows(engine, select(Contract.renewed).where(Contract.kind == "new", Contract.renewed.is_not(None),
                                                              Contract.owner_id.in_(owners)))
        return sum(1 for (r,) in decided if r) / len(decided)

    assert renewal_rate(discounters) <= renewal_rate(others) - 0.15
    average_won = float(scalar(engine, select(func.avg(Opportunity.amount)).where(Opportunity.stage == "won")))
    assert all(float(amount) > average_won for o, _, amount in won if o in discounters)


def test_renewals_payments_and_surveys(engine: Engine) -> None:
    assert count(engine, Contract, Contract.kind == "renewal") > 100
    assert {True, False} <= set(scalar_list(engine, select(Contract.renewed).where(Contract.kind == "new")))
    assert scalar(engine, text("SELECT min(amount) FROM payments")) > 0
    ranges = rows(engine, text("SELECT kind, min(score), max(score) FROM survey_responses GROUP BY kind"))
    assert {(k, lo >= lo_ok, hi <= hi_ok) for k, lo, hi in ranges
            for lo_ok, hi_ok in [(1, 5) if k == "csat" else (0, 10)]} == {("csat", True, True), ("nps", True, True)}


def test_converted_leads_have_one_opportunity_and_won_ones_a_customer(engine: Engine) -> None:
    converted = count(engine, Lead, Lead.status == "converted")
    from_leads = count(engine, Opportunity, Opportunity.lead_id.is_not(None))
    assert converted == from_leads == scalar(engine, select(func.count(func.distinct(Opportunity.lead_id))))
    won_without_account = count(engine, Opportunity, Opportunity.stage == "won", Opportunity.account_id.is_(None))
    assert won_without_account == 0
    histories = scalar(engine, text("SELECT count(DISTINCT opportunity_id) FROM stage_changes"))
    assert histories == count(engine, Opportunity)


# --- captured activity ----------------------------------------------------------------------------


def test_calls_carry_durations_and_recordings(engine: Engine) -> None:
    calls = rows(engine, text("SELECT answered, min(duration_seconds), count(recording_ref), count(*) FROM activities"
                              " WHERE type = 'call' AND direction = 'outbound' GROUP BY answered"))
    by_answer = {bool(a): (shortest, recorded, n) for a, shortest, recorded, n in calls}
    assert by_answer[True][0] > 0 and by_answer[True][1] == by_answer[True][2]
    assert by_answer[False][1] == 0
    sources = set(scalar_list(engine, select(Activity.source_system).distinct()))
    assert sources == {"wecom", "dingtalk", "outlook", "telephony", "crm"}


def test_a_small_share_of_crm_notes_has_nothing_behind_it(engine: Engine) -> None:
    unbacked = scalar(engine, text("""
        SELECT avg(NOT EXISTS (
            SELECT 1 FROM activities b
            WHERE (b.lead_id = n.lead_id OR b.opportunity_id = n.opportunity_id) AND b.source_system != 'crm'
              AND b.occurred_at BETWEEN datetime(n.occurred_at, '-6 hours') AND datetime(n.occurred_at, '+6 hours')))
        FROM activities n WHERE n.type = 'note'"""))
    assert 0.02 <= float(unbacked) <= 0.06


def test_the_build_is_in_the_audit_chain(engine: Engine) -> None:
    with Session(engine) as session:
        n, broken = audit_check.verify(session)
    assert n >= 1 and broken is None
    assert scalar(engine, text("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")) == "demo.built"


# --- the go-live afternoon ------------------------------------------------------------------------


def test_the_last_afternoon_is_routed_by_evenhand_and_every_decision_replays(engine: Engine) -> None:
    decisions = rows(engine, select(RoutingDecision.id, RoutingDecision.created_at, RoutingDecision.track,
                                    RoutingDecision.outcome, RoutingDecision.kind))
    assert len(decisions) >= 30
    local_times = {as_utc(d.created_at).astimezone(SHANGHAI) for d in decisions}
    assert {t.date() for t in local_times} == {END}  # a Friday
    assert all(13 <= t.hour < 17 for t in local_times)
    assert {d.track for d in decisions} == {"round_robin", "weighted"}
    assert {d.kind for d in decisions} == {"intake"} and "assigned" in {d.outcome for d in decisions}
    with Session(engine) as session:
        for d in decisions:
            recorded, again = routing_service.replay(session, d.id)
            assert again == recorded, d.id
    warm = count(engine, Lead, Lead.id.in_(select(RoutingDecision.lead_id)), Lead.webinars + Lead.downloads > 0)
    assert warm >= 10  # leads that came with their site visits, downloads and webinars
    visits = rows(engine, select(BehaviourEvent.occurred_at, Lead.created_at)
                  .join(Lead, Lead.id == BehaviourEvent.lead_id).where(Lead.id.in_(select(RoutingDecision.lead_id))))
    assert all(8 <= as_utc(v.occurred_at).astimezone(SHANGHAI).hour < 22 and v.occurred_at < v.created_at
               for v in visits)  # in waking hours, before the form


def test_a_lead_still_waiting_escalated_when_its_wait_was_over(engine: Engine) -> None:
    held = rows(engine, select(HeldLead.lead_id, HeldLead.held_since, HeldLead.escalated_at))
    assert held  # the partner leads of the afternoon: nobody in the channel pool was there for them
    with Session(engine) as session:
        policy = policy_versions.compiled_body(policy_versions.active(session).body)
        waits = {h.lead_id: escalation(h.held_since, policy, pool).due_at for h, pool in
                 session.execute(select(HeldLead, HeldLead.pool_id)).tuples()}
    for h in held:
        if waits[h.lead_id] <= SNAPSHOT:
            assert h.escalated_at is not None and as_utc(h.escalated_at) == waits[h.lead_id]
            told = rows(engine, select(Notification.recipient_id, Notification.created_at)
                        .where(Notification.kind == "lead_held", Notification.lead_id == h.lead_id))
            assert told and {as_utc(n.created_at) for n in told} == {waits[h.lead_id]}
        else:
            assert h.escalated_at is None


def test_the_afternoon_left_one_appeal_ruled_and_one_in_the_queue(engine: Engine) -> None:
    appeals = rows(engine, select(Appeal.status, Appeal.created_at, Appeal.decided_at, Appeal.decision_id, User.role)
                   .join(User, User.id == Appeal.appellant_id))
    assert sorted(a.status for a in appeals) == ["open", "upheld"] and {a.role for a in appeals} == {"rep"}
    for a in appeals:
        decided = scalar(engine, select(RoutingDecision.created_at).where(RoutingDecision.id == a.decision_id))
        assert a.created_at - decided == timedelta(minutes=30)
        assert a.decided_at is None or as_utc(a.decided_at) <= SNAPSHOT
