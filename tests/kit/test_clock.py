"""The clock: UTC, and a frozen moment for work done in a simulated past (the demo's go-live afternoon)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from evenhand.kit.clock import frozen, utcnow

AT = datetime(2026, 11, 27, 13, 5, tzinfo=timezone(timedelta(hours=8)))


def test_frozen_answers_the_moment_in_utc_and_lets_go_after_an_error() -> None:
    with pytest.raises(RuntimeError), frozen(AT):
        assert utcnow() == AT and utcnow().tzinfo is UTC
        with frozen(AT + timedelta(minutes=30)):
            assert utcnow() == AT + timedelta(minutes=30)
        assert utcnow() == AT
        raise RuntimeError("boom")
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_frozen_holds_in_its_own_thread_only() -> None:
    seen: list[datetime] = []
    with frozen(AT):
        worker = threading.Thread(target=lambda: seen.append(utcnow()))
        worker.start()
        worker.join()
        assert utcnow() == AT
    assert seen[0] != AT and abs(seen[0] - datetime.now(UTC)) < timedelta(seconds=5)
