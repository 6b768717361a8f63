"""The time left before a waiting lead's message escalates, as the home page words it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evenhand.i18n import t
from evenhand.notify.service import WaitingLead
from evenhand.routing.home_pages import countdown, span

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def said(escalate_at: datetime | None, *, escalated: bool = False, locale: str = "en") -> tuple[str, bool]:
    waiting = WaitingLead(1, 2, "苏州精密制造", 72, NOW - timedelta(minutes=5), escalate_at, escalated)
    template, params, overdue = countdown(waiting, NOW)

    def tr(text: str, **kw: object) -> str:
        return t(text, locale, **kw)

    return tr(template, **{k: span(v, tr) for k, v in params.items()}), overdue


def test_minutes_left_rounded_up_then_overdue() -> None:
    assert said(NOW + timedelta(minutes=22, seconds=10)) == ("Escalates in 23 min", False)
    assert said(NOW + timedelta(minutes=95)) == ("Escalates in 1 h 35 min", False)
    assert said(NOW - timedelta(minutes=5, seconds=30)) == ("Overdue by 5 min", True)
    assert said(NOW) == ("Overdue by 0 min", True)


def test_no_step_left_and_no_policy() -> None:
    assert said(None, escalated=True) == ("Escalated", True)
    assert said(None) == ("No deadline", False)
    assert said(NOW + timedelta(minutes=23), locale="zh-CN") == ("23 分钟后升级", False)
