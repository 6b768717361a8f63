"""The call QA rubric: a YAML document validated so every problem names its path and line.

```yaml
name: 通话质检评分表
criteria:
  discovery:                              # a key: lower case letters, digits and _
    label: {zh-CN: 需求挖掘深度, en: Discovery depth}
    anchors:                              # what each score 1–5 means; all five are required
      1: {zh-CN: 没有提问，直接介绍产品。, en: Asked nothing; went straight to the product.}
      2: …
```

Every criterion is scored 1–5; each label and anchor is written in Chinese (``zh-CN``) and English (``en``). A
review keeps the version of the rubric it was scored under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import Problem, line

SCORES = (1, 2, 3, 4, 5)
MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("A rubric must be a YAML mapping with name and criteria."),
    "bad_key": N_("A criterion's key is lower case letters, digits and _ (starting with a letter), not {key}."),
    "anchors": N_("Anchors are needed for every score 1 to 5; missing {missing}, not allowed {extra}."),
}
KEY = r"^[a-z][a-z0-9_]{0,39}$"


class RubricError(yamldoc.DocumentError):
    """The document is not a valid rubric; ``.path``, ``.message``, ``.line`` describe the first problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Wording(_Strict):
    """One text in both languages."""

    zh: Text = Field(alias="zh-CN")
    en: Text

    def says(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


class Criterion(_Strict):
    label: Wording
    anchors: dict[int, Wording]

    @field_validator("anchors", mode="before")
    @classmethod
    def _every_score(cls, value: Any) -> Any:
        if isinstance(value, dict):
            given = {k for k in value if isinstance(k, int) and not isinstance(k, bool)}
            missing, extra = set(SCORES) - given, [str(k) for k in value if k not in SCORES]
            if missing or extra:
                raise PydanticCustomError("anchors", MESSAGES["anchors"], {
                    "missing": ", ".join(map(str, sorted(missing))) or "—", "extra": ", ".join(extra) or "—"})
        return value


class Rubric(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: str | None = None
    criteria: Annotated[dict[str, Criterion], Field(min_length=1, max_length=20)]

    @field_validator("criteria", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            bad = next((k for k in value if not isinstance(k, str) or not re.match(KEY, k)), None)
            if bad is not None:
                raise PydanticCustomError("bad_key", MESSAGES["bad_key"], {"key": str(bad), "at": str(bad)})
        return value


@dataclass(frozen=True)
class CompiledRubric:
    name: str
    criteria: dict[str, Criterion]  # in the document's order

    def label(self, key: str, locale: str) -> str:
        found = self.criteria.get(key)
        return found.label.says(locale) if found else key


def compile(doc: Rubric) -> CompiledRubric:
    return CompiledRubric(doc.name, dict(doc.criteria))


def problem(error: Any, root: yaml.Node | None) -> Problem:
    """A pydantic error as a ``Problem``, its ``loc`` a dotted path (``criteria.discovery.anchors``)."""
    ctx = dict(error.get("ctx") or {})
    at = ctx.pop("at", None)
    loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
    if at:
        loc.append(at)
    loc = ["zh-CN" if p == "zh" else p for p in loc]
    params = {k: v for k, v in ctx.items() if isinstance(v, str | int | float)}
    return Problem(".".join(str(p) for p in loc), error["msg"], line(root, loc), error["type"], params)


def parse(text: str) -> Rubric:
    """The rubric in ``text``, or ``RubricError`` listing every problem with its path and line."""
    node, data = yamldoc.load(text, error=RubricError, not_a_mapping=MESSAGES["not_a_mapping"])
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError([problem(e, node) for e in exc.errors()]) from None


def default_text() -> str:
    """The shipped default rubric (``default_rubric.yaml``), comments included."""
    return resources.files(__package__).joinpath("default_rubric.yaml").read_text(encoding="utf-8")
