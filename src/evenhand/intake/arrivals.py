"""Leads posted at the same moment are taken in and routed together (``kit.groupcommit``).

A request hands its lead and the credentials it came with to ``Arrivals.take`` and waits. The group that carries
it signs each sender in within its own transaction (``deps.authenticate``, once per credentials); a lead whose
sender may not write is refused alone, with the error signing in gave, and the others go on. The rest are taken
in by one ``flows.take_in`` per actor and dedup rule, in the same transaction. Every lead still gets its own
decision, evidence and audit entries, exactly as if routed alone (tests/routing/test_router.py), and the response
waits until its group is committed. The group's writer owns the transaction: a request that uses this must not
hold a write transaction of its own while it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.deps import Credentials, authenticate, may_write
from evenhand.errors import Forbidden, Unauthorized
from evenhand.intake import flows
from evenhand.kit.groupcommit import GroupCommit, PerEngine
from evenhand.leads.schemas import LeadCreate

Routed = flows.Routed
Refused = Unauthorized | Forbidden


@dataclass(frozen=True)
class _Arrival:
    data: LeadCreate
    sent: Credentials | Principal  # a principal: signed in already (in process)
    dedup: tuple[str, ...]


def _take_in(session: Session, arrivals: Sequence[_Arrival]) -> list[Routed | Refused]:
    """Each sender signed in, then one batch per actor and dedup rule (each audit entry names its own actor),
    arrival order kept within each; the results in the arrivals' order, a refused lead's error in its place."""
    signed: dict[Credentials | Principal, Principal | Refused] = {}
    for arrival in arrivals:
        if isinstance(arrival.sent, Principal):
            signed[arrival.sent] = arrival.sent
        elif arrival.sent not in signed:
            try:
                signed[arrival.sent] = may_write(authenticate(session, arrival.sent))
            except (Unauthorized, Forbidden) as refused:
                signed[arrival.sent] = refused
    results: dict[int, Routed | Refused] = {}
    taken: list[tuple[tuple[int, tuple[str, ...]], int, Principal]] = []
    for i, arrival in enumerate(arrivals):
        actor = signed[arrival.sent]
        if isinstance(actor, Refused):
            results[i] = actor
        else:
            taken.append(((actor.user_id, arrival.dedup), i, actor))
    taken.sort(key=lambda one: one[0])  # stable
    for (_, dedup), run in groupby(taken, key=lambda one: one[0]):
        batch = list(run)
        routed = flows.take_in(session, [arrivals[i].data for _, i, _ in batch], actor=batch[0][2], dedup=dedup)
        results.update(zip([i for _, i, _ in batch], routed, strict=True))
    return [results[i] for i in range(len(arrivals))]


class Arrivals(GroupCommit[_Arrival, Routed]):
    """The queue of one database for leads posted one at a time."""

    def __init__(self, engine: Engine, *, max_group: int = 200, gather_ms: float = 2.0) -> None:
        super().__init__(engine, _take_in, max_group=max_group, gather_ms=gather_ms)

    def take(self, data: LeadCreate, *, sent: Credentials | Principal, dedup: Sequence[str]) -> Routed:
        """Intake and route one lead sent with these credentials (or by this principal, signed in already); returns
        once the transaction carrying it has committed, or raises what signing its sender in raised
        (``Unauthorized``, ``Forbidden``)."""
        return self.submit(_Arrival(data, sent, tuple(dedup)))

    async def take_async(self, data: LeadCreate, *, sent: Credentials | Principal, dedup: Sequence[str]) -> Routed:
        """``take`` for a request served on the event loop: it waits without a thread, and takes one only to write
        a group of several or to wait for the write lock (``GroupCommit.submit_async``)."""
        return await self.submit_async(_Arrival(data, sent, tuple(dedup)))


arrivals_for = PerEngine(Arrivals)
