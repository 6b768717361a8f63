"""How long a sign-in attempt must wait, from the failures recorded under its keys: the throttle's pure rule.

Each key (an account from one address, an address, an account) lets ``free`` failures pass; after that each
failure makes the next attempt wait ``base`` seconds, doubling with every further failure up to ``ceiling``,
counted from that key's last failure. The wait slows guessing without ever locking anyone out for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Rule:
    free: int
    base: float
    ceiling: float

    def wait(self, failures: int) -> float:
        """Seconds after the last failure before the next attempt is heard."""
        if failures < self.free:
            return 0.0
        return min(self.base * 2.0 ** min(failures - self.free, 64), self.ceiling)


@dataclass(frozen=True)
class Failures:
    count: int
    last: datetime


def remaining(rule: Rule, failures: Failures | None, now: datetime) -> float:
    """Seconds still to wait under this key; 0 when the attempt may go ahead."""
    wait = rule.wait(failures.count) if failures is not None else 0.0
    if failures is None or wait == 0:
        return 0.0
    return min(wait, max(0.0, wait - (now - failures.last).total_seconds()))  # a clock behind never adds
