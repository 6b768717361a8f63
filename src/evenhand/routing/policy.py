"""The routing policy: a YAML document validated so every error names its path and line.

```yaml
name: 默认线索分配策略
version: "2026.1"
threshold_high_value: 80        # score at or above → weighted track, below → round robin
availability:
  away_counts: false            # an "away" rep is not a candidate (online only)
  working_hours: true           # only inside the rep's working hours, in the rep's time zone
  weekly_lead_cap: 80           # for reps without a weekly cap of their own
weighted:
  pick: deadline                # deadline (default) | smooth — see engine.py
  prior_deals: 20               # Beta prior: a win rate is worth this many deals of the team's mean
  prior_scope: team             # team | pool
  default_win_rate: 0.2         # when nobody in the scope has closed a deal yet
  quota: {favour: behind, strength: 0.5}   # behind | ahead | none
  load_penalty: 1.0             # weight / (1 + penalty × open/max_open)
  junior_share: 0.2             # juniors together get at least this share of high-value leads
  max_share: 0.5                # no rep gets more than half of any lead's share
  max_per_day: 3                # high-value leads per rep per day (and max_per_week)
holding:
  escalate_after_minutes: 30
  supervisor: lina              # when a pool names no supervisor of its own
unacknowledged: reassign        # keep | reassign: a new lead the rep did not acknowledge in time
pools:                          # in order: the first pool whose condition holds takes the lead
  - id: key_accounts
    label: 大客户部
    condition: 'lead.company_size != null && lead.company_size >= 300'
    key_account: true           # only reps holding the key_account grant may enter
    members: {departments: [key_accounts], match_lead: [region]}
    supervisor: wangqiang
  - id: smb                     # the last pool has no condition: every lead has a pool
    members: {departments: [smb], match_lead: [region]}
```

Membership: every list given must be met (a rep needs one of the listed values); ``match_lead`` adds
criteria that depend on the lead — ``region`` (rep's region = lead's region), ``product_line`` (the rep
sells the lead's product line), ``industry`` (the lead's industry is among the rep's skills). A
``match_lead`` criterion is skipped when the lead's value is blank. No ``members`` means every candidate.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from evenhand.i18n import N_
from evenhand.routing.document import PolicyError, Problem, load, problem
from evenhand.routing.values import LEAD_FIELDS

MESSAGES: dict[str, str] = {
    "cel_syntax": N_("Not a valid CEL expression: {problem}"),
    "cel_unknown_name": N_("Unknown name {name}: a condition reads only lead.<field>."),
    "cel_unknown_field": N_("Unknown lead field {field}; the fields are {known}."),
    "duplicate_pool": N_("The pool id {id} is used twice."),
    "catch_all_last": N_("The last pool must have no condition, so that every lead has a pool."),
    "unknown_pool": N_("There is no pool {id}."),
}
_STRING = re.compile(r"""[rRbB]{0,2}("{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')""")
_DOTTED = re.compile(r"\blead\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_INDEXED = re.compile(r"\blead\s*\[\s*\x00(\d+)\x00\s*\]")


def _fail(kind: str, **params: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, MESSAGES[kind], params)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
# A condition is a line or two of logic. The CEL parser panics (a BaseException, not an error) when it formats
# a syntax error in an expression of 64 KiB or more, so a long one is refused before it gets there.
Condition = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]


class Availability(_Strict):
    """Inactive, departed and on-leave reps are never candidates; these are the rules that may vary."""

    away_counts: bool = False
    working_hours: bool = True
    weekly_lead_cap: int | None = Field(default=None, ge=1)


class Quota(_Strict):
    """``behind``: factor ``exp(strength × (1 - attainment))``; ``ahead`` the mirror; attainment clipped to 0..2."""

    favour: Literal["behind", "ahead", "none"] = "behind"
    strength: float = Field(default=0.5, ge=0, le=5)


class Weighted(_Strict):
    pick: Literal["deadline", "smooth"] = "deadline"
    prior_deals: float = Field(default=20, ge=0, le=10_000)
    prior_scope: Literal["team", "pool"] = "team"
    default_win_rate: float = Field(default=0.2, gt=0, lt=1)
    quota: Quota = Field(default_factory=Quota)
    load_penalty: float = Field(default=1.0, ge=0, le=100)
    junior_share: Share = 0.0
    max_share: Annotated[float, Field(gt=0, le=1)] | None = None
    max_per_day: int | None = Field(default=None, ge=1)
    max_per_week: int | None = Field(default=None, ge=1)


class Holding(_Strict):
    """A held lead escalates to the pool's supervisor (else this one) after the wait, in wall-clock minutes."""

    escalate_after_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    supervisor: Text | None = None


class Members(_Strict):
    teams: list[Text] | None = None
    departments: list[Text] | None = None
    regions: list[Text] | None = None
    product_lines: list[Text] | None = None
    skills: list[Text] | None = None
    levels: list[Literal["junior", "senior"]] | None = None
    users: list[Text] | None = None
    match_lead: list[Literal["region", "product_line", "industry"]] = Field(default_factory=list)


class Pool(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    label: Text | None = None
    condition: Condition | None = None
    key_account: bool = False
    members: Members = Field(default_factory=Members)
    supervisor: Text | None = None
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)

    @field_validator("condition")
    @classmethod
    def _valid_cel(cls, value: str | None) -> str | None:
        if value is not None:
            _check_cel(value)
        return value


