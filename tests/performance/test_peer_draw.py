"""The pure draw of a peer review cycle: the rules hold for any company the draw accepts, the draw is refused exactly
when a maximum flow says it cannot be made (naming the reason where it is one of the usual), and a seed always
draws the same pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from evenhand.performance import peer
from evenhand.performance.peer import Peer


def company(sizes: list[int], loners: int = 0) -> list[Peer]:
    """Teams of the given sizes (team ids from 1), then ``loners`` reps without a team; user ids from 10."""
    peers: list[Peer] = []
    uid = 10
    for team, size in enumerate(sizes, start=1):
        for _ in range(size):
            peers.append(Peer(uid, team))
            uid += 1
    peers.extend(Peer(uid + i, None) for i in range(loners))
    return peers


def check_rules(peers: list[Peer], pairs: list[tuple[int, int]], k: int) -> None:
    teams = {p.user_id: peer.team_of(p) for p in peers}
    assert len(set(pairs)) == len(pairs) == len(peers) * k
    assert all(r != s and teams[r] != teams[s] for r, s in pairs)
    reviewed, writing = Counter(s for _, s in pairs), Counter(r for r, _ in pairs)
    assert set(reviewed.values()) == {k} and set(writing.values()) == {k}
    assert set(reviewed) == set(writing) == set(teams)


def possible(peers: list[Peer], k: int) -> bool:
    """The oracle: a maximum flow (scipy) from reviewers (k each) to reviewees (k each) over cross-team pairs."""
    n = len(peers)
    graph = np.zeros((2 * n + 2, 2 * n + 2), np.int32)
    graph[0, 1:n + 1] = k
    graph[n + 1:2 * n + 1, 2 * n + 1] = k
    for i, a in enumerate(peers):
        for j, b in enumerate(peers):
            graph[1 + i, n + 1 + j] = int(peer.team_of(a) != peer.team_of(b))
    return int(maximum_flow(csr_matrix(graph), 0, 2 * n + 1).flow_value) == n * k


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=6), loners=st.integers(0, 3),
       k=st.integers(1, 5), seed=st.integers(0, 2**63 - 1))
def test_any_draw_keeps_the_rules_and_is_refused_only_when_none_exists(sizes: list[int], loners: int, k: int,
                                                                      seed: int) -> None:
    peers = company(sizes, loners)
    pairs = peer.draw(peers, k, seed)
    assert (pairs is not None) == possible(peers, k)
    if pairs is not None:
        assert peer.problem(peers, k) is None
        check_rules(peers, pairs, k)


def test_a_draw_impossible_for_no_named_reason() -> None:
    """Teams of 1, 3 and 3 with 4 reviews each: every rep of the larger teams must review the lone rep, who would
    get 6 reviewers instead of 4. The service refuses it with the general message."""
    assert peer.problem(company([1, 3, 3]), 4) is None
    assert peer.draw(company([1, 3, 3]), 4, 0) is None and not possible(company([1, 3, 3]), 4)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5), seed=st.integers(0, 2**63 - 1))
def test_the_same_seed_draws_the_same_pairs_whatever_the_order_read(sizes: list[int], seed: int) -> None:
    peers = company(sizes)
    assert peer.draw(peers, 1, seed) == peer.draw(list(reversed(peers)), 1, seed)


def test_a_seed_is_pinned_so_a_stored_cycle_can_be_drawn_again() -> None:
    """Changing the algorithm would make every stored cycle draw differently from its seed."""
    pairs = peer.draw(company([2, 1, 2], loners=1), 3, 2026)
    assert pairs == [(10, 12), (10, 13), (10, 14), (11, 13), (11, 14), (11, 15), (12, 10), (12, 11), (12, 15),
                     (13, 10), (13, 12), (13, 15), (14, 10), (14, 11), (14, 12), (15, 11), (15, 13), (15, 14)]
    assert peer.draw(company([2, 1, 2], loners=1), 3, 2027) != pairs


def test_too_few_reps_outside_a_team_is_named() -> None:
    found = peer.problem(company([3, 1, 1]), 3)
    assert found is not None and found.params == {"per_reviewer": 3, "size": 3, "others": 2, "team": 1}
    assert "only {others} reps outside it" in found.message


def test_a_team_holding_more_than_half_is_named() -> None:
    found = peer.problem(company([5, 2, 2]), 3)
    assert found is not None and found.params["size"] == 5 and found.params["count"] == 9
    assert peer.draw(company([5, 2, 2]), 3, 1) is None
    assert peer.problem(company([4, 2, 2]), 3) is None


def test_no_reps_at_all() -> None:
    assert peer.problem([], 3) == peer.Problem("There are no active reps to review.", {})


def test_the_extremes_are_trimmed_from_five_ratings() -> None:
    assert peer.trimmed_mean([5, 4, 3]) == (4.0, False)
    assert peer.trimmed_mean([1, 4, 4, 5]) == (3.5, False)
    assert peer.trimmed_mean([1, 4, 4, 4, 5]) == (4.0, True)  # one 1 and one 5 left out
    assert peer.trimmed_mean([5, 5, 5, 1, 1, 3]) == (3.5, True)  # only one of each extreme goes
    assert peer.trimmed_mean([2, 3, 3]) == (2.67, False)
