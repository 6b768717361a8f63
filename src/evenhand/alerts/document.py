"""The alert rules: a YAML document validated so every problem names its path and line.

```yaml
name: 默认预警规则
rules:
  - id: stale_opportunity                       # unique; an alert names its rule by it
    label: 商机长时间未更新
    entity: opportunity                         # opportunity | lead | rep
    when: days_since_update >= params.days[stage]   # CEL over the entity's facts and params
    params:
      days: {qualification: 7, needs_analysis: 10, proposal: 7, negotiation: 5}
    tell: [supervisor, rep]                     # who hears of a new alert: the rep's supervisor, and the rep
    severity: warning                           # info | warning | critical
```

The facts each entity offers are ``conditions.FACTS`` (docs/alerts.md explains each). A condition is checked when
the document is: its syntax, the names it reads, the params it reads, and a trial on sample facts of its entity
(an error there, or a value other than true or false, is a problem naming the rule's ``when``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from evenhand.alerts import conditions
from evenhand.alerts.conditions import ENTITIES, Bound
from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.standards.document import problem

MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    **conditions.MESSAGES,
    "not_a_mapping": N_("Alert rules must be a YAML mapping with name and rules."),
    "duplicate_rule": N_("The rule id {id} is used twice."),
    "unknown_entity": N_("Unknown entity {entity}; the entities are {known}."),
}
SEVERITIES = ("info", "warning", "critical")
TOLD = ("supervisor", "rep")


class AlertRulesError(yamldoc.DocumentError):
    """The document is not valid alert rules; ``.path``, ``.message``, ``.line`` describe the first problem."""


def _fail(kind: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, MESSAGES[kind], params)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
Condition = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=conditions.MAX_CONDITION)]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: RuleId
    label: Text
    entity: str
    when: Condition
    params: dict[str, Any] = Field(default_factory=dict)
    tell: Annotated[list[Literal["supervisor", "rep"]], Field(min_length=1, max_length=2)] = ["supervisor"]
    severity: Literal["info", "warning", "critical"] = "warning"

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str) -> str:
        if value not in ENTITIES:
            raise _fail("unknown_entity", entity=value, known=", ".join(ENTITIES))
        return value

    @model_validator(mode="after")
    def _valid_condition(self) -> Rule:
        found = conditions.problems(self.when, self.entity, self.params)
        if found is not None:
            raise _fail(found[0], **found[1], at="when")
        return self


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text
    description: str | None = None
    rules: Annotated[list[Rule], Field(max_length=100)]

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for i, rule in enumerate(rules):
            if rule.id in seen:
                raise _fail("duplicate_rule", id=rule.id, at=f"{i}.id")
            seen.add(rule.id)
        return rules


# --- the compiled form -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRule:
    id: str
    label: str
    entity: str
    when: str
    params: dict[str, Any]
    tell: tuple[str, ...]
    severity: str
    program: Any  # the CEL program
    reads: frozenset[str]  # the facts the condition names
    bounds: tuple[Bound, ...]  # what the scan checks in SQL before CEL decides
    implied: bool  # passing the bounds' SQL implies the condition (``conditions.implied``)
    steady: bool  # an incremental scan may judge it on the marked and crossing entities only (``conditions.steady``)

    def holds(self, facts: dict[str, Any]) -> bool:
        return conditions.holds(self.program, facts, self.params)


@dataclass(frozen=True)
class CompiledRules:
    name: str
    rules: tuple[CompiledRule, ...]

    def of(self, entity: str) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.entity == entity)

    def rule(self, rule_id: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def compile(doc: AlertRules) -> CompiledRules:
    return CompiledRules(doc.name, tuple(_rule(r) for r in doc.rules))


def _rule(rule: Rule) -> CompiledRule:
    program = conditions.program(rule.when)
    return CompiledRule(rule.id, rule.label, rule.entity, rule.when, rule.params, tuple(rule.tell), rule.severity,
                        program, frozenset(program.variables()) - {"params"},
                        conditions.bounds(rule.when, rule.entity, rule.params),
                        conditions.implied(rule.when, rule.entity, rule.params),
                        conditions.steady(rule.when, rule.entity, rule.params))


def parse(text: str) -> AlertRules:
    """The rules in ``text``, or ``AlertRulesError`` listing every problem with its path and line."""
    node, data = load(text)
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        raise AlertRulesError([problem(e, node) for e in exc.errors()]) from None


def load(text: str) -> tuple[yaml.Node | None, dict[str, Any]]:
    return yamldoc.load(text, error=AlertRulesError, not_a_mapping=MESSAGES["not_a_mapping"])


def default_text() -> str:
    """The shipped rules (``default.yaml``), comments included."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")
