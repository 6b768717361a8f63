"""The change log of the demo year, including windows that cut the incident short or miss it."""

from __future__ import annotations

from datetime import date, timedelta

from evenhand.demo.changes import plan_changes
from evenhand.demo.frame import Frame
from evenhand.demo.simulate import simulate
from evenhand.demo.worktime import local_date

BANNED = ("丢失", "故障", "失败", "bug", "lost", "incident", "兼容")


def titles(end: date) -> list[str]:
    return [e["title"] for e in plan_changes(Frame.build(end)).entries]


def test_full_window_has_upgrade_and_sms_fallback_five_to_six_weeks_apart() -> None:
    plan = plan_changes(Frame.build(date(2026, 11, 27)))
    assert plan.upgrade_at is not None and plan.sms_fallback_at is not None
    assert local_date(plan.upgrade_at) == date(2026, 8, 15)
    gap = local_date(plan.sms_fallback_at) - local_date(plan.upgrade_at)
    assert timedelta(weeks=5) <= gap <= timedelta(weeks=6, days=3)


def test_window_ending_before_the_fallback_records_only_the_upgrade() -> None:
    plan = plan_changes(Frame.build(date(2026, 9, 1)))
    assert plan.upgrade_at is not None and plan.sms_fallback_at is None
    assert "启用短信备用通道" not in titles(date(2026, 9, 1))


def test_window_without_room_for_the_incident_has_no_incident() -> None:
    plan = plan_changes(Frame.build(date(2026, 8, 20)))  # 2025-08-15 is too close to the window start
    assert plan.upgrade_at is not None  # 2026-08-15 is inside
    early = plan_changes(Frame.build(date(2026, 8, 10)))
    assert early.upgrade_at is None and early.sms_fallback_at is None
    assert not any(r.android_push_bug for r in early.releases)


def test_entries_do_not_describe_the_bug() -> None:
    for entry in plan_changes(Frame.build(date(2026, 11, 27))).entries:
        text = f"{entry['title']} {entry['description']} {entry['affected_metrics']}".lower()
        assert not any(word in text for word in BANNED), entry["title"]


def test_small_builds_work_for_any_end_date() -> None:
    for end in (date(2026, 8, 10), date(2026, 9, 1), date(2027, 3, 15)):
        world = simulate(3, end, scale=0.02)
        assert {t.name for t in world.tables} >= {"leads", "activities", "notifications", "opportunities"}
