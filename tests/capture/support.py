"""Helpers for the connectors' tests."""

from __future__ import annotations

from sqlalchemy import Engine

from evenhand.capture import service
from evenhand.db import session_scope
from tests.support import row_counts


def stored_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, but the connectors' status: a refused request is counted there (in a transaction of its
    own) and stores nothing else."""
    counts = row_counts(engine)
    counts.pop("connector_status")
    return counts


def health(engine: Engine, connector: str) -> service.Health:
    """The connector's status as stored (zeros when it has none)."""
    with session_scope(engine, readonly=True) as session:
        return service.statuses(session).get(connector, service.Health(connector))
