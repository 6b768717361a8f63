"""The KPI definitions: a versioned YAML document, validated so every problem names its path and line.

```yaml
name: evenhand default KPIs
kpis:
  - id: lead_conversion            # [a-z0-9_], unique; points, anomalies and changes name the KPI by it
    name: {en: Lead conversion, zh: 线索转化率}
    source: leads                  # one of the fact sources (``sources.SOURCES``)
    kind: rate                     # rate | mean | quantile | count
    numerator: converted           # rate: a boolean column of the source
    horizon_days: 21               # rate: counts only if it happened within 21 days of the cohort day
    good: up                       # the good direction
    unit: share                    # share | hours | minutes | days | count | points | ms
    dimensions: [channel, region, team, product_line, client]
    upstream: [first_response_mean, lead_score_mean]
    min_effect: 0.15               # relative change below which nothing is an anomaly
    alert: {below: 0.08}           # the absolute alert line (above: / below:), optional
  - id: website_conversion
    ...
    where: {channel: [website]}    # optional row filter: a dimension -> the values kept
```

A ``mean`` or ``quantile`` KPI names a ``measure`` of its source (a ``quantile`` also ``q``); a ``count`` counts the
rows. Everything a KPI names is checked against its source: an unknown source, column, dimension or upstream KPI is
refused, naming the path and line. A new KPI is a few lines here: the series follow from the source, no code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.kit import versions as versions_kit
from evenhand.kit import yamldoc
from evenhand.models import KpiDefinitionVersion
from evenhand.monitor.sources import SOURCES, Source
from evenhand.standards.document import problem

MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("KPI definitions must be a YAML mapping with name and kpis."),
    "duplicate_kpi": N_("The KPI id {id} is used twice."),
    "unknown_source": N_("Unknown source {source}; the sources are {known}."),
    "unknown_boolean": N_("The source {source} has no yes/no column {column}; it has {known}."),
    "unknown_measure": N_("The source {source} has no measure {column}; it has {known}."),
    "unknown_dimension": N_("The source {source} has no dimension {column}; it has {known}."),
    "unknown_upstream": N_("No KPI has the id {id}."),
    "self_upstream": N_("A KPI cannot be upstream of itself."),
    "needs_numerator": N_("A rate names its numerator: a yes/no column of its source."),
    "needs_measure": N_("A {kind} names its measure: a number column of its source."),
    "needs_q": N_("A quantile names q, between 0 and 1."),
    "not_for_kind": N_("A {kind} KPI takes no {key}."),
    "no_event_day": N_("The source {source} does not record when {column} happened, so it takes no horizon."),
    "duplicate_dimension": N_("The dimension {dimension} is listed twice."),
    "alert_order": N_("The alert line above must be higher than the one below."),
}
KINDS = ("rate", "mean", "quantile", "count")
UNITS = ("share", "hours", "minutes", "days", "count", "points", "ms")
MAX_KPIS = 100


class KpiDefinitionsError(yamldoc.DocumentError):
    """The document is not valid KPI definitions; ``.path``, ``.message``, ``.line`` describe the first problem."""


def _fail(code: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(code, MESSAGES[code], params)


# --- the document's schema ----------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
KpiId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,60}$")]
Value = Annotated[str, StringConstraints(max_length=120)]


class Names(_Strict):
    en: Text
    zh: Text


class AlertLine(_Strict):
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AlertLine:
        if self.above is not None and self.below is not None and self.above <= self.below:
            raise _fail("alert_order", at="above")
        return self


class KpiSpec(_Strict):
    id: KpiId
    name: Names
    source: str
    kind: Literal["rate", "mean", "quantile", "count"]
    numerator: str | None = None
    measure: str | None = None
    q: Annotated[float, Field(gt=0, lt=1)] | None = None
    horizon_days: Annotated[int, Field(ge=0, le=365)] | None = None
    where: dict[str, Annotated[list[Value], Field(min_length=1, max_length=200)]] = Field(default_factory=dict)
    dimensions: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    good: Literal["up", "down"]
    unit: Literal["share", "hours", "minutes", "days", "count", "points", "ms"]
    upstream: Annotated[list[KpiId], Field(max_length=20)] = Field(default_factory=list)
    min_effect: Annotated[float, Field(ge=0, le=10)] = 0.15
    min_n: Annotated[int, Field(ge=1, le=100_000)] = 5
    window_days: Annotated[int, Field(ge=1, le=90)] = 7
    baseline_days: Annotated[int, Field(ge=1, le=365)] = 28
    alert: AlertLine | None = None

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES:
            raise _fail("unknown_source", source=value, known=", ".join(SOURCES))
        return value

    @model_validator(mode="after")
    def _fits_its_source(self) -> KpiSpec:
        """What the KPI names exists in its source, and it names what its kind needs (and nothing else)."""
        source = SOURCES[self.source]
        _kind_needs(self)
        _columns(self, source)
        seen: set[str] = set()
        for i, dimension in enumerate(self.dimensions):
            if dimension in seen:
                raise _fail("duplicate_dimension", dimension=dimension, at=f"dimensions.{i}")
            seen.add(dimension)
        if self.id in self.upstream:
            raise _fail("self_upstream", at=f"upstream.{self.upstream.index(self.id)}")
        return self


def _kind_needs(spec: KpiSpec) -> None:
    """A rate names a numerator, a mean or quantile a measure (a quantile its q); a count neither."""
    wanted = {"rate": {"numerator", "horizon_days"}, "mean": {"measure"}, "quantile": {"measure", "q"},
              "count": set()}[spec.kind]
    for key in ("numerator", "measure", "q", "horizon_days"):
        if getattr(spec, key) is not None and key not in wanted:
            raise _fail("not_for_kind", kind=spec.kind, key=key, at=key)
    if spec.kind == "rate" and spec.numerator is None:
        raise _fail("needs_numerator", at="kind")
    if spec.kind in ("mean", "quantile") and spec.measure is None:
        raise _fail("needs_measure", kind=spec.kind, at="kind")
    if spec.kind == "quantile" and spec.q is None:
        raise _fail("needs_q", at="kind")


def _columns(spec: KpiSpec, source: Source) -> None:
    """Every column the KPI names is one of its source's, of the right sort."""
    if spec.numerator is not None:
        _known(source, "boolean", spec.numerator, source.booleans, "numerator")
        if spec.horizon_days is not None and spec.numerator not in source.events:
            raise _fail("no_event_day", source=source.name, column=spec.numerator, at="horizon_days")
    if spec.measure is not None:
        _known(source, "measure", spec.measure, source.measures, "measure")
    for i, dimension in enumerate(spec.dimensions):
        _known(source, "dimension", dimension, source.dimensions, f"dimensions.{i}")
    for column in spec.where:
        _known(source, "dimension", column, source.dimensions, f"where.{column}")


