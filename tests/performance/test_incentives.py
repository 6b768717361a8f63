"""Incentives (R3.5): a closed period's tiers become grants routing reads; renewed, revoked, audited, told."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.errors import Forbidden, Invalid, NotFound
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import (
    Account,
    AuditEntry,
    Complaint,
    Lead,
    Notification,
    PeriodStatus,
    Presence,
    Role,
    Scorecard,
    ScorecardTemplateVersion,
    ScorePeriod,
    UserGrant,
)
from evenhand.org import service as org
from evenhand.org.schemas import GrantCreate
from evenhand.performance import document, incentives, service
from evenhand.performance.period import Period, containing, parse
from evenhand.performance.template import default_text
from evenhand.routing import policy_versions, router
from tests.builders import make_department, make_lead, make_region, make_team, make_user
from tests.conftest import Run

POLICY = """
name: 测试策略
threshold_high_value: 80
pools:
  - id: key_accounts
    condition: 'lead.company_size != null && lead.company_size >= 300'
    key_account: true
    members: {regions: [east]}
  - id: smb
    members: {regions: [east]}
"""
SEPTEMBER_END = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 November, midnight in Shanghai: the end of October
OCTOBER_END = datetime(2026, 11, 30, 16, tzinfo=UTC)
CLOSED_AT = datetime(2026, 10, 2, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Company:
    a: int
    b: int
    c: int
    boss: int
    ops: int


def company(session: Session) -> Company:
    """One key-account team in the east (supervisor boss, who reads Chinese); reps a, b, c online all day; the
    shipped scorecard templates as version 1; the routing policy above."""
    east = make_region(session, code="east")
    boss = make_user(session, username="boss", role=Role.SUPERVISOR, locale="zh-CN")
    team = make_team(session, department=make_department(session, code="ka"), name="大客户组", region=east,
                     supervisor=boss)
    since = utcnow() - timedelta(days=60)
    reps = [make_user(session, username=name, team=team, working_hours={}, presence=Presence.ONLINE,
                      presence_since=since, locale="en") for name in ("a", "b", "c")]
    ops = make_user(session, username="ops", role=Role.OPS)
    session.add(ScorecardTemplateVersion(version=1, name="default", body=default_text(), active=True))
    policy_versions.save(session, POLICY, author=None, note="test")
    session.flush()
    return Company(reps[0].id, reps[1].id, reps[2].id, boss.id, ops.id)


def close(session: Session, key: str, tiers: dict[int, tuple[str | None, float]], *, closer: int) -> ScorePeriod:
    """Freeze a revision of ``key`` by hand: each rep's tier and total (what ``service.close`` writes)."""
    period = parse(key)
    row = session.scalar(select(ScorePeriod).where(ScorePeriod.period == key))
    if row is None:
        row = ScorePeriod(period=key, starts_on=period.starts_on, ends_on=period.ends_on, revision=0)
        session.add(row)
    row.status, row.revision, row.closed_at, row.closed_by = PeriodStatus.CLOSED, row.revision + 1, CLOSED_AT, closer
    session.flush()
    session.add_all([Scorecard(period_id=row.id, revision=row.revision, user_id=uid, template_version=1,
                               template_name="default", total=total, tier=tier, metrics=[], inputs={})
                     for uid, (tier, total) in tiers.items()])
    session.flush()
    return row


def cards(session: Session, row: ScorePeriod) -> list[Scorecard]:
    return list(session.scalars(select(Scorecard).where(Scorecard.period_id == row.id,
                                                        Scorecard.revision == row.revision)))


def apply(session: Session, key: str, tiers: dict[int, tuple[str | None, float]], *, closer: int,
          now: datetime = CLOSED_AT) -> list[incentives.Change]:
    row = close(session, key, tiers, closer=closer)
    return incentives.settle(session, row, cards(session, row), now=now)


def held(session: Session) -> dict[tuple[int, str], tuple[datetime | None, str]]:
    return {(g.user_id, g.grant): (as_utc(g.expires_at) if g.expires_at else None, g.reason)
            for g in session.scalars(select(UserGrant))}


