"""The configuration's revision: one row that every write to what the intake path caches changes.

Database triggers change it (migration 0013), so ORM, Core and plain SQL writes all count, in the writer's own
transaction: a reader that sees the row as of its transaction sees the configuration as of the same moment. Each
change adds one to ``revision`` and draws a new random ``stamp``; a cache keys what it built by both, so a revision
a rolled-back transaction reached, or another database at the same count, never passes for one it has seen.

Only configuration carries triggers: nothing a lead writes (leads, decisions, pool states, audit, messages) may,
or the cache would never be hit. A table rebuilt by a later migration (SQLite's batch alteration drops and
recreates it) loses its triggers and must have them created again with ``trigger_ddl``;
``tests/kit/test_revision.py`` checks every table in ``CACHED_TABLES`` carries them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from evenhand.models.base import Base

ROW_ID = 1

# What the intake path reads and keeps between transactions: scoring and routing documents and the canary,
# the organisation as the roster and the regions read it, and where notifications go.
CACHED_TABLES = (
    "scoring_models", "routing_policies", "canaries", "users", "teams", "departments", "regions", "product_lines",
    "user_product_lines", "leaves", "user_grants", "notify_endpoints", "notify_preferences",
)

_SQLITE_BUMP = (f"INSERT INTO config_revision (id, revision, stamp) VALUES ({ROW_ID}, 1, random()) "
                "ON CONFLICT (id) DO UPDATE SET revision = revision + 1, stamp = random();")
# random() is a double in [0, 1): 2⁶² keeps the product inside a BIGINT.
_PG_STAMP = "floor(random() * 4611686018427387904)::bigint"
AUDIT_LOCK_KEY = 0x65_76_65_6E  # ``kit.audit``'s chain lock (tests/kit/test_revision.py keeps the two equal)
# The chain's lock comes first, as for every writer that locks rows (CONVENTIONS "Transactions"): a writer holding
# it (starting a canary) and one changing a rep's presence, which appends to the chain after its update, would
# otherwise each wait for what the other holds. Whoever holds the row then holds the chain's lock: nobody waits on
# the row itself.
PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION config_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
    INSERT INTO config_revision (id, revision, stamp) VALUES ({ROW_ID}, 1, {_PG_STAMP})
    ON CONFLICT (id) DO UPDATE SET revision = config_revision.revision + 1, stamp = {_PG_STAMP};
    RETURN NULL;
END $$"""


class ConfigRevision(Base):
    """The single row (``id`` 1) of the configuration's revision; see the module's docstring."""

    __tablename__ = "config_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)
    stamp: Mapped[int] = mapped_column(BigInteger)


def first_row(dialect: str) -> str:
    """The row at revision 1 with a random stamp, as a migration writes it."""
    stamp = _PG_STAMP if dialect == "postgresql" else "random()"
    return f"INSERT INTO config_revision (id, revision, stamp) VALUES ({ROW_ID}, 1, {stamp})"


def trigger_names(table: str, dialect: str) -> list[str]:
    """The triggers ``trigger_ddl`` creates on ``table``."""
    if dialect == "postgresql":
        return [f"config_revision_{table}"]
    return [f"config_revision_{table}_{event}" for event in ("insert", "update", "delete")]


def trigger_ddl(table: str, dialect: str) -> list[str]:
    """Statements that make every write to ``table`` change the revision in the writer's transaction: once per
    statement on PostgreSQL (a ``TRUNCATE`` too), once per row on SQLite, which has no statement triggers.
    PostgreSQL needs ``PG_FUNCTION`` first."""
    if dialect == "postgresql":
        return [f"CREATE TRIGGER config_revision_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION config_revision_bump()"]
    return [f"CREATE TRIGGER config_revision_{table}_{event} AFTER {event.upper()} ON {table} "
            f"FOR EACH ROW BEGIN {_SQLITE_BUMP} END" for event in ("insert", "update", "delete")]
