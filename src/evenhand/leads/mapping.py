"""The mapping file for imports: which column feeds which lead field, and what counts as missing.

```yaml
fields:
  external_id: Prospect ID            # a column name
  source: {column: Lead Source, default: import, case: lower}
  company: {column: 公司名称}
  industry: {column: 行业, map: {制造: 制造业, 零售业: 零售}}
  region: {value: east}               # the same value for every row
missing: ["Select", "-", "", "N/A"]   # placeholders that mean "no value"
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evenhand.errors import Invalid, describe
from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.leads.schemas import LeadCreate

LEAD_FIELDS = tuple(LeadCreate.model_fields)


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    value: str | int | None = None
    default: str | int | None = None
    case: Literal["lower", "upper", "title", "keep"] = "keep"
    map: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError(N_("Give either a column or a constant value."))
        return self


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, FieldSpec]
    missing: list[str] = Field(default_factory=lambda: ["", "-", "Select", "N/A", "NULL", "null", "None"])

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            data = {**data, "fields": {k: {"column": v} if isinstance(v, str) else v
                                       for k, v in data["fields"].items()}}
        return data



class MappingError(yamldoc.DocumentError):
    pass


def parse_mapping(text: str) -> Mapping:
    """Read under the same limits as every YAML document (no alias bombs, no deep nesting); every problem in
    the reader's language."""
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
    unknown = sorted(set(mapping.fields) - set(LEAD_FIELDS))
    if unknown:
        raise Invalid("The mapping file names {name}, which is no lead field; the fields are {known}.",
                      field=f"mapping.fields.{unknown[0]}", name=unknown[0], known=", ".join(LEAD_FIELDS))
    return mapping


def check_columns(mapping: Mapping, header: list[str]) -> None:
    for name, spec in mapping.fields.items():
        if spec.column is not None and spec.column not in header:
            raise Invalid("Mapping field {name} reads column {column!r}, which the file does not have "
                          "(it has: {columns}).", field=f"mapping.fields.{name}.column", name=name,
                          column=spec.column, columns=", ".join(header))


_CASES = {"lower": str.lower, "upper": str.upper, "title": str.title}


def apply(mapping: Mapping, row: dict[str, str | None]) -> dict[str, Any]:
    """One file row as lead fields; placeholders become missing, then defaults, case and value maps apply."""
    missing = set(mapping.missing)
    out: dict[str, Any] = {}
    for name, spec in mapping.fields.items():
        raw: Any = spec.value if spec.column is None else row.get(spec.column)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or (isinstance(raw, str) and raw in missing):
            raw = spec.default
        if isinstance(raw, str):
            raw = spec.map.get(raw, raw)
            raw = _CASES[spec.case](raw) if spec.case in _CASES else raw
        if raw is not None:
            out[name] = raw
    return out
