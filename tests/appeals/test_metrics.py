"""Appeal metrics on hand-made sets: counts, hours to decision, outcome shares, per team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evenhand.appeals.metrics import AppealFact, by_team, figures

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def fact(team: int | None, status: str, hours: float | None = None) -> AppealFact:
    return AppealFact(team, status, T0, None if hours is None else T0 + timedelta(hours=hours))


SET = [fact(1, "upheld", 1), fact(1, "reassigned", 3), fact(1, "rescored", 8), fact(1, "open"),
       fact(2, "upheld", 0.5), fact(2, "upheld", 1.5), fact(2, "withdrawn"), fact(None, "open")]


def test_overall_figures() -> None:
    f = figures(SET)
    assert (f.count, f.open, f.decided, f.withdrawn) == (8, 2, 5, 1)
    assert f.median_hours == pytest.approx(1.5) and f.mean_hours == pytest.approx(14 / 5)
    assert f.outcomes == pytest.approx({"upheld": 3 / 5, "rescored": 1 / 5, "reassigned": 1 / 5})


def test_per_team_figures_in_team_order_with_no_team_last() -> None:
    teams = by_team(SET)
    assert list(teams) == [1, 2, None]
    one, two, none = teams[1], teams[2], teams[None]
    assert (one.count, one.open, one.decided, one.median_hours, one.mean_hours) == (4, 1, 3, 3.0, 4.0)
    assert one.outcomes == pytest.approx({"upheld": 1 / 3, "rescored": 1 / 3, "reassigned": 1 / 3})
    assert (two.decided, two.withdrawn, two.median_hours, two.outcomes["upheld"]) == (2, 1, 1.0, 1.0)
    assert (none.count, none.decided, none.median_hours, none.outcomes["upheld"]) == (1, 0, None, None)


def test_nothing_at_all() -> None:
    f = figures([])
    assert (f.count, f.median_hours, f.mean_hours) == (0, None, None)
    assert f.outcomes == {"upheld": None, "rescored": None, "reassigned": None}
    assert by_team([]) == {}