def counts(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    audits = dict(session.execute(select(AuditEntry.action, func.count()).where(
        AuditEntry.action.in_(("performance.grant", "performance.revoke"))).group_by(AuditEntry.action)).tuples().all())
    messages = dict(session.execute(select(Notification.kind, func.count()).where(
        Notification.kind.like("performance%"), Notification.channel == "in_app")
        .group_by(Notification.kind)).tuples().all())
    return audits, messages


def test_tiers_become_grants_until_the_end_of_the_following_period(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        changes = apply(session, "2026-09", {c.a: ("gold", 90.0), c.b: ("silver", 75.0), c.c: (None, 50.0)},
                        closer=c.ops)
        assert {(ch.user_id, ch.grant) for ch in changes} == {
            (c.a, "key_account"), (c.a, "training_priority"), (c.a, "promotion_list"), (c.b, "training_priority")}
        assert held(session) == {(c.a, "key_account"): (SEPTEMBER_END, "scorecard 2026-09: gold"),
                                 (c.a, "training_priority"): (SEPTEMBER_END, "scorecard 2026-09: gold"),
                                 (c.a, "promotion_list"): (SEPTEMBER_END, "scorecard 2026-09: gold"),
                                 (c.b, "training_priority"): (SEPTEMBER_END, "scorecard 2026-09: silver")}
        assert all(g.granted_by_id is None for g in session.scalars(select(UserGrant)))
        assert counts(session) == ({"performance.grant": 4}, {"performance_grant": 8})  # the rep and the boss
        entry = session.scalar(select(AuditEntry).where(AuditEntry.subject_id == f"{c.b}:training_priority"))
        assert entry is not None and entry.actor_id == c.ops
        assert entry.payload == {"user_id": c.b, "grant": "training_priority", "tier": "silver", "period": "2026-09",
                                 "revision": 1, "expires_at": "2026-10-31T16:00:00+00:00"}
        told = {(n.recipient_id, n.title, n.body) for n in session.scalars(select(Notification).where(
            Notification.kind == "performance_grant", Notification.channel == "in_app"))}
        assert (c.b, "You have priority for training places",
                "Tier Silver in 2026-09; valid until 2026-10-31.") in told
        assert (c.boss, "B 有培训名额优先权", "2026-09 考核等级：银牌；有效期至 2026-10-31。") in told


def test_applying_a_revision_again_grants_audits_and_tells_nothing_more(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        row = close(session, "2026-09", {c.a: ("gold", 90.0)}, closer=c.ops)
        incentives.settle(session, row, cards(session, row), now=CLOSED_AT)
        before = held(session), counts(session)
        assert incentives.settle(session, row, cards(session, row), now=CLOSED_AT + timedelta(hours=1)) == []
        assert (held(session), counts(session)) == before


def test_a_corrected_revision_revokes_what_it_no_longer_earns(engine: Engine) -> None:
    later = CLOSED_AT + timedelta(days=3)
    with session_scope(engine) as session:
        c = company(session)
        apply(session, "2026-09", {c.a: ("gold", 90.0), c.b: ("silver", 75.0)}, closer=c.ops)
        changes = apply(session, "2026-09", {c.a: ("silver", 80.0)}, closer=c.ops, now=later)  # b has no card now
        assert sorted((ch.action, ch.user_id, ch.grant) for ch in changes) == sorted([
            ("revoke", c.a, "key_account"), ("revoke", c.a, "promotion_list"), ("revoke", c.b, "training_priority"),
            ("grant", c.a, "training_priority")])  # the same grant, now for silver
        grants = held(session)
        assert grants[(c.a, "key_account")] == (later, "scorecard 2026-09: gold")  # expired now, kept as a record
        assert grants[(c.a, "training_priority")] == (SEPTEMBER_END, "scorecard 2026-09: silver")
        assert org.holders(session, "key_account") == set()
        assert counts(session) == ({"performance.grant": 5, "performance.revoke": 3},
                                   {"performance_grant": 10, "performance_revoke": 6})
        revoked = session.scalar(select(Notification).where(Notification.kind == "performance_revoke",
                                                            Notification.recipient_id == c.a,
                                                            Notification.title.like("%key-account%")))
        assert revoked is not None and revoked.title == "You no longer receive key-account leads"


def test_the_next_period_renews_and_an_earlier_one_closed_again_never_shortens(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        apply(session, "2026-09", {c.a: ("gold", 90.0)}, closer=c.ops)
        october = CLOSED_AT + timedelta(days=31)
        apply(session, "2026-10", {c.a: ("gold", 88.0)}, closer=c.ops, now=october)
        assert held(session)[(c.a, "key_account")] == (OCTOBER_END, "scorecard 2026-10: gold")
        assert apply(session, "2026-09", {c.a: ("gold", 91.0)}, closer=c.ops, now=october) == []
        assert apply(session, "2026-09", {c.a: (None, 40.0)}, closer=c.ops, now=october) == []  # October's stands
        assert held(session)[(c.a, "key_account")] == (OCTOBER_END, "scorecard 2026-10: gold")


def test_a_quarter_grants_until_the_end_of_the_next_quarter_in_the_zone(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        apply(session, "2026-Q3", {c.a: ("silver", 71.0)}, closer=c.ops)
        assert held(session)[(c.a, "training_priority")][0] == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_a_lapsed_grant_earned_again_is_held_from_then_on(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        apply(session, "2026-09", {c.a: ("silver", 75.0)}, closer=c.ops)
        december = datetime(2026, 12, 2, 2, tzinfo=UTC)
        apply(session, "2026-11", {c.a: ("silver", 75.0)}, closer=c.ops, now=december)
        row = session.scalar(select(UserGrant).where(UserGrant.user_id == c.a))
        assert row is not None and as_utc(row.created_at) == december
        assert as_utc(row.expires_at) == datetime(2026, 12, 31, 16, tzinfo=UTC)  # type: ignore[arg-type]


def test_grants_given_by_hand_are_never_touched(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        ops = Principal(user_id=c.ops, username="ops", display_name="Ops", role=Role.OPS)
        org.grant(session, c.a, GrantCreate(grant="key_account", reason="大客户经验"), actor=ops)
        org.grant(session, c.b, GrantCreate(grant="promotion_list", reason="scorecard 2026-09: gold"), actor=ops)
        session.add(UserGrant(user_id=c.c, grant="key_account", reason="imported", created_at=CLOSED_AT))
        session.flush()
        hand = held(session)
        changes = apply(session, "2026-09", {c.a: ("gold", 90.0), c.b: ("gold", 95.0), c.c: ("gold", 99.0)},
                        closer=c.ops)
        assert (c.a, "key_account") not in {(ch.user_id, ch.grant) for ch in changes}
        assert {k: held(session)[k] for k in hand} == hand
        apply(session, "2026-09", {c.a: (None, 10.0), c.b: (None, 10.0), c.c: (None, 10.0)}, closer=c.ops)
        assert {k: held(session)[k] for k in hand} == hand
        assert org.holders(session, "key_account") == {c.a, c.c}


def test_a_key_account_lead_goes_to_the_rep_who_just_earned_the_grant(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        first = make_lead(session, region="east", company_size=500, score=50, created_at=utcnow())
        assert router.route(session, first).outcome == "held"  # nobody may enter the key-account pool yet
        last_month = containing(utcnow().date()).previous().key  # its grants hold through this month
        row = close(session, last_month, {c.a: ("silver", 75.0), c.b: ("gold", 86.0)}, closer=c.ops)
        incentives.settle(session, row, cards(session, row), now=utcnow())
        lead = make_lead(session, region="east", company_size=800, score=50, created_at=utcnow())
        decision = router.route(session, lead)
        assert (decision.outcome, decision.pool_id, decision.rep_id) == ("assigned", "key_accounts", c.b)
        assert session.get(Lead, lead.id).owner_id == c.b  # type: ignore[union-attr]


def test_the_lists_show_who_holds_what_until_when_and_why(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        ops = Principal(user_id=c.ops, username="ops", display_name="Ops", role=Role.OPS)
        org.grant(session, c.c, GrantCreate(grant="training_priority", reason="新人"), actor=ops)
        apply(session, "2026-09", {c.a: ("gold", 90.0), c.b: ("silver", 75.0), c.c: ("silver", 72.0)},
              closer=c.ops)
        found = incentives.lists(session, parse("2026-09"), now=CLOSED_AT)
        assert [(h.grant, h.name, h.tier, h.status) for h in found] == [
            ("key_account", "A", "gold", "held"), ("training_priority", "A", "gold", "held"),
            ("training_priority", "B", "silver", "held"), ("training_priority", "C", "silver", "by_hand"),
            ("promotion_list", "A", "gold", "held")]
        assert found[0].expires_at == SEPTEMBER_END and found[0].team == "大客户组"
        later = incentives.lists(session, parse("2026-09"), now=SEPTEMBER_END)
        assert {h.status for h in later if h.name != "C"} == {"lapsed"}
        rep = Principal(user_id=c.b, username="b", display_name="B", role=Role.REP)
        assert [h.name for h in incentives.lists(session, parse("2026-09"), principal=rep)] == ["B"]
        assert incentives.lists(session, parse("2026-10")) == []


COMPLAINTS = """
name: 投诉越少越好
metrics:
  complaints: {target: 0, zero: 5}
templates:
  - key: everyone
    label: {zh-CN: 全员, en: Everyone}
    weights:
      senior: {complaints: 1}
tiers:
  - key: gold
    label: {zh-CN: 金牌, en: Gold}
    min: 85
    grants: [key_account, promotion_list]
  - key: silver
    label: {zh-CN: 银牌, en: Silver}
    min: 70
    grants: [training_priority]
"""
LOWER_GOLD_TIER = COMPLAINTS.replace("min: 85", "min: 75")
EVEN_COMPLAINTS = COMPLAINTS.replace("{target: 0, zero: 5}", "{target: 1, zero: 5}")  # one complaint scores 100


def closed_with_history(session: Session, c: Company) -> Period:
    """Last month closed for real under COMPLAINTS: a none (100, gold), b one (80, silver), c three (40); then six
    key-account leads and two small ones over the last two days, never routed: what the replay reads."""
    ops = Principal(user_id=c.ops, username="ops", display_name="Ops", role=Role.OPS)
    document.save(session, COMPLAINTS, author=ops, note="test")
    last_month = containing(utcnow().date()).previous()
    account = Account(name="苏州精密制造")
    session.add(account)
    session.flush()
    at = datetime.combine(last_month.starts_on, datetime.min.time(), tzinfo=UTC) + timedelta(days=5, hours=4)
    session.add_all([Complaint(account_id=account.id, rep_id=rep, received_at=at + timedelta(hours=n))
                     for n, rep in enumerate((c.b, c.c, c.c, c.c))])
    session.flush()
    service.close(session, last_month, actor=ops)
    start = utcnow() - timedelta(days=2)
    for k in range(8):
        make_lead(session, region="east", company_size=500 if k < 6 else 50, score=50,
                  created_at=start + timedelta(hours=k))
    return last_month


def test_whatif_a_lower_gold_shares_the_key_account_pool_with_a_silver_rep(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        closed_with_history(session, c)
    with session_scope(engine, readonly=True) as session:
        same = incentives.whatif(session, COMPLAINTS, days=5)
        lower = incentives.whatif(session, LOWER_GOLD_TIER, days=5)
        even = incentives.whatif(session, EVEN_COMPLAINTS, days=5)  # weights, not tiers: b scores 100 too
    assert same["leads"] == lower["leads"] == 6 and same["pools"] == ["key_accounts"]
    assert same["holders"] == {"before": [c.a], "after": [c.a], "by_hand": []}
    assert {r["name"]: (r["before"]["leads"], r["after"]["leads"]) for r in same["reps"]} == {"A": (6, 6)}
    assert lower["holders"]["after"] == even["holders"]["after"] == [c.a, c.b]
    shares = {r["name"]: (r["before"], r["after"]) for r in lower["reps"]}
    assert shares["A"][0] == {"holds": True, "leads": 6, "share": 1.0}
    assert shares["B"][0] == {"holds": False, "leads": 0, "share": 0.0}
    assert shares["A"][1]["leads"] + shares["B"][1]["leads"] == 6 and shares["B"][1]["leads"] >= 2
    assert "C" not in shares and lower["held"] == {"before": 0, "after": 0}
    with session_scope(engine) as session:
        policy_versions.save(session, POLICY.replace("    key_account: true\n", ""), author=None, note="open pool")
        unguarded = incentives.whatif(session, LOWER_GOLD_TIER, days=5)
    assert (unguarded["pools"], unguarded["leads"]) == ([], 0)  # no pool takes the grant: nothing to move


def test_whatif_refuses_a_bad_document_an_unclosed_period_and_a_rep(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        with pytest.raises(NotFound):
            incentives.whatif(session, default_text())  # nothing closed yet
        last_month = closed_with_history(session, c)
        with pytest.raises(NotFound) as missing:
            incentives.whatif(session, default_text(), period=last_month.previous())
        assert missing.value.field == "period"
        with pytest.raises(Invalid) as caught:
            incentives.whatif(session, default_text().replace("    min: 85\n", "    min: 185\n"))
        assert caught.value.field is not None and caught.value.field.startswith("tiers.0.min")
        rep = Principal(user_id=c.a, username="a", display_name="A", role=Role.REP)
        with pytest.raises(Forbidden):
            incentives.whatif(session, default_text(), principal=rep)


def test_the_commands_print_the_grants_and_the_whatif(run: Run, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        c = company(session)
        key = closed_with_history(session, c).key
    shown = run("scorecard", "grants", "--period", key)
    assert shown.exit_code == 0, shown.output
    assert "Key-account lead pool: A (大客户组), tier gold, 100.0 — Held, until" in shown.output
    data = json.loads(run("scorecard", "grants", "--period", key, "--json").output)
    assert [(g["grant"], g["user_id"], g["status"]) for g in data["grants"]] == [
        ("key_account", c.a, "held"), ("training_priority", c.b, "held"), ("promotion_list", c.a, "held")]
    candidate = tmp_path / "lower.yaml"
    candidate.write_text(LOWER_GOLD_TIER, encoding="utf-8")
    replay = run("scorecard", "whatif", "--templates", str(candidate), "--days", "5")
    assert replay.exit_code == 0, replay.output
    assert f"{key} (revision 1): 6 key-account leads" in replay.output and "B: 0 leads (0%) →" in replay.output
    candidate.write_text("name: x\n", encoding="utf-8")
    refused = run("scorecard", "whatif", "--templates", str(candidate))
    assert refused.exit_code == 1 and "metrics" in refused.output


def test_expiry_is_midnight_after_the_following_period_in_the_zone() -> None:
    from zoneinfo import ZoneInfo

    assert incentives.expiry(parse("2026-12"), ZoneInfo("Asia/Shanghai")) == datetime(2027, 1, 31, 16, tzinfo=UTC)
    assert incentives.expiry(parse("2026-Q4"), ZoneInfo("UTC")) == datetime(2027, 4, 1, tzinfo=UTC)
    assert incentives.reason_for("2026-Q4", "gold") == "scorecard 2026-Q4: gold"
    assert date(2026, 1, 1) < incentives.expiry(parse("2026-01"), ZoneInfo("UTC")).date()
    assert not incentives.given_here(UserGrant(reason="scorecard 2026-Q4: gold", granted_by_id=3))
    assert incentives.given_here(UserGrant(reason="scorecard 2026-Q4: gold", granted_by_id=None))


NO_COMPLAINTS = """
name: 无投诉即金牌
metrics:
  complaints: {target: 0, zero: 5}
templates:
  - key: everyone
    label: {zh-CN: 全员, en: Everyone}
    weights:
      senior: {complaints: 1}
tiers:
  - key: gold
    label: {zh-CN: 金牌, en: Gold}
    min: 85
    grants: [key_account]
"""


def test_closing_a_period_through_the_service_grants_and_routing_follows(engine: Engine) -> None:
    """The real close: every rep without complaints reaches gold; re-opened and closed under templates that grant
    nothing, the grants are revoked and key-account leads wait again."""
    last_month = containing(utcnow().date()).previous()
    with session_scope(engine) as session:
        c = company(session)
        ops = Principal(user_id=c.ops, username="ops", display_name="Ops", role=Role.OPS)
        document.save(session, NO_COMPLAINTS, author=ops, note="test")
        service.close(session, last_month, actor=ops)
        assert org.holders(session, "key_account") == {c.a, c.b, c.c}  # the supervisor owns no deal: no card
        lead = make_lead(session, region="east", company_size=800, score=50, created_at=utcnow())
        assert router.route(session, lead).outcome == "assigned"
        service.reopen(session, last_month, actor=ops, reason="投诉数据补录")
        document.save(session, NO_COMPLAINTS.replace("grants: [key_account]", "grants: []"), author=ops, note="t")
        service.close(session, last_month, actor=ops)
        assert org.holders(session, "key_account") == set()
        later = make_lead(session, region="east", company_size=800, score=50, created_at=utcnow())
        assert router.route(session, later).outcome == "held"
        audits = counts(session)[0]
        assert (audits["performance.grant"], audits["performance.revoke"]) == (3, 3)


def test_reopening_and_closing_again_unchanged_grants_and_tells_nothing_new(engine: Engine) -> None:
    with session_scope(engine) as session:
        c = company(session)
        last_month = closed_with_history(session, c)
        first = held(session), counts(session)
        ops = Principal(user_id=c.ops, username="ops", display_name="Ops", role=Role.OPS)
        service.reopen(session, last_month, actor=ops, reason="复核")
        assert service.close(session, last_month, actor=ops).revision == 2
        assert (held(session), counts(session)) == first
        assert first[1] == ({"performance.grant": 3}, {"performance_grant": 6})
