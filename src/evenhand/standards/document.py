"""The stage action standards: a YAML document validated so every problem names its path and line.

```yaml
name: 默认阶段动作标准
calendar:
  holidays: ["2026-10-01"]      # company-wide days off, besides each rep's weekly days off and leave
  workdays: ["2026-10-10"]      # make-up working days (调休): everyone works, whatever their weekly days off
  roll_past_days_off: true      # an hour deadline landing on a rep's day off moves to their next working day
stages:
  first_contact:                # a lead, from its assignment to its current owner
    within: 48h                 # 48h (calendar hours) | 7d (calendar days) | 3 working days
    all_of: [call, email, note]
  needs_analysis:               # a deal, from entering the stage
    within: 7d
    all_of:
      - any_of: [meeting, visit]
      - {type: email, direction: outbound, attachments: ">=1", label: 方案邮件}
```

A stage asks for ``all_of`` (every item, each met by its own activity) or ``any_of`` (one item). An item of
``all_of`` is an action or a group ``{any_of: [actions]}``. An action is a type (``call``, ``email``,
``message``, ``meeting``, ``visit``, ``note``) or a mapping of the type and conditions: ``direction``,
``answered``, ``replied``, ``min_duration`` (``90s``, ``3m``, ``1h`` or seconds), ``attachments`` (``">=1"``,
``0``: a plain number means at least), ``min_messages``, ``sources`` (the capturing systems) and a ``label``.
The stages are ``first_contact`` and the open deal stages; anything else is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import Problem, line

FIRST_CONTACT = "first_contact"
STAGES = (FIRST_CONTACT, "qualification", "needs_analysis", "proposal", "negotiation")
ACTIONS = ("call", "email", "message", "meeting", "visit", "note")
DIRECTIONS = ("inbound", "outbound", "internal")
SOURCES = ("wecom", "dingtalk", "outlook", "telephony", "crm")

MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("Stage standards must be a YAML mapping with name and stages."),
    "unknown_stage": N_("Unknown stage {stage}; the stages are {known}."),
    "unknown_action": N_("Unknown action {action}; the actions are {known}."),
    "unknown_condition": N_("Unknown condition {condition}; an action may say {known}."),
    "bad_within": N_("Write a deadline as 48h, 7d or 3 working days, not {value}."),
    "bad_duration": N_("Write a duration as 90s, 3m, 1h or a number of seconds, not {value}."),
    "bad_count": N_("Write a count as >=1, >0, ==0, <=2 or a number (at least), not {value}."),
    "one_group": N_("A stage asks for all_of or any_of: exactly one of them."),
    "not_an_action": N_("An action is a type (call, email, …) or a mapping with a type."),
    "bad_date": N_("Not a date (YYYY-MM-DD): {value}."),
    "holiday_and_workday": N_("{value} is listed both as a holiday and as a make-up working day."),
}
CONDITIONS = ("type", "label", "direction", "answered", "replied", "min_duration", "attachments", "min_messages",
              "sources")


class StandardsError(yamldoc.DocumentError):
    """The document is not valid stage standards; ``.path``, ``.message``, ``.line`` describe the first problem."""


def _fail(kind: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, MESSAGES[kind], params)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
_WITHIN = re.compile(r"^\s*(\d+)\s*(h|d|wd|working\s+days?)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h)?\s*$", re.IGNORECASE)
_COUNT = re.compile(r"^\s*(>=|>|==|<=|<)?\s*(\d+)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Within:
    """A deadline: ``amount`` calendar hours, or working days (``working``) in the rep's calendar."""

    amount: int
    working: bool

    @property
    def hours(self) -> int:
        return 0 if self.working else self.amount


def parse_within(value: Any) -> Within:
    found = _WITHIN.match(str(value)) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if found is None or int(found.group(1)) < 1 or int(found.group(1)) > 10_000:
        raise _fail("bad_within", value=str(value))
    amount, unit = int(found.group(1)), found.group(2).lower()
    if unit == "h":
        return Within(amount, False)
    return Within(amount * 24, False) if unit == "d" else Within(amount, True)


