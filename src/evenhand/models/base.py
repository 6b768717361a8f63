"""Declarative base, naming convention and column types shared by every table."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Index, Integer, MetaData, TypeDecorator, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from evenhand.kit.clock import as_utc, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sqlite.JSON(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite (no zone support) and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def str_enum(kind: type[enum.Enum]) -> Enum:
    """Enums are stored by value as short strings, so adding a member needs no migration."""
    return Enum(kind, native_enum=False, length=24, values_callable=lambda k: [m.value for m in k],
                validate_strings=True)


def index_where_set(name: str, *columns: str) -> Index:
    """An index of the rows whose first column is set: a column empty when a row is written (a lead's owner before
    it is routed, a contact key it lacks) costs that write an index entry no read finds, since every read through
    the index compares the column (``=``, ``IN``, a range), which SQLite and PostgreSQL both know excludes NULL."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json, list[Any]: Json}
    # Columns with a server default also carry a Python default, so an INSERT never needs to read values
    # back; without this SQLAlchemy adds RETURNING, which SQLite can only do one row at a time.
    __mapper_args__ = {"eager_defaults": False}


class IdMixin:
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
