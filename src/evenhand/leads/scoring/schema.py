"""The rule-scoring model: a YAML document of rule groups, validated so every error names its path.

```yaml
name: 默认线索评分
version: "2026.1"            # a free label; the database numbers saved versions itself
threshold_high_value: 80     # routing sends leads at or above this to the weighted track
aliases:                     # other spellings of a value, matched case-insensitively
  industry: {制造业: [manufacturing, 制造]}
groups:
  fit:
    label: 客户画像
    cap: 55                  # the group never adds more than this
    rules:
      - {type: industry, in: [制造业], points: 20, label: "行业：制造业"}
      - type: company_size
        label: 公司规模
        bands: [{min: 0, max: 50, points: 2}, {min: 50, max: 500, points: 10}, {min: 500, points: 20}]
  behaviour:
    cap: 45
    half_life_days: 14       # an event's points halve every 14 days of age
    rules:
      - {type: whitepaper_download, points: 8, label: 下载白皮书}
blend: {predictive_weight: 0.0}
```

Rule types and what they read are listed in ``RULE_TYPES``; the semantics live in ``compiled.py``.
Points of one rule lie in -100..100; a group's ``cap`` limits what the group adds, never what it takes.
"""

from __future__ import annotations

import unicodedata
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import Problem

EVENT_KINDS = ("page_view", "whitepaper_download", "webinar", "form_submit", "email_open", "email_click")
ATTRIBUTES = ("industry", "company_size", "region", "title", "source", "email", "phone")

# Our own error kinds; pydantic's built-in kinds keep pydantic's message (and `type` for translation).
MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("A scoring model must be a YAML mapping with name and groups."),
    "band_order": N_("min ({min}) must be below max ({max})."),
    "band_overlap": N_("Band {index} must start at or after the end of the band before it."),
    "points_or_bands": N_("Give exactly one of points or bands."),
    "keywords_or_tiers": N_("Give either keywords with points, or tiers."),
    "duplicate_rule_id": N_("Rule id {id} is used twice in this group."),
    "alias_conflict": N_("The alias {alias} stands for both {first} and {second}."),
    "reserved_group": N_("The group name {name} is reserved."),
}


def norm(text: str) -> str:
    """The matching form of a categorical value: NFKC (full-width → half-width), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _fail(kind: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, MESSAGES[kind], params)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Points = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Bound = Annotated[float, Field(allow_inf_nan=False)]


class Band(_Strict):
    """``[min, max)``; no ``max`` means no upper bound."""

    min: Bound = 0.0
    max: Bound | None = None
    points: Points
    label: Text | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.max is not None and self.min >= self.max:
            raise _fail("band_order", min=self.min, max=self.max)
        return self


def _ascending(bands: list[Band]) -> list[Band]:
    """Bands are listed from low to high and do not overlap, so at most one matches a value."""
    for i in range(1, len(bands)):
        before = bands[i - 1]
        if before.max is None or before.max > bands[i].min:
            raise _fail("band_overlap", index=i)
    return bands


Bands = Annotated[list[Band], Field(min_length=1), AfterValidator(_ascending)]


class _Rule(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    label: Text


class ValueRule(_Rule):
    """The lead's industry / region / source is one of ``in`` (aliases applied, case-insensitive)."""

    type: Literal["industry", "region", "source"]
    in_: Annotated[list[Text], Field(alias="in", min_length=1)]
    points: Points


class SizeRule(_Rule):
    """Employee count in a band; the band's label (or the rule's) explains it."""

    type: Literal["company_size"]
    bands: Bands


class TitleTier(_Strict):
    keywords: Annotated[list[Text], Field(min_length=1)]
    points: Points
    label: Text | None = None


