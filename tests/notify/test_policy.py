"""The pure rules: escalation steps, backoff, quiet hours, digests and rate budgets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine

from evenhand.app import create_app
from evenhand.config import Settings
from evenhand.models import Channel
from evenhand.notify.policy import (
    DEFAULT_POLICIES,
    Due,
    EscalationPolicy,
    backoff,
    check_policies,
    digest_key,
    group,
    policies,
    quiet_until,
    within_budget,
)
from evenhand.notify.worker import Worker

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_new_lead_policy_is_fifteen_minutes_then_sms_then_the_supervisor() -> None:
    policy = DEFAULT_POLICIES["lead_assigned"]
    assert policy.steps() == [("fallback", 15.0), ("supervisor", 15.0)]
    assert policy.fallback is Channel.SMS and policy.reassign
    assert policy.due_after(0, T0) == T0 + timedelta(minutes=15)
    assert policy.due_after(1, T0) == T0 + timedelta(minutes=15)
    assert policy.due_after(2, T0) is None


def test_without_a_fallback_the_supervisor_comes_at_the_first_deadline() -> None:
    policy = EscalationPolicy(ack_within_minutes=5, fallback=None, supervisor_after_minutes=60)
    assert policy.steps() == [("supervisor", 5.0)]
    assert EscalationPolicy(fallback=None, supervisor_after_minutes=None).steps() == []


def test_configured_kinds_lay_over_their_defaults() -> None:
    merged = policies({"lead_assigned": {"ack_within_minutes": 2}, "appeal_filed": {"fallback": "email"}})
    assert merged["lead_assigned"].ack_within_minutes == 2 and merged["lead_assigned"].reassign
    assert merged["appeal_filed"].fallback is Channel.EMAIL and not merged["appeal_filed"].reassign
    assert "alert" in merged


def test_bad_policies_stop_the_start_naming_kind_and_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"notify_policies\.lead_assigned\.ack_within_minutes"):
        check_policies({"lead_assigned": {"ack_within_minutes": 0}})
    with pytest.raises(ValueError, match=r"notify_policies\.x\.fallback"):
        check_policies({"x": {"fallback": "in_app"}})
    bad = Settings(data_dir=tmp_path, notify_policies={"x": {"colour": "red"}})
    with pytest.raises(ValueError, match=r"notify_policies\.x\.colour"):
        create_app(bad, ui=False)
    with pytest.raises(ValueError, match=r"notify_policies\.x\.colour"):
        Worker(create_engine("sqlite://"), bad)


def test_backoff_doubles_up_to_the_cap_with_jitter_between_half_and_all() -> None:
    rng = random.Random(3)
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (4, 40), (9, 600), (30, 600)):
        waits = [backoff(attempt, base=5, cap=600, rng=rng) for _ in range(200)]
        assert ceiling / 2 <= min(waits) and max(waits) <= ceiling
        assert max(waits) - min(waits) > ceiling / 4  # jittered, not one fixed delay


@pytest.mark.parametrize(("local", "start", "end", "until"), [
    ("23:30", "22:00", "08:00", "2026-11-28 08:00"),  # across midnight, before it
    ("07:59", "22:00", "08:00", "2026-11-27 08:00"),  # across midnight, after it
    ("12:00", "22:00", "08:00", None),
    ("12:30", "12:00", "13:30", "2026-11-27 13:30"),
    ("13:30", "12:00", "13:30", None),
    ("12:30", None, None, None),
])
def test_quiet_hours_in_the_persons_zone(local: str, start: str | None, end: str | None, until: str | None) -> None:
    now = datetime.fromisoformat(f"2026-11-27 {local}").replace(tzinfo=SHANGHAI)
    found = quiet_until(now.astimezone(UTC), SHANGHAI, start, end)
    assert (found.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if found else None) == until


def test_rate_limited_targets_send_one_digest_per_recipient_and_keep_earlier_groups() -> None:
    rows = [Due(1, 10, "robot"), Due(2, 10, "robot"), Due(3, 11, "robot"), Due(4, 10, "hook"), Due(5, 10, "hook"),
            Due(6, 10, "robot", digest_key="dg-old"), Due(7, 12, "robot", digest_key="dg-old")]
    groups = {tuple(d.id for d in g) for g in group(rows, {"robot"})}
    assert groups == {(1, 2), (3,), (4,), (5,), (6, 7)}


def test_digest_keys_name_their_members_whatever_the_order() -> None:
    assert digest_key([3, 1, 2]) == digest_key([1, 2, 3]) != digest_key([1, 2])
    assert len(digest_key(range(1000))) <= 80


def test_budgets_let_through_what_fits_and_hold_the_rest() -> None:
    groups = [[Due(i, i, "robot")] for i in range(5)] + [[Due(9, 9, "hook")]]
    go, wait = within_budget(groups, {"robot": 2})
    assert [g[0].id for g in go] == [0, 1, 9]
    assert [g[0].id for g in wait] == [2, 3, 4]
    assert within_budget(groups, {"robot": 0})[0] == [[Due(9, 9, "hook")]]
