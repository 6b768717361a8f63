"""Leads posted at the same moment are taken in and routed together (``kit.groupcommit``).

A request hands its lead to ``Arrivals.take`` and waits; the group that carries it is taken in by one
``flows.take_in`` per actor and dedup rule, in one transaction. Every lead still gets its own decision, evidence
and audit entries, exactly as if routed alone (tests/routing/test_router.py), and the response waits until its
group is committed. The group's writer owns the transaction: a request that uses this must not hold a write
transaction of its own while it waits (``deps.ReadWriter`` authenticates through a read-only session).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.intake import flows
from evenhand.kit.groupcommit import GroupCommit, PerEngine
from evenhand.leads.schemas import LeadCreate

Routed = flows.Routed


@dataclass(frozen=True)
class _Arrival:
    data: LeadCreate
    actor: Principal
    dedup: tuple[str, ...]

    def key(self) -> tuple[int, tuple[str, ...]]:
        return self.actor.user_id, self.dedup


def _take_in(session: Session, arrivals: Sequence[_Arrival]) -> list[Routed]:
    """One batch per actor and dedup rule (each audit entry names its own actor), arrival order kept within each;
    the results in the arrivals' order."""
    order = sorted(range(len(arrivals)), key=lambda i: arrivals[i].key())  # stable
    results: dict[int, Routed] = {}
    for _, run in groupby(order, key=lambda i: arrivals[i].key()):
        batch = list(run)
        first = arrivals[batch[0]]
        taken = flows.take_in(session, [arrivals[i].data for i in batch], actor=first.actor, dedup=first.dedup)
        results.update(zip(batch, taken, strict=True))
    return [results[i] for i in range(len(arrivals))]


class Arrivals(GroupCommit[_Arrival, Routed]):
    """The queue of one database for leads posted one at a time."""

    def __init__(self, engine: Engine, *, max_group: int = 200, gather_ms: float = 2.0) -> None:
        super().__init__(engine, _take_in, max_group=max_group, gather_ms=gather_ms)

    def take(self, data: LeadCreate, *, actor: Principal, dedup: Sequence[str]) -> Routed:
        """Intake and route one lead; returns once the transaction carrying it has committed."""
        return self.submit(_Arrival(data, actor, tuple(dedup)))

    async def take_async(self, data: LeadCreate, *, actor: Principal, dedup: Sequence[str]) -> Routed:
        """``take`` for a request served on the event loop: it waits without a thread, and takes one only to write
        a group (``GroupCommit.submit_async``)."""
        return await self.submit_async(_Arrival(data, actor, tuple(dedup)))


arrivals_for = PerEngine(Arrivals)
