"""Track A: least recently served first. Properties over random presence changes and lead sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evenhand.routing import PoolState, decide
from tests.routing.factory import NOW, lead, policy, rep, state

POLICY = policy()
# A step is a lead (None) or a presence flip of one rep.
steps = st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=1, max_size=120)


def run(n: int, plan: list[int | None]) -> tuple[list[int], list[list[int]], list[int | None]]:
    """Leads routed through the plan: the winner per lead, each rep's lead indices, and since when each
    rep is continuously online (lead index; None while offline)."""
    online, since = [True] * n, [0] * n
    counts: list[list[int]] = [[] for _ in range(n)]
    winners: list[int] = []
    current = state()
    history = []
    for step in plan:
        if step is not None:
            i = step % n
            online[i] = not online[i]
            since[i] = len(winners) if online[i] else None  # type: ignore[call-overload]
            continue
        reps = [rep(i + 1, presence="online" if online[i] else "offline") for i in range(n)]
        d = decide(lead(len(winners)), reps, POLICY, current, NOW)
        current = d.state_after
        if d.rep_id is not None:
            counts[d.rep_id - 1].append(len(winners))
            winners.append(d.rep_id)
            history.append(list(since))
    return winners, counts, history  # type: ignore[return-value]


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 6), steps)
def test_reps_online_over_a_stretch_get_counts_within_one(n: int, plan: list[int | None]) -> None:
    """For any two reps, over the stretch both were online throughout, their counts differ by at most one.
    This covers reps online the whole time, and a rep back from offline: no burst on return."""
    winners, counts, history = run(n, plan)
    for t in range(len(winners)):
        since = history[t]
        for a in range(n):
            for b in range(a + 1, n):
                if since[a] is None or since[b] is None:
                    continue
                start = max(since[a], since[b])
                got_a = sum(start <= k <= t for k in counts[a])
                got_b = sum(start <= k <= t for k in counts[b])
                assert abs(got_a - got_b) <= 1, (t, a, b, start)


def test_strict_rotation_in_rep_id_order() -> None:
    winners, _, _ = run(4, [None] * 9)
    assert winners == [1, 2, 3, 4, 1, 2, 3, 4, 1]


def test_returning_rep_gets_the_next_lead_once_then_queues() -> None:
    # rep 3 goes offline after the first lead, misses four, comes back: one lead, then normal rotation.
    winners, _, _ = run(3, [None, 2, None, None, None, None, 2, None, None, None, None])
    assert winners == [1, 2, 1, 2, 1, 3, 2, 1, 3]


def test_rotation_is_kept_per_region_when_membership_follows_the_lead() -> None:
    p = policy([{"id": "all", "members": {"match_lead": ["region"]}}])
    reps = [rep(1), rep(2, region="south"), rep(3), rep(4, region="south"), rep(5)]
    current, got = state(), []
    for k, region in enumerate(["east", "south", "east", "east", "south", "east", "south", "east"]):
        d = decide(lead(k, region=region), reps, p, current, NOW)
        current = d.state_after
        got.append(d.rep_id)
    assert got == [1, 2, 3, 5, 4, 1, 2, 3]


def test_a_new_member_is_served_next_and_only_once() -> None:
    before = PoolState("all", seq=6, ticket=6, served={1: 5, 2: 6})
    current, got = before, []
    for k in range(4):
        d = decide(lead(k), [rep(1), rep(2), rep(9)], POLICY, current, NOW)
        current = d.state_after
        got.append(d.rep_id)
    assert got == [9, 1, 2, 9]
