"""Types every domain's request schemas share: ids, the request base models, ISO dates for query strings, times
with an offset for bodies.

A request model derives from ``Strict`` (a body: unknown fields refused) or ``Checked`` (a query model,
which shares the query string with paging), so every text value it holds passes ``kit.text`` — a field
added later cannot forget the check.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from evenhand.i18n import N_
from evenhand.kit import text

DbId = Annotated[int, Field(ge=1, le=2**62)]
FIRST_YEAR, LAST_YEAR = 2000, 2100


class Deferred:
    """Marks a field whose text is checked later, where the error can say more precisely where it is: raw rows
    by the row model (naming the row), a YAML document by its reader (naming the line)."""


DEFERRED = Deferred()


_SCALARS = (int, float, Decimal, date, time, timedelta)


def clean_text(value: Any) -> Any:
    """Refuse NUL, control and bidirectional characters in ``value`` and anything it holds (see ``kit.text``).
    Text and plain values are checked at once: this runs on every field of every row of an import."""
    if isinstance(value, str):
        reason = text.refusal(value)
    elif value is None or isinstance(value, _SCALARS):
        return value
    else:
        reason = text.refusal_in(_plain(value))
    if reason:
        raise ValueError(reason)
    return value


def _plain(value: Any) -> Any:
    """A model nested in a plain ``BaseModel`` field is checked through its fields' values."""
    if isinstance(value, BaseModel) and not isinstance(value, Checked):
        return [_plain(item) for item in value.__dict__.values()]
    if isinstance(value, dict):
        return [*value.keys(), *map(_plain, value.values())]
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class Checked(BaseModel):
    """Every field's text is checked after the field's own validation (a nested ``Checked`` checks its own, so
    the error names the nested field: ``events.0.detail``)."""

    @field_validator("*")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in _deferred(cls):
            return value
        return clean_text(value)


@functools.cache
def _deferred(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` whose text is checked later, found once per model: the check runs for every field of
    every request and imported row, and reading ``model_fields`` goes through two descriptors each time (about a
    third of the check's cost)."""
    return frozenset(name for name, field in model.model_fields.items() if DEFERRED in field.metadata)


class Strict(Checked):
    model_config = ConfigDict(extra="forbid")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")
NOT_A_DATE = N_("Must be a date like 2026-11-27")
NOT_A_DATETIME = N_("Must be a date and time like 2026-11-27T09:30:00+08:00")
OUT_OF_RANGE = N_("Must fall between the years 2000 and 2100")


def _iso(pattern: re.Pattern[str], message: str) -> Any:
    def check(value: Any) -> Any:
        # Pydantic reads digits as seconds since 1970 (``0`` is 1970-01-01): only ISO text is a date here.
        if isinstance(value, str) and pattern.match(value):
            return value
        if isinstance(value, date):
            return value  # already a date (a page or a test building the model)
        raise ValueError(message)
    return check


def _in_years(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(OUT_OF_RANGE)
    return value


IsoDate = Annotated[date, BeforeValidator(_iso(_ISO_DATE, NOT_A_DATE)), AfterValidator(_in_years)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso(_ISO_DATETIME, NOT_A_DATETIME)), AfterValidator(_in_years)]
# A time a body states, with its offset. Only years the clock's arithmetic and the database hold: a time in year 1
# or 9999 with an offset cannot even be turned into UTC, and would fail when stored instead of being refused here.
Moment = Annotated[AwareDatetime, AfterValidator(_in_years)]