def _count(value: Any) -> tuple[str, int]:
    """``">=1"`` → (">=", 1); a plain number means "at least"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return ">=", value
    found = _COUNT.match(value) if isinstance(value, str) else None
    if found is None:
        raise _fail("bad_count", value=str(value))
    return found.group(1) or ">=", int(found.group(2))


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = _DURATION.match(value) if isinstance(value, str) else None
    if found is None:
        raise _fail("bad_duration", value=str(value))
    return int(found.group(1)) * _SECONDS[(found.group(2) or "s").lower()]


class Action(_Strict):
    """One kind of activity the standard asks for, and the conditions it must meet."""

    type: str
    label: Text | None = None
    direction: Literal["inbound", "outbound", "internal"] | None = None
    answered: bool | None = None
    replied: bool | None = None
    min_duration: int | None = None
    attachments: tuple[str, int] | None = None
    min_messages: int | None = Field(default=None, ge=1)
    sources: tuple[Literal["wecom", "dingtalk", "outlook", "telephony", "crm"], ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"type": value}
        if not isinstance(value, dict) or "type" not in value:
            raise _fail("not_an_action")
        unknown = next((k for k in value if k not in CONDITIONS), None)
        if unknown is not None:
            raise _fail("unknown_condition", condition=str(unknown), known=", ".join(CONDITIONS[1:]), at=str(unknown))
        return value

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ACTIONS:
            raise _fail("unknown_action", action=value, known=", ".join(ACTIONS))
        return value

    @field_validator("min_duration", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return None if value is None else _duration(value)

    @field_validator("attachments", mode="before")
    @classmethod
    def _attachments(cls, value: Any) -> Any:
        return None if value is None else _count(value)


class AnyOf(_Strict):
    any_of: Annotated[list[Action], Field(min_length=1, max_length=20)]
    label: Text | None = None


def _kind(value: Any) -> str:
    """A mapping with ``any_of`` is a group; anything else is read as an action."""
    return "Group" if isinstance(value, AnyOf) or (isinstance(value, dict) and "any_of" in value) else "Action"


# The tags are capitalised so that ``problem`` leaves them out of a problem's path.
Item = Annotated[Annotated[AnyOf, Tag("Group")] | Annotated[Action, Tag("Action")], Discriminator(_kind)]


class StageStandard(_Strict):
    label: Text | None = None
    within: Within
    all_of: Annotated[list[Item], Field(min_length=1, max_length=20)] | None = None
    any_of: Annotated[list[Action], Field(min_length=1, max_length=20)] | None = None

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> Within:
        return value if isinstance(value, Within) else parse_within(value)

    @model_validator(mode="after")
    def _one_group(self) -> StageStandard:
        if (self.all_of is None) == (self.any_of is None):
            raise _fail("one_group")
        return self


class Calendar(_Strict):
    holidays: Annotated[list[str], Field(max_length=1000)] = Field(default_factory=list)
    workdays: Annotated[list[str], Field(max_length=1000)] = Field(default_factory=list)
    roll_past_days_off: bool = True

    @field_validator("holidays", "workdays")
    @classmethod
    def _dates(cls, value: list[str]) -> list[str]:
        for i, day in enumerate(value):
            try:
                date.fromisoformat(str(day))
            except ValueError:
                raise _fail("bad_date", value=str(day), at=str(i)) from None
        return value

    @model_validator(mode="after")
    def _off_or_on(self) -> Calendar:
        holidays = {date.fromisoformat(day) for day in self.holidays}
        both = next((i for i, day in enumerate(self.workdays) if date.fromisoformat(day) in holidays), None)
        if both is not None:
            raise _fail("holiday_and_workday", value=self.workdays[both], at=f"workdays.{both}")
        return self


class Standards(_Strict):
    name: Text
    description: str | None = None
    calendar: Calendar = Field(default_factory=Calendar)
    stages: dict[str, StageStandard]

    @field_validator("stages", mode="before")
    @classmethod
    def _known_stages(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = next((k for k in value if k not in STAGES), None)
            if unknown is not None:
                raise _fail("unknown_stage", stage=str(unknown), known=", ".join(STAGES), at=str(unknown))
        return value


# --- the compiled form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One line of a stage's checklist: met by one activity matching any of ``actions``."""

    key: str  # its path in the document (``needs_analysis.all_of.1``)
    label: str | None
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class CompiledStage:
    stage: str
    label: str | None
    within: Within
    requirements: tuple[Requirement, ...]  # every one must be met, each by its own activity


@dataclass(frozen=True)
class CompiledStandards:
    name: str
    stages: dict[str, CompiledStage]
    holidays: frozenset[date]
    workdays: frozenset[date]  # make-up working days: worked by everyone not on leave
    roll_past_days_off: bool


def compile(doc: Standards) -> CompiledStandards:
    stages = {name: _stage(name, spec) for name, spec in doc.stages.items()}
    return CompiledStandards(doc.name, stages, frozenset(date.fromisoformat(d) for d in doc.calendar.holidays),
                             frozenset(date.fromisoformat(d) for d in doc.calendar.workdays),
                             doc.calendar.roll_past_days_off)


def _stage(name: str, spec: StageStandard) -> CompiledStage:
    requirements: tuple[Requirement, ...]
    if spec.any_of is not None:
        requirements = (Requirement(f"{name}.any_of", None, tuple(spec.any_of)),)
    else:
        requirements = tuple(Requirement(f"{name}.all_of.{i}", item.label,
                                         tuple(item.any_of) if isinstance(item, AnyOf) else (item,))
                             for i, item in enumerate(spec.all_of or ()))
    return CompiledStage(name, spec.label, spec.within, requirements)


# --- reading ---------------------------------------------------------------------------------------


def load(text: str) -> tuple[yaml.Node | None, dict[str, Any]]:
    return yamldoc.load(text, error=StandardsError, not_a_mapping=MESSAGES["not_a_mapping"])


def problem(error: Any, root: yaml.Node | None) -> Problem:
    """A pydantic error as a ``Problem``; its ``loc`` becomes a dotted path (``stages.proposal.within``).

    Pydantic adds the tried member of a union to the path (``function-before[...]``, ``Action``); those are
    dropped so the path is the document's own."""
    ctx = dict(error.get("ctx") or {})
    at = ctx.pop("at", None)
    loc = [p for p in error["loc"] if not (isinstance(p, str) and (p[:1].isupper() or "[" in p))]
    if at:
        loc += [int(p) if p.isdigit() else p for p in at.split(".")]
    message = error["msg"].removeprefix("Value error, ")
    params = {k: v for k, v in ctx.items() if isinstance(v, str | int | float)}
    return Problem(".".join(str(p) for p in loc), message, line(root, loc), error["type"], params)


def parse(text: str) -> Standards:
    """The standards in ``text``, or ``StandardsError`` listing every problem with its path and line."""
    node, data = load(text)
    try:
        return Standards.model_validate(data)
    except ValidationError as exc:
        raise StandardsError([problem(e, node) for e in exc.errors()]) from None


def default_text() -> str:
    """The shipped default standards (``default.yaml``), comments included."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")
