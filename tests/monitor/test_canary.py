"""The canary board (R4.4): on a hand-built set of decided leads each declared metric shows both arms, the difference
with its interval, the fixed and the always-valid p-value and a verdict; the commands and endpoints that start,
read, roll back and promote a canary."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.kit.clock import as_utc
from evenhand.models import (
    Appeal,
    Canary,
    CanaryStatus,
    Channel,
    Lead,
    LeadStatus,
    Notification,
    NotificationStatus,
    RoutingDecision,
    User,
)
from evenhand.monitor import canary
from evenhand.routing import policy_versions
from tests.builders import Org, make_lead, make_team, make_user

CANDIDATE = """
name: 候选
threshold_high_value: 50
availability: {working_hours: false}
pools:
  - id: everyone
"""
PAIRS = 40  # leads per arm, arriving alternately
ALPHA = 0.05


def start(session: Session, metrics: list[str] | None = None) -> Canary:
    return canary.start(session, CANDIDATE, share=0.5, metrics=metrics or [], actor=None, note="权重")


def decided(session: Session, found: Canary) -> dict[str, Any]:
    """40 leads a side, alternating. Control: first responses 1 h and 3 h, the "new lead" message acknowledged
    within 5 minutes for 36 and never for 4, 5 of its first 20 leads converted and 15 disqualified, no appeal,
    10 leads to each of four reps. Canary: first responses 4 h and 8 h, 20 messages acknowledged within 5 minutes
    and 20 after 30 (past the 15-minute limit), 15 of 20 converted, 4 appeals, all 40 leads to one rep. The other
    20 leads of each side are still open."""
    reps = [make_user(session, team=make_team(session)) for _ in range(4)]
    started = as_utc(found.started_at)
    for n in range(2 * PAIRS):
        arm, k = ("control", "canary")[n % 2], n // 2
        at = started + timedelta(minutes=10 * (n + 1))
        rep = reps[k % 4] if arm == "control" else reps[0]
        _lead(session, arm, k, at, rep)
    return {"reps": reps, "now": started + timedelta(days=2)}


def _lead(session: Session, arm: str, k: int, at: datetime, rep: User) -> None:
    canary_side = arm == "canary"
    hours = (4, 8)[k % 2] if canary_side else (1, 3)[k % 2]
    outcome = None if k >= 20 else (LeadStatus.CONVERTED if (k < 15 if canary_side else k < 5)
                                    else LeadStatus.DISQUALIFIED)
    lead = make_lead(session, owner=rep, status=outcome or LeadStatus.CONTACTED, assigned_at=at,
                     first_response_at=at + timedelta(hours=hours))
    decision = RoutingDecision(lead_id=lead.id, kind="intake", outcome="assigned", rep_id=rep.id, pool_id="everyone",
                               policy_version=3 if canary_side else 2, latency_us=100, audit_seq=0, arm=arm,
                               created_at=at)
    session.add(decision)
    session.flush()
    acked = (at + timedelta(minutes=30 if k % 2 else 5)) if canary_side else (None if k < 4 else at + timedelta(
        minutes=5))
    session.add(Notification(kind="lead_assigned", recipient_id=rep.id, lead_id=lead.id, channel=Channel.IN_APP,
                             status=NotificationStatus.DELIVERED, idempotency_key=f"lead_assigned:{lead.id}:x",
                             sent_at=at, delivered_at=at, created_at=at, acknowledged_at=acked))
    if canary_side and k < 4:
        session.add(Appeal(decision_id=decision.id, lead_id=lead.id, appellant_id=rep.id, reason_code="wrong_region"))
    session.flush()


def rows(board: canary.Board) -> dict[str, canary.Row]:
    return {row.metric: row for row in board.rows}


def test_the_board_on_hand_built_leads(engine: Engine) -> None:
    with session_scope(engine) as session:
        found = start(session)
        built = decided(session, found)
        board = canary.board(session, found.id, now=built["now"])
    assert board.leads == {"control": PAIRS, "canary": PAIRS}
    found_rows = rows(board)
    assert list(found_rows) == list(canary.METRICS)  # every metric the board compares, when none is declared

    mean = found_rows["first_response_mean"]
    assert (mean.control, mean.canary) == (canary.Side(2.0, 40), canary.Side(6.0, 40))
    control, treated = np.tile([1.0, 3.0], 20), np.tile([4.0, 8.0], 20)
    welch = stats.ttest_ind(treated, control, equal_var=False)
    half = welch.confidence_interval(0.95)
    assert mean.diff == pytest.approx(4.0) and mean.p == pytest.approx(welch.pvalue)
    assert (mean.low, mean.high) == (pytest.approx(half.low), pytest.approx(half.high))
    assert mean.p_always is not None and mean.p_always < 1e-6 and mean.verdict == canary.WORSE  # slower is worse

    # The median's variance from the order statistics 14 in from either end (Bonett and Price): 1 and 3, 4 and 8.
    median = found_rows["first_response_p50"]
    z = stats.norm.isf(stats.binom.cdf(13, 40, 0.5))
    se = np.sqrt((2 / (2 * z)) ** 2 + (4 / (2 * z)) ** 2)
    assert (median.control.value, median.canary.value, median.diff) == (2.0, 6.0, 4.0)
    assert (median.low, median.high) == (pytest.approx(4 - 1.959964 * se), pytest.approx(4 + 1.959964 * se))
    assert median.p is not None and median.p < 0.001  # read once, the fixed test is clear; read at every look,
    assert median.p_always is not None and median.p_always > ALPHA and median.verdict == canary.UNCLEAR  # not yet

    in_time, acked = found_rows["lead_accepted_in_time"], found_rows["notification_ack"]
    assert (in_time.control, in_time.canary) == (canary.Side(0.9, 40), canary.Side(0.5, 40))
    assert (acked.control, acked.canary) == (canary.Side(0.9, 40), canary.Side(1.0, 40))
    assert in_time.verdict == canary.WORSE and in_time.diff == pytest.approx(-0.4)

    # 20 decided leads a side: a clear difference to the fixed test, but under the 30 the sequential test waits for.
    conversion = found_rows["lead_conversion"]
    assert (conversion.control, conversion.canary) == (canary.Side(0.25, 20), canary.Side(0.75, 20))
    assert conversion.p is not None and conversion.p < 0.01
    assert (conversion.p_always, conversion.verdict) == (1.0, canary.UNCLEAR)

    appeals = found_rows["appeal_rate"]
    assert (appeals.control, appeals.canary) == (canary.Side(0.0, 40), canary.Side(0.1, 40))

    spread = found_rows["leads_per_rep_spread"]
    assert spread.control == canary.Side(0.0, 40)  # ten each: as even as can be
    assert spread.canary.n == 40 and spread.canary.value == pytest.approx(np.sqrt(3))  # all to one rep of four
    assert spread.verdict == canary.WORSE


def test_the_spread_does_not_grow_with_a_small_arm() -> None:
    """Leads drawn onto 10 reps, two of them with 20% chances and eight with 7.5% (a spread of shares of 0.5): a 10%
    arm and a 90% arm both show about 0.5, where a plain coefficient of variation of the counts grows in the small
    arm with its noise."""
    rng = np.random.default_rng(7)
    shares = [0.2] * 2 + [0.075] * 8

    def mean(n: int, measure: Any) -> float:
        return float(np.mean([measure(rng.multinomial(n, shares).astype(float)) for _ in range(2000)]))

    assert mean(100, canary.spread) == pytest.approx(0.5, abs=0.03)
    assert mean(900, canary.spread) == pytest.approx(0.5, abs=0.03)
    assert mean(100, lambda c: c.std() / c.mean()) > mean(900, lambda c: c.std() / c.mean()) + 0.05


def test_the_board_reads_only_the_declared_metrics_and_its_window(engine: Engine) -> None:
    with session_scope(engine) as session:
        found = start(session, ["lead_conversion", "appeal_rate"])
        built = decided(session, found)
        early = canary.board(session, found.id, now=as_utc(found.started_at) + timedelta(minutes=205))
    assert [row.metric for row in early.rows] == ["lead_conversion", "appeal_rate"]
    assert early.leads == {"control": 10, "canary": 10}  # decided in the first 200 minutes
    assert built["now"] > early.started_at


def test_unknown_metrics_are_refused_by_name(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(Invalid) as refused:
        start(session, ["lead_conversion", "lead_happiness"])
    assert (refused.value.field, refused.value.params["metric"]) == ("metrics", "lead_happiness")


def test_the_commands(run: Any, tmp_path: Path, engine: Engine) -> None:
    policy = tmp_path / "candidate.yaml"
    policy.write_text(CANDIDATE, encoding="utf-8")
    assert run("canary", "status").exit_code == 1
    started = run("canary", "start", str(policy), "--share", "0.1", "--metric", "lead_conversion", "--note", "试")
    assert started.exit_code == 0, started.output
    assert "Canary 1 started: policy version 2 routes 10% of new leads, version 1 the rest." in started.output
    again = run("canary", "start", str(policy), "--share", "0.1")
    assert again.exit_code == 1 and "is running" in again.output
    status = run("canary", "status", "--json")
    board = json.loads(status.stdout)
    assert (board["status"], board["share"], [r["metric"] for r in board["rows"]]) == (
        "running", 0.1, ["lead_conversion"])
    assert "Conversion" in run("canary", "status").output  # the table, wrapped to the terminal
    rolled = run("canary", "rollback", "--reason", "投诉")
    assert rolled.exit_code == 0 and "rolled back" in rolled.output
    assert json.loads(run("canary", "status", "--json").stdout)["status"] == "rolled_back"
    assert run("canary", "promote").exit_code == 1  # nothing runs
    assert run("canary", "start", str(policy), "--share", "0.1").exit_code == 0
    promoted = run("canary", "promote", "--note", "更均匀")
    assert promoted.exit_code == 0 and "saved as version 4" in promoted.output
    with session_scope(engine, readonly=True) as session:
        assert policy_versions.active(session).body == CANDIDATE
        assert [c.status for c in session.scalars(select(Canary).order_by(Canary.id))] == [
            CanaryStatus.ROLLED_BACK, CanaryStatus.PROMOTED]


def test_a_share_over_half_is_refused_by_the_command(run: Any, tmp_path: Path) -> None:
    policy = tmp_path / "candidate.yaml"
    policy.write_text(CANDIDATE, encoding="utf-8")
    refused = run("canary", "start", str(policy), "--share", "0.6")
    assert refused.exit_code == 1 and "at most 0.5" in refused.output


def test_the_endpoints(client: TestClient, org: Org, engine: Engine) -> None:
    body = {"body": CANDIDATE, "share": 0.2, "metrics": ["appeal_rate"], "note": "试"}
    assert client.post("/api/v1/canaries", json=body, headers=org.headers("sup_a")).status_code == 403
    assert client.post("/api/v1/canaries", json={**body, "share": 0.7},
                       headers=org.headers("ops")).status_code == 422
    made = client.post("/api/v1/canaries", json=body, headers=org.headers("ops"))
    assert made.status_code == 201, made.text
    detail = made.json()
    assert (detail["status"], detail["share"], detail["board"]["rows"][0]["metric"]) == ("running", 0.2, "appeal_rate")
    assert client.get(f"/api/v1/canaries/{detail['id']}", headers=org.headers("rep_n1")).status_code == 403
    read = client.get(f"/api/v1/canaries/{detail['id']}", headers=org.headers("auditor"))
    assert read.status_code == 200 and read.json()["board"]["leads"] == {"control": 0, "canary": 0}
    assert [c["id"] for c in client.get("/api/v1/canaries", headers=org.headers("sup_a")).json()] == [detail["id"]]
    ended = client.post(f"/api/v1/canaries/{detail['id']}/rollback", json={"reason": "appeals"},
                        headers=org.headers("admin"))
    assert ended.status_code == 200 and ended.json()["status"] == "rolled_back"
    again = client.post(f"/api/v1/canaries/{detail['id']}/rollback", json={}, headers=org.headers("admin"))
    assert again.status_code == 409
    second = client.post("/api/v1/canaries", json=body, headers=org.headers("ops")).json()
    promoted = client.post(f"/api/v1/canaries/{second['id']}/promote", json={"note": "ok"}, headers=org.headers("ops"))
    assert promoted.status_code == 200 and promoted.json()["canary"]["status"] == "promoted"
    with session_scope(engine, readonly=True) as session:
        assert policy_versions.active(session).version == promoted.json()["version"]
        assert session.scalar(select(Lead.id).limit(1)) is not None  # the org's leads are untouched
