"""The throttle's rule: free failures, then a wait that doubles with each failure, up to a ceiling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evenhand.auth.backoff import Failures, Rule, remaining

RULE = Rule(free=5, base=1.0, ceiling=900.0)
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("failures, wait", [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (14, 512), (15, 900),
                                            (10_000, 900)])
def test_wait_doubles_past_the_free_failures_up_to_the_ceiling(failures: int, wait: float) -> None:
    assert RULE.wait(failures) == wait


@pytest.mark.parametrize("since, left", [(0, 32), (30.5, 1.5), (32, 0), (3600, 0)])
def test_remaining_counts_from_the_last_failure(since: float, left: float) -> None:
    assert remaining(RULE, Failures(10, T), T + timedelta(seconds=since)) == left


def test_no_failures_no_wait() -> None:
    assert remaining(RULE, None, T) == 0


@pytest.mark.parametrize("failures, left", [(2, 0), (5, 1), (10, 32)])
def test_a_failure_stamped_after_now_never_adds_to_the_wait(failures: int, left: float) -> None:
    """Another process may record a failure a moment after this one read the clock."""
    assert remaining(RULE, Failures(failures, T + timedelta(seconds=2)), T) == left
