"""Score distribution per source channel per week (R4.1), as a pure summary."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from evenhand.leads.distribution import summarise, week_start

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_weeks_start_on_monday_in_the_organisations_zone() -> None:
    # Sunday 2026-11-22 20:00 UTC is already Monday 04:00 in Shanghai.
    assert week_start(datetime(2026, 11, 22, 20, tzinfo=UTC), SHANGHAI) == date(2026, 11, 23)
    assert week_start(datetime(2026, 11, 22, 15, tzinfo=UTC), SHANGHAI) == date(2026, 11, 16)


def test_quartiles_bands_and_unscored_leads() -> None:
    at = datetime(2026, 11, 24, 2, tzinfo=UTC)
    rows = [("website", at, s) for s in (10, 50, 60, 90)] + [("website", at, None), ("partner", at, 85)]
    weeks = {w.source: w for w in summarise(rows, SHANGHAI)}
    web = weeks["website"]
    assert (web.leads, web.scored, web.mean) == (5, 4, 52.5)
    assert (web.p25, web.median, web.p75) == (40.0, 55.0, 67.5)
    assert web.bands == {"low": 1, "medium": 2, "high": 1}
    assert weeks["partner"].bands == {"low": 0, "medium": 0, "high": 1}


def test_a_week_with_no_scores_has_no_figures() -> None:
    (week,) = summarise([("ads", datetime(2026, 11, 24, tzinfo=UTC), None)], SHANGHAI)
    assert (week.leads, week.scored, week.mean, week.median) == (1, 0, None, None)
