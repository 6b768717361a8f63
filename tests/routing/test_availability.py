"""Every exclusion reason, their order, and working hours in the rep's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from evenhand.routing import Verdict, decide
from evenhand.routing.availability import in_working_hours
from tests.routing.factory import NOW, OFFICE, lead, policy, rep, state

STRICT = {"availability": {"weekly_lead_cap": 30}, "weighted": {"max_per_day": 2, "max_per_week": 5}}
POOLS = [{"id": "key", "condition": "lead.company_size != null && lead.company_size >= 300", "key_account": True,
          "members": {"departments": ["key_accounts"]}},
         {"id": "all", "members": {"departments": ["smb"], "levels": ["junior", "senior"], "match_lead": ["region"]}}]


def verdict(score: int = 50, other: dict[str, Any] | None = None, at: datetime = NOW, **overrides: Any) -> Verdict:
    """The verdict for rep 2 (overrides applied) beside rep 1, who is always available."""
    d = decide(lead(score=score, **(other or {})), [rep(1), rep(2, **overrides)], policy(POOLS, **STRICT),
               state("key" if other and other.get("company_size") else "all"), at)
    found = d.verdict_for(2)
    assert found is not None
    return found


@pytest.mark.parametrize(("overrides", "code", "params"), [
    ({"department": "channel"}, "not_in_pool", {"criterion": "departments", "wanted": ["smb"]}),
    ({"region": "south"}, "not_in_pool", {"criterion": "region", "wanted": ["east"]}),
    ({"left_on": date(2026, 3, 1), "active": False}, "departed", {"left_on": "2026-03-01"}),
    ({"active": False}, "inactive", {}),
    ({"leaves": ((date(2026, 3, 2), date(2026, 3, 6)),)}, "on_leave", {"from": "2026-03-02", "to": "2026-03-06"}),
    ({"presence": "offline"}, "offline", {"since": NOW.isoformat()}),
    ({"presence": "away"}, "away", {"since": NOW.isoformat()}),
    ({"working_hours": {"mon": (("14:00", "18:00"),)}}, "outside_working_hours",
     {"local_time": "Mon 10:00", "timezone": "Asia/Shanghai"}),
    ({"open_leads": 50, "max_open_leads": 50}, "at_open_capacity", {"count": 50, "cap": 50}),
    ({"leads_today": 20, "daily_lead_cap": 20}, "at_daily_cap", {"count": 20, "cap": 20}),
    ({"leads_this_week": 30}, "at_weekly_cap", {"count": 30, "cap": 30}),
    ({"leads_this_week": 40, "weekly_lead_cap": 45}, "not_this_turn", {"last_served": None, "ticket": 1,
                                                                         "chosen": 1}),
])
def test_each_exclusion_reason(overrides: dict[str, Any], code: str, params: dict[str, Any]) -> None:
    found = verdict(**overrides)
    assert found is not None and (found.code, dict(found.params)) == (code, params)


def test_high_value_caps_apply_on_the_weighted_track_only() -> None:
    assert verdict(score=90, high_value_today=2).code == "at_high_value_daily_cap"
    assert verdict(score=90, high_value_this_week=5).code == "at_high_value_weekly_cap"
    assert verdict(score=50, high_value_today=2).code == "not_this_turn"


def test_key_account_pool_needs_the_grant() -> None:
    big = {"company_size": 800}
    assert verdict(other=big, department="key_accounts").code == "no_key_account_grant"
    assert verdict(other=big, department="key_accounts", grants=("key_account",)).code in ("chosen", "not_this_turn")


def test_later_reasons_are_kept_in_also() -> None:
    found = verdict(active=False, presence="offline", leads_today=20)
    assert found.code == "inactive" and found.also == ("offline", "at_daily_cap")


def test_away_counts_when_the_policy_says_so() -> None:
    d = decide(lead(), [rep(1, presence="away")], policy(availability={"away_counts": True}), state(), NOW)
    assert d.rep_id == 1


def test_blank_lead_value_skips_a_match_lead_criterion() -> None:
    assert verdict(other={"region": None}, region="south").code in ("chosen", "not_this_turn")


def test_leave_and_departure_use_the_reps_local_date() -> None:
    late = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # Sunday 17:00 UTC = Monday 01:00 in Shanghai
    leave = {"leaves": ((date(2026, 3, 2), date(2026, 3, 2)),)}
    assert verdict(at=late, **leave).code == "on_leave"
    assert verdict(at=late, timezone="Europe/London", **leave).code != "on_leave"
    assert verdict(at=late, left_on=date(2026, 3, 2)).code == "departed"


class TestWorkingHours:
    def at(self, zone: str, *args: int) -> datetime:
        return datetime(*args, tzinfo=ZoneInfo(zone))

    def test_office_hours_edges(self) -> None:
        assert in_working_hours(OFFICE, self.at("Asia/Shanghai", 2026, 3, 2, 9, 0))
        assert in_working_hours(OFFICE, self.at("Asia/Shanghai", 2026, 3, 2, 17, 59))
        assert not in_working_hours(OFFICE, self.at("Asia/Shanghai", 2026, 3, 2, 18, 0))
        assert not in_working_hours(OFFICE, self.at("Asia/Shanghai", 2026, 3, 7, 10, 0))  # Saturday

    def test_overnight_interval_spills_into_the_next_day(self) -> None:
        night = {"sun": (("22:00", "02:00"),)}
        assert in_working_hours(night, self.at("UTC", 2026, 3, 1, 23, 30))  # Sunday night
        assert in_working_hours(night, self.at("UTC", 2026, 3, 2, 1, 59))  # Monday small hours
        assert not in_working_hours(night, self.at("UTC", 2026, 3, 2, 2, 0))
        assert not in_working_hours(night, self.at("UTC", 2026, 3, 1, 1, 0))  # Sunday small hours: Saturday off

    def test_whole_day_and_no_schedule(self) -> None:
        assert in_working_hours({"mon": (("00:00", "00:00"),)}, self.at("UTC", 2026, 3, 2, 23, 59))
        assert in_working_hours({}, self.at("UTC", 2026, 3, 7, 3, 0))
        assert not in_working_hours({"mon": ()}, self.at("UTC", 2026, 3, 2, 12, 0))

    def test_same_instant_differs_by_zone(self) -> None:
        instant = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, 17:30 Sunday in Los Angeles
        assert verdict(at=instant, working_hours=OFFICE).code in ("chosen", "not_this_turn")
        found = verdict(at=instant, working_hours=OFFICE, timezone="America/Los_Angeles")
        assert found.code == "outside_working_hours" and found.params["local_time"] == "Sun 17:30"

    def test_daylight_saving_is_the_zones_own(self) -> None:
        # 2026-03-08 is the US switch to summer time: 13:30 UTC is 08:30 in New York before, 09:30 after.
        ny = {d: (("09:00", "17:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}
        before, after = datetime(2026, 3, 6, 13, 30, tzinfo=UTC), datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
        assert verdict(at=before, working_hours=ny, timezone="America/New_York").code == "outside_working_hours"
        assert verdict(at=after, working_hours=ny, timezone="America/New_York").code != "outside_working_hours"
