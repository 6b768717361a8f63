"""The shared request types (``kit.schema``): every text value a request model holds is checked, and query dates
are ISO dates in sane years."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from evenhand.kit.schema import DEFERRED, Checked, IsoDate, IsoDatetime, Moment, Strict
from evenhand.kit.text import CONTROL, NUL


class Plain(BaseModel):
    note: str


class Item(Strict):
    detail: str | None = None


class Request(Strict):
    name: str = ""
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    items: list[Item] = Field(default_factory=list)
    plain: Plain | None = None
    rows: Annotated[list[dict[str, Any]], DEFERRED] = Field(default_factory=list)


def _error(**data: Any) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as caught:
        Request.model_validate(data)
    (error,) = caught.value.errors()
    return error["loc"], str(error["ctx"]["error"])


@pytest.mark.parametrize("data, loc, reason", [
    ({"name": "a\x00b"}, ("name",), NUL),
    ({"tags": ["ok", "a\u202eb"]}, ("tags",), CONTROL),
    ({"labels": {"k\u2066": "v"}}, ("labels",), CONTROL),
    ({"items": [{"detail": "ok"}, {"detail": "x\x1by"}]}, ("items", 1, "detail"), CONTROL),
    ({"plain": {"note": "a\u200fb"}}, ("plain",), CONTROL),
])
def test_every_text_value_is_checked_and_named(data: dict[str, Any], loc: tuple[Any, ...], reason: str) -> None:
    assert _error(**data) == (loc, reason)


def test_deferred_rows_are_left_to_their_row_model_and_unknown_fields_refused() -> None:
    assert Request.model_validate({"rows": [{"company": "a\x00b"}]}).rows == [{"company": "a\x00b"}]
    with pytest.raises(ValidationError):
        Request.model_validate({"surprise": 1})


def test_a_checked_query_model_takes_other_parameters() -> None:
    class Query(Checked):
        q: str | None = None

    assert Query.model_validate({"q": "ok", "page": 2}).q == "ok"
    with pytest.raises(ValidationError):
        Query.model_validate({"q": "\u202e"})


DATES = TypeAdapter(IsoDate)
DATETIMES = TypeAdapter(IsoDatetime)


@pytest.mark.parametrize("value", ["0", "-1", "99999999", "86400", "20261127", "2026-02-30", "1999-12-31",
                                   "2101-01-01", "2026-11-27T00:00:00", 0, 86400, 1.5, "2026-1-5", " 2026-11-27"])
def test_a_date_is_iso_text_in_sane_years(value: Any) -> None:
    with pytest.raises(ValidationError):
        DATES.validate_python(value)


def test_dates_that_pass() -> None:
    assert DATES.validate_python("2026-11-27") == date(2026, 11, 27)
    assert DATES.validate_python("2000-01-01") == date(2000, 1, 1)
    assert DATES.validate_python(date(2100, 12, 31)) == date(2100, 12, 31)


@pytest.mark.parametrize("value", ["0", "-1", "1700000000", 1700000000, "2026-02-30T00:00:00Z", "1999-12-31T23:59:59Z",
                                   "2101-01-01T00:00:00Z", "2026-11-27T09:30:00+08:00 extra", "tomorrow"])
def test_a_datetime_is_iso_text_in_sane_years(value: Any) -> None:
    with pytest.raises(ValidationError):
        DATETIMES.validate_python(value)


def test_datetimes_that_pass() -> None:
    assert DATETIMES.validate_python("2026-11-27T09:30:00Z") == datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    assert DATETIMES.validate_python("2026-11-27T09:30:00.123+08:00").utcoffset() is not None
    assert DATETIMES.validate_python("2026-11-27") == datetime(2026, 11, 27)


MOMENTS = TypeAdapter(Moment)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z",
                                   "2101-01-01T00:00:00Z", "2026-11-27T09:30:00"])
def test_a_moment_has_an_offset_and_sane_years(value: str) -> None:
    with pytest.raises(ValidationError):
        MOMENTS.validate_json(f'"{value}"')


def test_moments_that_pass() -> None:
    assert MOMENTS.validate_json('"2026-11-27T09:30:00+08:00"') == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    assert MOMENTS.validate_json('"2100-12-31T23:59:59-05:00"').year == 2100
