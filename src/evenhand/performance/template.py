"""The scorecard templates (R3.2, R3.3): a YAML document validated so every problem names its path and line.

How each metric scores (``metrics``: the value that scores 100, the value that scores 0, linear between, capped),
the templates scoped by department, region and product line with weights per level and gates, the share of the
weight a total needs, and the tiers that turn a total into grants (R3.5). docs/performance.md explains every key;
``default.yaml`` is the shipped version.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import Problem, line
from evenhand.models import Level
from evenhand.performance.metrics import CATALOG

QUOTA = "quota"  # a target read from the rep's monthly quota × the period's months
GRANTS = ("key_account", "training_priority", "promotion_list")
MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("Scorecard templates must be a YAML mapping with name, metrics and templates."),
    "unknown_metric": N_("There is no metric {metric}; the catalog has {known}."),
    "unscored_metric": N_("The metric {metric} is weighted but has no entry under metrics."),
    "flat_metric": N_("A metric's target and zero must differ."),
    "not_a_target": N_("A target is a number or quota, not {value}."),
    "no_weights": N_("A level's weights must add up to more than 0."),
    "unknown_grant": N_("There is no grant {grant}; the grants are {known}."),
    "gate_bound": N_("A gate names exactly one of below or above."),
    "tiers_order": N_("Tiers are listed from the highest minimum down."),
    "no_catch_all": N_("One template must have an empty scope, so that every rep has one."),
}
KEY = r"^[a-z][a-z0-9_]{0,39}$"


class TemplateError(yamldoc.DocumentError):
    """The document is not valid scorecard templates; ``.path``, ``.message``, ``.line`` describe the first."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Key = Annotated[str, StringConstraints(pattern=KEY)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Wording(_Strict):
    zh: Text = Field(alias="zh-CN")
    en: Text

    def says(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


def _known_metric(key: str, at: str | None = None) -> None:
    if key not in CATALOG:
        raise PydanticCustomError("unknown_metric", MESSAGES["unknown_metric"],
                                  {"metric": key, "known": ", ".join(CATALOG), "at": at or key})


class Scale(_Strict):
    """``target`` scores 100 and ``zero`` scores 0, linear between and beyond, floored at 0 and capped at ``cap``.
    A target below zero means lower is better (hours, complaints)."""

    target: float | Literal["quota"]
    zero: float = 0
    cap: Annotated[float, Field(ge=100, le=150)] = 100

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        """One problem for a word that is not ``quota``, rather than one per member of the union."""
        if isinstance(value, str) and value != QUOTA:
            raise PydanticCustomError("not_a_target", MESSAGES["not_a_target"], {"value": value})
        return value

    @model_validator(mode="after")
    def _not_flat(self) -> Scale:
        if self.target != QUOTA and self.target == self.zero:
            raise PydanticCustomError("flat_metric", MESSAGES["flat_metric"])
        return self


class Scope(_Strict):
    """Empty lists match everyone; a rep fits when each listed dimension holds their value (codes)."""

    departments: list[Key] = []
    regions: list[Key] = []
    product_lines: list[Key] = []

    @property
    def specificity(self) -> int:
        return sum(1 for part in (self.departments, self.regions, self.product_lines) if part)


class Gate(_Strict):
    """When ``metric`` is known and below ``below`` (or above ``above``), the total is capped at ``cap``."""

    metric: str
    below: float | None = None
    above: float | None = None
    cap: Percent

    @model_validator(mode="after")
    def _one_bound(self) -> Gate:
        _known_metric(self.metric, "metric")
        if (self.below is None) == (self.above is None):
            raise PydanticCustomError("gate_bound", MESSAGES["gate_bound"])
        return self

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return value < self.below if self.below is not None else value > (self.above or 0)


Weights = dict[str, Annotated[float, Field(ge=0, le=100)]]


class Template(_Strict):
    key: Key
    label: Wording
    scope: Scope = Scope()
    weights: dict[Level, Weights]
    gates: list[Gate] = []

    @model_validator(mode="after")
    def _weights(self) -> Template:
        for level, weights in self.weights.items():
            for metric in weights:
                _known_metric(metric, f"weights.{level.value}.{metric}")
            if sum(weights.values()) <= 0:
                raise PydanticCustomError("no_weights", MESSAGES["no_weights"], {"at": f"weights.{level.value}"})
        return self


class Tier(_Strict):
    key: Key
    label: Wording
    min: Percent
    grants: list[str] = []

    @model_validator(mode="after")
    def _grants(self) -> Tier:
        for number, grant in enumerate(self.grants):
            if grant not in GRANTS:
                raise PydanticCustomError("unknown_grant", MESSAGES["unknown_grant"],
                                          {"grant": grant, "known": ", ".join(GRANTS), "at": f"grants.{number}"})
        return self


class Templates(_Strict):
    name: Text
    metrics: dict[str, Scale]
    templates: Annotated[list[Template], Field(min_length=1, max_length=50)]
    min_coverage: Percent = 60
    tiers: list[Tier] = []

    @model_validator(mode="after")
    def _consistent(self) -> Templates:
        for metric in self.metrics:
            _known_metric(metric, f"metrics.{metric}")
        for number, template in enumerate(self.templates):
            for level, weights in template.weights.items():
                for metric in weights:
                    if metric not in self.metrics:
                        raise PydanticCustomError("unscored_metric", MESSAGES["unscored_metric"], {
                            "metric": metric, "at": f"templates.{number}.weights.{level.value}.{metric}"})
        if not any(t.scope.specificity == 0 for t in self.templates):
            raise PydanticCustomError("no_catch_all", MESSAGES["no_catch_all"])
        if [t.min for t in self.tiers] != sorted((t.min for t in self.tiers), reverse=True):
            raise PydanticCustomError("tiers_order", MESSAGES["tiers_order"])
        return self


@dataclass(frozen=True)
class RepFacts:
    """What picks a rep's template and weights."""

    user_id: int
    level: Level
    department: str | None
    region: str | None
    product_lines: frozenset[str]
    monthly_quota: float


def fits(scope: Scope, rep: RepFacts) -> bool:
    return ((not scope.departments or rep.department in scope.departments)
            and (not scope.regions or rep.region in scope.regions)
            and (not scope.product_lines or bool(rep.product_lines & set(scope.product_lines))))


def template_for(doc: Templates, rep: RepFacts) -> Template:
    """The most specific template whose scope fits the rep; among equals, the first in the document."""
    fitting = [t for t in doc.templates if fits(t.scope, rep)]
    return max(fitting, key=lambda t: t.scope.specificity)  # max keeps the first of equals


def problem(error: Any, root: yaml.Node | None) -> Problem:
    """A pydantic error as a ``Problem``, its ``loc`` a dotted path (``templates.0.weights.senior``)."""
    ctx = dict(error.get("ctx") or {})
    at = ctx.pop("at", None)
    loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
    if at:
        loc.extend(int(p) if p.isdigit() else p for p in at.split("."))  # a validator names the path below
    loc = ["zh-CN" if p == "zh" else p for p in loc]
    params = {k: v for k, v in ctx.items() if isinstance(v, str | int | float)}
    return Problem(".".join(str(p) for p in loc), error["msg"], line(root, loc), error["type"], params)


def parse(text: str) -> Templates:
    """The templates in ``text``, or ``TemplateError`` listing every problem with its path and line."""
    node, data = yamldoc.load(text, error=TemplateError, not_a_mapping=MESSAGES["not_a_mapping"])
    try:
        return Templates.model_validate(data)
    except ValidationError as exc:
        raise TemplateError([problem(e, node) for e in exc.errors()]) from None


def default_text() -> str:
    """The shipped default templates (``default.yaml``), comments included."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")
