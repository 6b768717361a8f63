"""Drawing a month's peer review: pure and seeded, so anyone can draw a cycle again from its recorded seed.

The rules:

1. The peers are the cycle's active reps, each with their team (a rep without a team is a team of their own).
   Every peer reviews and is reviewed.
2. Each peer is reviewed by exactly ``per_reviewer`` others, never by themself, never by a member of their own
   team, never twice by the same reviewer; each peer writes exactly ``per_reviewer`` reviews, so the load is even
   (with every rep both reviewing and reviewed, an even load, max − min ≤ 1, means the same count for everyone).
3. Order: ``random.Random(seed)`` gives each peer, in ascending user id, one ``random()`` key (the one part of the
   standard library's generator Python promises to keep across versions). Reviewees are served in key order; each
   slot goes to the eligible reviewer with the lightest load, ties broken by the distance of their keys around the
   circle of peers. A slot no eligible reviewer with room is left for is filled by moving earlier choices along an
   augmenting path (breadth first, in the same order), as a flow would: the draw succeeds whenever one exists.

``problem`` names the usual reasons a draw cannot be made (too few peers outside a team, a team holding more than
half of them) before anything is drawn. Some shapes fail for neither (teams of 1, 3 and 3 with 4 reviews each:
the lone rep would get 6 reviewers); ``draw`` then answers None, and only when no draw exists (a test holds it to a
maximum flow).
"""

from __future__ import annotations

import random
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evenhand.i18n import N_

SEED_BITS = 31  # the seed column (migration 0010) is a signed 32-bit integer on PostgreSQL
MIN_THRESHOLD = 3
Pair = tuple[int, int]  # (reviewer id, reviewee id)


@dataclass(frozen=True)
class Peer:
    user_id: int
    team_id: int | None


@dataclass(frozen=True)
class Problem:
    """Why the draw cannot be made: an English message template and its parameters."""

    message: str
    params: dict[str, Any]


def new_seed() -> int:
    """A fresh seed from the operating system's randomness, for a draw nobody chose."""
    return secrets.randbits(SEED_BITS)


def team_of(peer: Peer) -> int:
    """The team a peer is kept apart from: their team, or (without one) a team of their own."""
    return peer.team_id if peer.team_id is not None else -peer.user_id


def problem(peers: Sequence[Peer], per_reviewer: int) -> Problem | None:
    """Whether ``per_reviewer`` reviewers from other teams can be drawn for every peer, with an even load."""
    sizes: dict[int, int] = {}
    for peer in peers:
        sizes[team_of(peer)] = sizes.get(team_of(peer), 0) + 1
    n = len(peers)
    if n == 0:
        return Problem(N_("There are no active reps to review."), {})
    team, largest = max(sorted(sizes.items()), key=lambda item: item[1])
    if n - largest < per_reviewer:
        return Problem(N_("Each rep needs {per_reviewer} reviewers from other teams, but a team of {size} reps has "
                          "only {others} reps outside it."),
                       {"per_reviewer": per_reviewer, "size": largest, "others": n - largest, "team": team})
    if largest > n - largest:
        return Problem(N_("A team holds {size} of the {count} reps: its members cannot each review {per_reviewer} "
                          "reps of other teams while everyone else does the same."),
                       {"per_reviewer": per_reviewer, "size": largest, "count": n, "team": team})
    return None


def draw(peers: Sequence[Peer], per_reviewer: int, seed: int) -> list[Pair] | None:
    """Every (reviewer, reviewee) pair under ``seed``, sorted; None when no draw meets the rules."""
    if problem(peers, per_reviewer) is not None:
        return None
    state = _State.start(sorted(peers, key=lambda p: p.user_id), per_reviewer, seed)
    for reviewee in state.order:
        while len(state.reviewers[reviewee]) < per_reviewer:
            if not (state.take_direct(reviewee) or state.augment(reviewee)):
                return None
    return sorted((r, s) for s, rs in state.reviewers.items() for r in rs)


@dataclass
class _State:
    teams: dict[int, int]  # user → team
    keys: dict[int, float]  # user → random key
    order: list[int]  # users by key
    per_reviewer: int
    reviewers: dict[int, set[int]]  # reviewee → reviewers
    load: dict[int, int]  # reviewer → reviews to write

    @classmethod
    def start(cls, peers: Sequence[Peer], per_reviewer: int, seed: int) -> _State:
        rng = random.Random(seed)
        keys = {p.user_id: rng.random() for p in peers}
        return cls({p.user_id: team_of(p) for p in peers}, keys, sorted(keys, key=lambda u: (keys[u], u)),
                   per_reviewer, {p.user_id: set() for p in peers}, {p.user_id: 0 for p in peers})

    def eligible(self, reviewer: int, reviewee: int) -> bool:
        return self.teams[reviewer] != self.teams[reviewee] and reviewer not in self.reviewers[reviewee]

    def candidates(self, reviewee: int) -> list[int]:
        """Eligible reviewers, lightest load first, then by the distance of their key from the reviewee's."""
        mine = self.keys[reviewee]
        return sorted((r for r in self.order if self.eligible(r, reviewee)),
                      key=lambda r: (self.load[r], (self.keys[r] - mine) % 1.0, r))

    def take_direct(self, reviewee: int) -> bool:
        free = [r for r in self.candidates(reviewee) if self.load[r] < self.per_reviewer]
        if free:
            self.reviewers[reviewee].add(free[0])
            self.load[free[0]] += 1
        return bool(free)

    def augment(self, reviewee: int) -> bool:
        """Find reviewer r1 (full) for ``reviewee``, who hands one of their reviewees s1 to r2, … until a reviewer
        with room takes the last one over; apply the path. Breadth first, so the shortest path wins."""
        came: dict[int, tuple[int, int] | None] = {}  # reviewer → (the reviewee they would take, previous reviewer)
        queue: deque[tuple[int, int | None]] = deque((r, None) for r in self.candidates(reviewee))
        for r, _ in queue:
            came[r] = (reviewee, -1)
        while queue:
            reviewer, _ = queue.popleft()
            if self.load[reviewer] < self.per_reviewer:
                self._apply(came, reviewer)
                return True
            for handed in sorted(s for s, rs in self.reviewers.items() if reviewer in rs):
                for nxt in self.candidates(handed):
                    if nxt not in came:
                        came[nxt] = (handed, reviewer)
                        queue.append((nxt, reviewer))
        return False

    def _apply(self, came: dict[int, tuple[int, int] | None], last: int) -> None:
        self.load[last] += 1
        reviewer: int = last
        while True:
            step = came[reviewer]
            assert step is not None
            reviewee, previous = step
            self.reviewers[reviewee].add(reviewer)
            if previous == -1:
                return
            self.reviewers[reviewee].discard(previous)
            reviewer = previous


TRIM_FROM = 5  # from this many ratings, the single highest and lowest of each dimension are left out


def trimmed_mean(ratings: Sequence[int]) -> tuple[float, bool]:
    """The mean of ``ratings`` (rounded to two places) and whether the extremes were trimmed: from ``TRIM_FROM``
    ratings on, one highest and one lowest are dropped, so one outlier neither lifts nor sinks a colleague."""
    ordered = sorted(ratings)
    trimmed = len(ordered) >= TRIM_FROM
    kept = ordered[1:-1] if trimmed else ordered
    return round(sum(kept) / len(kept), 2), trimmed
