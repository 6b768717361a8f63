"""Creating a row exactly once when several processes may try at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_or_create(session: Session, find: Select[Any], make: Callable[[], T]) -> T:
    """The row ``find`` selects, or a new one from ``make``; a concurrent creator's row wins a unique clash."""
    found = session.scalar(find)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        found = session.scalar(find)
        if found is None:
            raise
        return found


def first_writer_wins(session: Session, attempt: Callable[[], T]) -> T:
    """``attempt`` (a create-or-return on a natural key) in a savepoint; when a concurrent request created the same
    key first (PostgreSQL raises on the unique index once that request commits), it runs again and finds that row."""
    try:
        with session.begin_nested():
            return attempt()
    except IntegrityError:
        return attempt()
