"""What an export names by its own words, found in evenhand: people (external id, e-mail or username), regions
(code or name), product lines (code or name). Whatever names nothing is a ``Problem`` of its row and field."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from evenhand.errors import Invalid
from evenhand.i18n import N_, t
from evenhand.kit.clock import as_utc
from evenhand.kit.rows import RowError
from evenhand.models import ProductLine
from evenhand.opportunities import repository
from evenhand.org import service as org_service

UNKNOWN_PERSON = N_("No user has the external id, e-mail, username or name {value} (a name must be unique).")
UNKNOWN_REGION = N_("Unknown region {value}; the regions are {allowed}.")
UNKNOWN_PRODUCT = N_("Unknown product line {value}; the product lines are {allowed}.")


@dataclass(frozen=True)
class Problem:
    """What is wrong with the ``index``-th item of a batch: an English template and its parameters, shown as a
    row's error in an import or as the error of an API request."""

    index: int
    field: str
    message: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def error(self) -> Invalid:
        return Invalid(self.message, field=self.field, **self.params)

    def row_error(self, first_row: int) -> RowError:
        return RowError(first_row + self.index, self.field, t(self.message, **self.params))


@dataclass(frozen=True)
class Names:
    """A dimension's entries by code → name; a value is found by code or by name, any case."""

    names: Mapping[str, str]

    def code(self, value: str) -> str | None:
        wanted = value.strip().casefold()
        return next((code for code, name in self.names.items()
                     if wanted in (code.casefold(), name.strip().casefold())), None)

    def allowed(self) -> str:
        return ", ".join(f"{code} ({name})" for code, name in sorted(self.names.items())) or "—"


def people(session: Session, keys: Collection[str | None]) -> dict[str, int]:
    """People by external id, e-mail or username (``org.service.people_by_key``), else by display name when exactly
    one person has it."""
    wanted = {k for k in keys if k}
    found = org_service.people_by_key(session, wanted)
    named = repository.people_named(session, wanted - set(found))
    found.update({k: named[k.casefold()][0] for k in wanted - set(found) if len(named.get(k.casefold(), [])) == 1})
    return found


def regions(session: Session) -> Names:
    return Names(org_service.region_names(session))


def products(session: Session) -> tuple[Names, dict[str, int]]:
    """Product lines by code → name, and their ids by code."""
    lines = list(session.scalars(org_service.listing(ProductLine)))
    return Names({p.code: p.name for p in lines}), {p.code: p.id for p in lines}


def differs(old: Any, new: Any) -> bool:
    """Whether storing ``new`` changes ``old``: times compare as instants, amounts as numbers."""
    if isinstance(old, datetime) and isinstance(new, datetime):
        return as_utc(old) != as_utc(new)
    if isinstance(new, Decimal) and old is not None:
        return Decimal(old) != new
    return bool(old != new)


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as an audit entry holds them: times in UTC ISO form, amounts and stages as text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            value = as_utc(value).isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, Enum):
            value = value.value
        out[key] = value
    return out
