"""Marking the entities whose facts changed, so the incremental scan judges them (docs/alerts.md: how the scan
stays fast). A mark is written in the transaction of the change: it is there exactly when the change is.

- Every flush of the ORM (``flushed``, registered on every session by ``alerts.tasks``) marks the deals, leads and
  people it wrote: a deal created, moved, given to another owner or closed; a stage change recorded; a lead
  assigned, answered or closed; a person's record; an honesty flag raised or decided (its rep, and the deal and
  lead of the note it flags). No domain below alerts knows of it.
- Leads the intake path writes through the connection (``kit.written``) are marked the same way, once per
  transaction (``wrote``, registered by ``alerts.tasks``).
- Activities come in by ``activities.service.capture_many``, in bulk without the ORM: its hook marks the deals and
  leads of every activity a batch created or changed, whenever it happened (``alerts.tasks``).
- An alert resolved by hand marks its entity: if its rule still holds, the next scan opens a new one.

What a mark cannot see (a write in plain SQL, an activity moved away from a deal: the deal it left) waits for the
daily full scan."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from evenhand.kit.cursor import Prepared, writes
from evenhand.models import Activity, HonestyFlag, Lead, Opportunity, User
from evenhand.models.alerts import AlertMark
from evenhand.models.opportunity import StageChange

MARKS = cast(Table, AlertMark.__table__)
_INSERT = Prepared(writes(MARKS, ["entity_type", "entity_id"]))


def mark(session: Session, entity: str, ids: Iterable[int | None]) -> None:
    """Mark these entities changed (one row each, however often they were marked before)."""
    rows = [{"entity_type": entity, "entity_id": i} for i in sorted({i for i in ids if i})]
    if rows:
        _INSERT.many(session.connection(), rows)


_MARKED = "alerts.marked"  # session.info: (transaction, what its flushes marked outside savepoints)


def _unmarked(session: Session, entity: str, ids: set[int | None]) -> set[int | None]:
    """Those of ``ids`` this transaction's flushes have not marked yet: a lead stored and then assigned in one
    transaction is marked once. What a savepoint marks is not remembered (it may roll back)."""
    if session.in_nested_transaction():
        return ids
    transaction = session.get_transaction()
    found = session.info.get(_MARKED)
    if found is None or found[0] is not transaction:
        found = session.info[_MARKED] = (transaction, set())
    done: set[tuple[str, int | None]] = found[1]
    fresh = {i for i in ids if (entity, i) not in done}
    done.update((entity, i) for i in fresh)
    return fresh


def forget(session: Session) -> None:
    """The marks were taken: what this transaction marked so far no longer stands for a later change."""
    session.info.pop(_MARKED, None)


def wrote(session: Session, entity: str, ids: list[int]) -> None:
    """Rows written past the ORM (``kit.written.wrote``), marked as a flush would mark them."""
    mark(session, entity, _unmarked(session, entity, set(ids)))


def flushed(session: Session, _context: Any) -> None:
    """After each flush: mark what it wrote (``after_flush``, still inside the flush's transaction), once per
    entity and transaction."""
    deals: set[int | None] = set()
    leads: set[int | None] = set()
    reps: set[int | None] = set()
    notes: set[int] = set()
    changed = (obj for obj in session.dirty if session.is_modified(obj, include_collections=False))
    for obj in chain(session.new, changed, session.deleted):
        if isinstance(obj, Opportunity):
            deals.add(obj.id)
        elif isinstance(obj, Lead):
            leads.add(obj.id)
        elif isinstance(obj, User):
            reps.add(obj.id)
        elif isinstance(obj, StageChange):
            deals.add(obj.opportunity_id)
        elif isinstance(obj, Activity):
            deals.add(obj.opportunity_id)
            leads.add(obj.lead_id)
        elif isinstance(obj, HonestyFlag):
            reps.add(obj.rep_id)
            notes.add(obj.activity_id)
    _flagged_notes(session, notes, deals, leads)
    for entity, ids in (("opportunity", deals), ("lead", leads), ("rep", reps)):
        mark(session, entity, _unmarked(session, entity, ids))


def _flagged_notes(session: Session, notes: set[int], deals: set[int | None], leads: set[int | None]) -> None:
    """The deal and lead of each flagged note: their ``unbacked_flags`` changed."""
    if not notes:
        return
    stmt = select(Activity.opportunity_id, Activity.lead_id).where(Activity.id.in_(sorted(notes)))
    for deal, lead in session.connection().execute(stmt):
        deals.add(deal)
        leads.add(lead)
