"""Versioned configuration documents (scoring model, routing policy, …): one active version, each save
a new numbered version with its diff in the audit log."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from evenhand.kit import audit
from evenhand.kit.once import get_or_create
from evenhand.kit.text import require_clean

V = TypeVar("V")


@cache
def _active_of(model: Any) -> Select[Any]:
    return select(model).where(model.active.is_(True))  # built once per kind: it is read on every intake


def active(session: Session, model: type[V], make_first: Callable[[], V]) -> V:
    """The active version; the first caller on a new database installs ``make_first()`` as version 1."""
    table: Any = model  # any mapped class with ``version``, ``active`` and ``body``
    found = session.scalar(_active_of(table))
    if found is not None:
        return cast(V, found)
    return get_or_create(session, select(table).where(table.version == 1), make_first)


def numbered(session: Session, model: type[V], number: int) -> V | None:
    table: Any = model
    return cast(V | None, session.scalar(select(table).where(table.version == number)))


def save(session: Session, model: type[V], previous: Any, *, action: str, actor_id: int | None,
         payload: dict[str, Any] | None = None, **fields: Any) -> V:
    """Store the next version (``fields``) as the only active one; the audit entry carries the diff.

    Its text is checked here as well as in the API's schema: the editor pages save through this directly."""
    for name, value in (*fields.items(), *(payload or {}).items()):
        require_clean(value, field=name)
    table: Any = model
    number = (session.scalar(select(func.max(table.version))) or 0) + 1
    session.execute(update(table).values(active=False))
    row = table(version=number, active=True, author_id=actor_id, **fields)
    session.add(row)
    session.flush()
    diff = "".join(difflib.unified_diff(previous.body.splitlines(True), fields["body"].splitlines(True),
                                        f"v{previous.version}", f"v{number}"))
    audit.append(session, action=action, subject_type=table.__tablename__, subject_id=number, actor_id=actor_id,
                 payload={"version": number, "previous": previous.version, "note": fields.get("note", ""),
                          "diff": diff, **(payload or {})})
    return cast(V, row)