class RoutingPolicy(_Strict):
    name: Text
    version: str | None = None
    description: str | None = None
    threshold_high_value: int = Field(default=80, ge=0, le=100)
    availability: Availability = Field(default_factory=Availability)
    weighted: Weighted = Field(default_factory=Weighted)
    holding: Holding = Field(default_factory=Holding)
    # A rep who does not acknowledge a new lead in time (the notification's escalation policy): ``keep`` only
    # tells the supervisor; ``reassign`` also routes the lead again without that rep.
    unacknowledged: Literal["keep", "reassign"] = "keep"
    pools: Annotated[list[Pool], Field(min_length=1)]

    @field_validator("version", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("pools")
    @classmethod
    def _pools(cls, pools: list[Pool]) -> list[Pool]:
        ids = [p.id for p in pools]
        again = next((i for i, pid in enumerate(ids) if pid in ids[:i]), None)
        if again is not None:
            raise _fail("duplicate_pool", id=ids[again], at=f"{again}.id")
        if pools[-1].condition is not None:
            raise _fail("catch_all_last", at=f"{len(pools) - 1}.condition")
        return pools


# --- CEL -------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _program(expression: str) -> Any:
    """One compiled program per distinct expression, shared by validation and ``compile``."""
    return cel.compile(expression)


def _check_cel(expression: str) -> None:
    """Syntax, and that the expression reads nothing but known ``lead`` fields (statically, every branch)."""
    try:
        program = _program(expression)
    except (ValueError, RuntimeError) as exc:
        raise _fail("cel_syntax", problem=str(exc).split("\n")[0]) from None
    unknown_name = next((n for n in program.variables() if n != "lead"), None)
    if unknown_name is not None:
        raise _fail("cel_unknown_name", name=unknown_name)
    unknown = next((f for f in lead_fields_read(expression) if f not in LEAD_FIELDS), None)
    if unknown is not None:
        raise _fail("cel_unknown_field", field=unknown, known=", ".join(LEAD_FIELDS))


def lead_fields_read(expression: str) -> list[str]:
    """The ``lead.x`` and ``lead["x"]`` fields an expression mentions (string literals are not code)."""
    literals: list[str] = []

    def hide(match: re.Match[str]) -> str:
        literals.append(match.group(1)[1:-1].strip("'\""))
        return f"\x00{len(literals) - 1}\x00"

    code = _STRING.sub(hide, expression)
    return [*_DOTTED.findall(code), *(literals[int(i)] for i in _INDEXED.findall(code))]


# --- parsing ---------------------------------------------------------------------------------------


def parse(text: str) -> RoutingPolicy:
    """The policy in ``text``, or ``PolicyError`` listing every problem with its path and line."""
    node, data = load(text)
    try:
        return RoutingPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError([problem(e, node) for e in exc.errors()]) from None


def default_text() -> str:
    """The shipped default policy (``default.yaml``), comments included."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")


def load_default() -> RoutingPolicy:
    return parse(default_text())


# Policies ``evenhand init --starter`` installs: the demo company's (also the default) and a neutral one.
STARTERS = {"demo": "default.yaml", "neutral": "neutral.yaml"}


def starter_text(name: str) -> str:
    return resources.files(__package__).joinpath(STARTERS[name]).read_text(encoding="utf-8")


# --- compiling -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledPool:
    """A pool with its condition compiled and its member lists as sets."""

    index: int
    spec: Pool
    program: Any  # cel.Program, or None for "every lead"
    # (criterion, allowed values, the same sorted for the evidence — shared, do not mutate), those given
    lists: tuple[tuple[str, frozenset[str], list[str]], ...]
    match_lead: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """Everything ``decide`` needs, built once per policy version."""

    policy: RoutingPolicy
    hash: str
    pools: tuple[CompiledPool, ...]

    def pool(self, pool_id: str) -> CompiledPool:
        found = next((p for p in self.pools if p.id == pool_id), None)
        if found is None:
            raise KeyError(MESSAGES["unknown_pool"].format(id=pool_id))
        return found


_LISTS = ("teams", "departments", "regions", "product_lines", "skills", "levels", "users")


def compile(policy: RoutingPolicy) -> CompiledPolicy:
    """Compile each condition once; a policy built without ``parse`` is checked here, errors naming the path."""
    pools = tuple(_compile_pool(i, pool) for i, pool in enumerate(policy.pools))
    return CompiledPolicy(policy, policy_hash(policy), pools)


def _compile_pool(index: int, pool: Pool) -> CompiledPool:
    program = None
    if pool.condition is not None:
        try:
            _check_cel(pool.condition)
        except PydanticCustomError as exc:
            raise PolicyError([Problem(f"pools.{index}.condition", exc.message(), None, exc.type,
                                       dict(exc.context or {}))]) from None
        program = _program(pool.condition)
    lists = tuple((name, frozenset(values), sorted(set(values))) for name in _LISTS
                  if (values := getattr(pool.members, name)) is not None)
    return CompiledPool(index, pool, program, lists, tuple(pool.members.match_lead))


def policy_hash(policy: RoutingPolicy) -> str:
    """SHA-256 of the policy's meaning (canonical JSON): comments and layout do not change it."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
