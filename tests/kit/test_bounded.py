"""``kit.bounded.Bounded``: the newest entries kept, the oldest dropped beyond the size, a stored key made newest
again; shared by threads that store at once without losing the bound."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from evenhand.kit.bounded import Bounded


def test_the_oldest_entries_go_first_and_a_stored_key_is_the_newest_again() -> None:
    kept: Bounded[str, int] = Bounded(3)
    kept.store({"a": 1, "b": 2, "c": 3})
    kept.store({"a": 10})  # a is the newest now: b is the oldest
    kept.store({"d": 4})
    assert [kept.get(key) for key in "abcd"] == [10, None, 3, 4]
    assert len(kept) == 3
    kept.clear()
    assert not kept and kept.get("a") is None


def test_threads_storing_at_once_keep_the_bound() -> None:
    kept: Bounded[tuple[int, int], int] = Bounded(100)

    def store(thread: int) -> None:
        for n in range(2_000):
            kept.store({(thread, n): n})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(store, range(4)))
    assert len(kept) == 100
    assert sum(kept.get((thread, 1_999)) == 1_999 for thread in range(4)) >= 1  # the last stored are kept
