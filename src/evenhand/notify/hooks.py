"""What other domains may plug into escalation.

When a lead notification reaches the supervisor step of its policy and the policy says ``reassign``,
notify asks every registered hook whether the lead should go to someone else. Routing registers one
in ``routing/tasks.py`` (the worker imports every domain's ``tasks`` module)::

    from evenhand.notify import hooks

    @hooks.on_unacknowledged_lead
    def maybe_reassign(session, event, now):
        ...  # decide by the routing policy; reassign in this transaction and return a note, or None

A hook runs in the escalation's transaction, inside a savepoint: if it raises, its writes are undone,
the escalation still happens, and the error is recorded in the escalation's audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnacknowledgedLead:
    lead_id: int
    rep_id: int  # the owner who did not acknowledge
    message_id: int  # the inbox row of the "new lead" notification
    waited_minutes: float


LeadHook = Callable[[Session, UnacknowledgedLead, datetime], str | None]
_lead_hooks: list[LeadHook] = []


def on_unacknowledged_lead(hook: LeadHook) -> LeadHook:
    """Register ``hook`` (once, however often its module is imported); usable as a decorator."""
    if hook not in _lead_hooks:
        _lead_hooks.append(hook)
    return hook


def remove(hook: LeadHook) -> None:
    if hook in _lead_hooks:
        _lead_hooks.remove(hook)


def unacknowledged_lead(session: Session, event: UnacknowledgedLead, now: datetime) -> list[str]:
    """Run every hook; each one's note, or the error that stopped it."""
    notes = []
    for hook in list(_lead_hooks):
        try:
            with session.begin_nested():
                note = hook(session, event, now)
        except Exception as exc:  # one hook's failure must not stop the escalation
            log.exception("lead hook %s failed for lead %s", getattr(hook, "__name__", hook), event.lead_id)
            note = f"error in {getattr(hook, '__qualname__', hook)}: {type(exc).__name__}: {exc}"
        if note:
            notes.append(note[:500])
    return notes
