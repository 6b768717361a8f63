"""The mapping file of an import: which column feeds which field, and what counts as missing.

```yaml
fields:
  external_id: Prospect ID            # a column name
  source: {column: Lead Source, default: import, case: lower}
  industry: {column: 行业, map: {制造: 制造业, 零售业: 零售}}
  region: {value: east}               # the same value for every row
  created_at: {column: Created Date, format: "%d/%m/%Y %H:%M"}
missing: ["Select", "-", "", "N/A"]   # placeholders that mean "no value"
timezone: Europe/London               # the zone of times written without one (default: the company's)
```

Each kind of import (leads, the organisation, accounts, opportunities, activities, outcomes) names its fields;
``parse`` refuses a mapping naming any other, listing every unknown one beside the known ones, before a row is
read. Times are read as ISO 8601 (``2024-03-01``, ``2024-03-01 09:30``, with or without an offset) or by the
field's ``format`` (``strptime``); a time without a zone is in the mapping's ``timezone``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evenhand.errors import Invalid, describe
from evenhand.i18n import N_
from evenhand.kit import yamldoc

DEFAULT_MISSING = ("", "-", "Select", "N/A", "NULL", "null", "None")
_CASES = {"lower": str.lower, "upper": str.upper, "title": str.title}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    value: str | int | float | bool | None = None
    default: str | int | float | bool | None = None
    case: Literal["lower", "upper", "title", "keep"] = "keep"
    map: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    format: str | None = None  # strptime format of a time or date column

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError(N_("Give either a column or a constant value."))
        return self

    @field_validator("map", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        """YAML reads ``{1: converted, yes: true}`` keys as numbers and booleans; a cell is text."""
        if isinstance(value, dict):
            return {_as_cell(k): v for k, v in value.items()}
        return value


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, FieldSpec]
    missing: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING))
    timezone: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            data = {**data, "fields": {k: {"column": v} if isinstance(v, str) else v
                                       for k, v in data["fields"].items()}}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(N_("Unknown time zone; use a name such as Asia/Shanghai or Europe/London.")) from exc
        return value


class MappingError(yamldoc.DocumentError):
    pass


UNKNOWN_FIELDS = N_("The mapping file names fields this import does not have: {names}; the fields are {known}.")


def parse(text: str, *, known: Sequence[str], kind: str) -> Mapping:
    """A mapping read under the same limits as every YAML document (no alias bombs, no deep nesting), checked
    against the fields of its ``kind`` (``known``); every problem in the reader's language."""
    try:
        _, data = yamldoc.load(text, error=MappingError, not_a_mapping=N_("A mapping file is a YAML mapping."))
    except MappingError as exc:
        raise Invalid("The mapping file is not valid YAML (line {line}).", field="mapping", line=exc.line or 1) from exc
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid("The mapping file is wrong at {where}: {problem}", field=f"mapping.{where}", where=where,
                      problem=describe(first)) from exc
    unknown = [name for name in mapping.fields if name not in known]
    if unknown:
        raise Invalid(UNKNOWN_FIELDS, field=f"mapping.fields.{unknown[0]}", names=", ".join(unknown),
                      known=", ".join(known), kind=kind)
    return mapping


def check_columns(mapping: Mapping, header: Sequence[str]) -> None:
    """Every column the mapping reads is in the file; otherwise every one missing is named, with the file's."""
    absent = [(name, spec.column) for name, spec in mapping.fields.items()
              if spec.column is not None and spec.column not in header]
    if len(absent) == 1:
        (name, column), = absent
        raise Invalid("Mapping field {name} reads column {column!r}, which the file does not have "
                      "(it has: {columns}).", field=f"mapping.fields.{name}.column", name=name, column=column,
                      columns=", ".join(header))
    if absent:
        raise Invalid("The mapping reads columns the file does not have: {absent} (it has: {columns}).",
                      field=f"mapping.fields.{absent[0][0]}.column", columns=", ".join(header),
                      absent=", ".join(f"{name} ← {column!r}" for name, column in absent))


def apply(mapping: Mapping, row: dict[str, str | None], *, zone: ZoneInfo,
          moments: Collection[str] = ()) -> dict[str, Any]:
    """One file row as fields: placeholders become missing, then defaults, case and value maps apply; the fields
    named in ``moments`` are read as times (a bare date is its midnight) in ``zone`` unless they carry one."""
    missing = set(mapping.missing)
    if mapping.timezone:
        zone = ZoneInfo(mapping.timezone)
    out: dict[str, Any] = {}
    for name, spec in mapping.fields.items():
        raw: Any = spec.value if spec.column is None else row.get(spec.column)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or (isinstance(raw, str) and raw in missing):
            raw = spec.default
        if isinstance(raw, str):
            raw = spec.map.get(raw, raw)
        if isinstance(raw, str):
            raw = _CASES[spec.case](raw) if spec.case in _CASES else raw
            if name in moments:
                raw = _moment(raw, spec.format, zone)
        if raw is not None:
            out[name] = raw
    return out


def _moment(text: str, fmt: str | None, zone: ZoneInfo) -> Any:
    """A time as an aware datetime, or the text unchanged (the row's schema then names what is wrong with it)."""
    try:
        when = datetime.strptime(text, fmt) if fmt else _iso(text)
    except ValueError:
        return text
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def _iso(text: str) -> datetime:
    if len(text) <= 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time())
    return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)


def _as_cell(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