def _known(source: Source, role: str, column: str, known: tuple[str, ...], at: str) -> None:
    if column not in known:
        raise _fail(f"unknown_{role}", source=source.name, column=column, known=", ".join(known), at=at)


class KpiDocument(_Strict):
    name: Text
    description: str | None = None
    kpis: Annotated[list[KpiSpec], Field(max_length=MAX_KPIS)]

    @field_validator("kpis")
    @classmethod
    def _ids_and_upstream(cls, kpis: list[KpiSpec]) -> list[KpiSpec]:
        """Ids are unique; an upstream KPI is one of the document's."""
        ids: set[str] = set()
        for i, kpi in enumerate(kpis):
            if kpi.id in ids:
                raise _fail("duplicate_kpi", id=kpi.id, at=f"{i}.id")
            ids.add(kpi.id)
        for i, kpi in enumerate(kpis):
            for j, upstream in enumerate(kpi.upstream):
                if upstream not in ids:
                    raise _fail("unknown_upstream", id=upstream, at=f"{i}.upstream.{j}")
        return kpis


# --- the compiled form ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """One KPI as the series, detection and explanation read it. ``where`` keeps the rows whose dimension holds one
    of the listed values; ``alert_above``/``alert_below`` are the absolute alert line."""

    id: str
    name_en: str
    name_zh: str
    source: str
    kind: str  # rate | mean | quantile | count
    numerator: str | None = None
    measure: str | None = None
    q: float | None = None
    horizon_days: int | None = None
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    good: str = "up"  # up | down
    unit: str = "count"
    upstream: tuple[str, ...] = ()
    min_effect: float = 0.15
    min_n: int = 5
    window_days: int = 7
    baseline_days: int = 28
    alert_above: float | None = None
    alert_below: float | None = None

    def label(self, locale: str | None) -> str:
        """The KPI's name in ``locale`` (Chinese for any ``zh`` locale, English otherwise)."""
        return self.name_zh if (locale or "").lower().startswith("zh") else self.name_en


@dataclass(frozen=True)
class CompiledKpis:
    name: str
    kpis: tuple[Kpi, ...]

    def get(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def of_source(self, source: str) -> tuple[Kpi, ...]:
        return tuple(k for k in self.kpis if k.source == source)

    @property
    def sources(self) -> tuple[str, ...]:
        """The fact sources the KPIs read, in the catalogue's order."""
        used = {k.source for k in self.kpis}
        return tuple(s for s in SOURCES if s in used)


def compile(doc: KpiDocument) -> CompiledKpis:
    return CompiledKpis(doc.name, tuple(_kpi(spec) for spec in doc.kpis))


def _kpi(spec: KpiSpec) -> Kpi:
    alert = spec.alert or AlertLine()
    return Kpi(spec.id, spec.name.en, spec.name.zh, spec.source, spec.kind, spec.numerator, spec.measure, spec.q,
               spec.horizon_days, {k: tuple(v) for k, v in spec.where.items()}, tuple(spec.dimensions), spec.good,
               spec.unit, tuple(spec.upstream), spec.min_effect, spec.min_n, spec.window_days, spec.baseline_days,
               alert.above, alert.below)


def parse(text: str) -> KpiDocument:
    """The definitions in ``text``, or ``KpiDefinitionsError`` listing every problem with its path and line."""
    node, data = load(text)
    try:
        return KpiDocument.model_validate(data)
    except ValidationError as exc:
        raise KpiDefinitionsError([problem(e, node) for e in exc.errors()]) from None


def load(text: str) -> tuple[yaml.Node | None, dict[str, Any]]:
    return yamldoc.load(text, error=KpiDefinitionsError, not_a_mapping=MESSAGES["not_a_mapping"])


def default_text() -> str:
    """The shipped definitions (``kpis.yaml``), comments included."""
    return resources.files(__package__).joinpath("kpis.yaml").read_text(encoding="utf-8")


KPIS: versions_kit.Document[KpiDefinitionVersion, CompiledKpis] = versions_kit.Document(
    KpiDefinitionVersion, compile=lambda body: compile(parse(body)), error=KpiDefinitionsError, messages=MESSAGES,
    wrong=N_("The KPI definitions are wrong at {where} (line {line}): {problem}"),
    missing=N_("No KPI definitions version {version}."), default_text=default_text,
    default_note="the default KPIs shipped with evenhand", name_of=lambda compiled: compiled.name,
    saved_action="monitor.kpis_saved")