class TitleRule(_Rule):
    """Keywords in the job title; with ``tiers`` the first tier that matches wins (总经理 is not also 经理).

    Keywords made of ASCII letters and digits match whole words only (``VP`` not in ``MVP``); others
    match anywhere in the title (``总监`` in ``IT总监``).
    """

    type: Literal["title"]
    keywords: Annotated[list[Text], Field(min_length=1)] | None = None
    points: Points | None = None
    tiers: Annotated[list[TitleTier], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TitleRule:
        simple = self.keywords is not None and self.points is not None
        if simple == (self.tiers is not None) or (self.tiers is not None and self.keywords is not None):
            raise _fail("keywords_or_tiers")
        return self

    def tier_list(self) -> list[TitleTier]:
        if self.tiers is not None:
            return self.tiers
        assert self.keywords is not None and self.points is not None
        return [TitleTier(keywords=self.keywords, points=self.points)]


class EmailDomainRule(_Rule):
    """The e-mail address's domain (after the last ``@``) is exactly one of ``domains``."""

    type: Literal["email_domain"]
    domains: Annotated[list[Text], Field(min_length=1)]
    points: Points


class MissingRule(_Rule):
    """The attribute is absent or blank (typically negative points: no phone −5)."""

    type: Literal["missing"]
    field: Literal["industry", "company_size", "region", "title", "source", "email", "phone"]
    points: Points


class EventRule(_Rule):
    """Points for each event of this kind, decayed by the group's half-life."""

    type: Literal["whitepaper_download", "webinar", "form_submit", "email_open", "email_click"]
    points: Points


class PageViewRule(_Rule):
    """Points per page view: flat ``points``, or by dwell-time ``bands`` in seconds (no dwell counts as 0 s)."""

    type: Literal["page_view"]
    points: Points | None = None
    bands: Bands | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PageViewRule:
        if (self.points is None) == (self.bands is None):
            raise _fail("points_or_bands")
        return self


class VisitsRule(_Rule):
    """Number of distinct UTC days with a page view within ``window_days``, in count bands.

    Not decayed: the window is its notion of recency.
    """

    type: Literal["visits"]
    window_days: float = Field(default=30.0, gt=0, le=3650)
    bands: Bands


Rule = Annotated[ValueRule | SizeRule | TitleRule | EmailDomainRule | MissingRule | EventRule | PageViewRule
                 | VisitsRule, Field(discriminator="type")]
RULE_TYPES = ("industry", "region", "source", "company_size", "title", "email_domain", "missing", *EVENT_KINDS,
              "visits")


def rule_ids(rules: list[Rule]) -> list[str]:
    """Each rule's id within its group: its own ``id``, else ``<type>.<n>`` counting rules of that type."""
    seen: dict[str, int] = {}
    ids = []
    for rule in rules:
        n = seen.get(rule.type, 0)
        seen[rule.type] = n + 1
        ids.append(rule.id or f"{rule.type}.{n}")
    return ids


class Group(_Strict):
    label: Text | None = None
    cap: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    half_life_days: float | None = Field(default=None, gt=0, le=3650)
    rules: Annotated[list[Rule], Field(min_length=1)]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        ids = rule_ids(rules)
        for i, rid in enumerate(ids):
            if rid in ids[:i]:
                raise _fail("duplicate_rule_id", id=rid)
        return rules


class Blend(_Strict):
    """Mixing in the predictive probability p: ``round((1 - w) * rule_total + w * 100 * p)``."""

    predictive_weight: float = Field(default=0.0, ge=0, le=1)


GroupName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


def _alias_map(table: dict[str, list[str]]) -> dict[str, str]:
    """alias → canonical, both in matching form; an alias may stand for one canonical value only."""
    out: dict[str, str] = {}
    for canonical, aliases in table.items():
        for alias in aliases:
            key, value = norm(alias), norm(canonical)
            if out.get(key, value) != value:
                raise _fail("alias_conflict", alias=alias, first=out[key], second=value)
            out[key] = value
    return out


def _checked_aliases(table: dict[str, list[str]]) -> dict[str, list[str]]:
    _alias_map(table)
    return table


AliasTable = dict[Literal["industry", "region", "source"],
                  Annotated[dict[Text, list[Text]], AfterValidator(_checked_aliases)]]


class ScoringModel(_Strict):
    name: Text
    version: str | None = None
    description: str | None = None
    threshold_high_value: int = Field(default=80, ge=0, le=100)
    aliases: AliasTable = Field(default_factory=dict)
    groups: Annotated[dict[GroupName, Group], Field(min_length=1)]
    blend: Blend = Field(default_factory=Blend)

    @field_validator("version", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("groups")
    @classmethod
    def _names(cls, value: dict[str, Group]) -> dict[str, Group]:
        if "total" in value:
            raise _fail("reserved_group", name="total")
        return value

    def alias_map(self, attribute: str) -> dict[str, str]:
        return _alias_map(self.aliases.get(attribute, {}))  # type: ignore[call-overload]


# --- parsing with paths and line numbers ---------------------------------------------------------


class ScoringModelError(yamldoc.DocumentError):
    """The document is not a valid scoring model; ``.path``, ``.message``, ``.line`` describe the first problem."""


def parse(text: str) -> ScoringModel:
    """The model in ``text``, or ``ScoringModelError`` listing every problem with its path and line."""
    node, data = yamldoc.load(text, error=ScoringModelError, not_a_mapping=MESSAGES["not_a_mapping"])
    try:
        return ScoringModel.model_validate(data)
    except ValidationError as exc:
        raise ScoringModelError([_problem(e, node) for e in exc.errors()]) from None


def _problem(error: Any, root: yaml.Node | None) -> Problem:
    loc = _clean_loc(tuple(error["loc"]), error["type"])
    message = error["msg"].removeprefix("Value error, ")
    params = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    return Problem(".".join(str(p) for p in loc), message, yamldoc.line(root, list(loc)), error["type"], params)


def _clean_loc(loc: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """Drop the union tag pydantic inserts after ``rules.<n>``; point tag errors at ``type``."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "rules" and isinstance(loc[i - 1], int) and part in RULE_TYPES:
            continue
        out.append(part)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        out.append("type")
    return tuple(out)


def default_text() -> str:
    """The shipped default model (``default.yaml``), comments included."""
    return starter_text("demo")


# Models ``evenhand init --starter`` installs: the demo company's (also the default) and a neutral one.
STARTERS = {"demo": "default.yaml", "neutral": "neutral.yaml"}


def starter_text(name: str) -> str:
    return resources.files(__package__).joinpath(STARTERS[name]).read_text(encoding="utf-8")


def load_default() -> ScoringModel:
    return parse(default_text())
