"""The CEL side of the alert rules: the facts a condition may read per entity, checking a condition, and the
thresholds of a condition that the scan turns into SQL.

A condition reads its entity's facts by name (``days_since_update``, ``stage``…) and its rule's ``params``. The
scan cannot run CEL on a million deals, so it reads the top-level conjuncts of each condition (``a && b && c``):
a conjunct of the form ``fact >= threshold`` (or ``>``, a bare boolean fact, ``!fact``) on a fact the database
can bound becomes a ``Bound``, and only the entities that pass every bound of a rule are read in full and judged
by CEL. A conjunct it does not understand narrows nothing, so the bounds only ever let more entities through than
the condition holds for: CEL decides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cel

from evenhand.i18n import N_

OPEN_STAGES = ("qualification", "needs_analysis", "proposal", "negotiation")
OPEN_LEAD_STATUSES = ("new", "assigned", "contacted", "qualified")
# Every fact per entity with a sample value (its type), which checking a condition evaluates it against.
FACTS: dict[str, dict[str, Any]] = {
    "opportunity": {"stage": "qualification", "amount": 12000.0, "days_in_stage": 3.5, "days_since_update": 2.0,
                    "consecutive_unanswered_outbound": 0, "standard_missed": False, "unbacked_flags": 0},
    "lead": {"status": "assigned", "score": 60, "days_since_update": 1.0, "first_response_minutes": 30.0,
             "responded": True, "consecutive_unanswered_outbound": 0, "standard_missed": False,
             "unbacked_flags": 0},
    "rep": {"unbacked_flags": 0, "duplicate_flags": 0},
}
ENTITIES = tuple(FACTS)
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "opportunity": [{**FACTS["opportunity"], "stage": s} for s in OPEN_STAGES],
    "lead": [{**FACTS["lead"], "status": s} for s in OPEN_LEAD_STATUSES],
    "rep": [FACTS["rep"]],
}
MESSAGES: dict[str, str] = {
    "cel_syntax": N_("Not a valid CEL expression: {problem}"),
    "cel_unknown_name": N_("Unknown name {name}: a condition on this entity ({entity}) reads {known} and params."),
    "cel_unknown_param": N_("The condition reads params.{name}, which the rule does not set."),
    "cel_fails": N_("The condition fails on a {entity} ({sample}): {problem}"),
    "cel_not_bool": N_("The condition gives {value}, not true or false."),
}
MAX_CONDITION = 2_000  # the CEL parser panics formatting errors in very long expressions; conditions are short


@lru_cache(maxsize=1024)
def program(expression: str) -> Any:
    """One compiled program per distinct expression (``ValueError`` on a syntax error)."""
    return cel.compile(expression)


def problems(expression: str, entity: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first problem with a condition as (kind of ``MESSAGES``, parameters), or None: syntax, names other
    than the entity's facts and ``params``, params the rule does not set, and an error or a non-boolean on any
    sample of the entity."""
    try:
        compiled = program(expression)
    except (ValueError, RuntimeError) as exc:
        return "cel_syntax", {"problem": str(exc).split("\n")[0][:300]}
    facts = FACTS[entity]
    unknown = next((n for n in compiled.variables() if n != "params" and n not in facts), None)
    if unknown is not None:
        return "cel_unknown_name", {"name": unknown, "entity": entity, "known": ", ".join(facts)}
    missing = next((n for n in _PARAM.findall(_code(expression)) if n not in params), None)
    if missing is not None:
        return "cel_unknown_param", {"name": missing}
    return _sampled(compiled, entity, params)


def _sampled(compiled: Any, entity: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for sample in SAMPLES[entity]:
        try:
            value = compiled.execute({**sample, "params": params})
        except Exception as exc:  # the CEL runtime's errors carry no common type
            shown = sample.get("stage") or sample.get("status") or entity
            return "cel_fails", {"entity": entity, "sample": shown, "problem": str(exc).split("\n")[0][:300]}
        if not isinstance(value, bool):
            return "cel_not_bool", {"value": repr(value)[:80]}
    return None


def holds(compiled: Any, facts: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether the condition holds for one entity; an error (a fact missing, say) counts as not holding."""
    try:
        return compiled.execute({**facts, "params": params}) is True
    except Exception:  # a condition that cannot be judged on this entity does not fire
        return False


# --- the thresholds the scan hands to SQL ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """``fact op value`` (``op`` ``>=`` or ``>``; ``value`` a number or, indexed by the deal's stage, a number
    per stage), or a boolean fact that must be ``value`` (``op`` ``is``)."""

    fact: str
    op: str
    value: float | bool | tuple[tuple[str, float], ...]


_STRING = re.compile(r"""[rRbB]{0,2}("{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')""")
_PARAM = re.compile(r"\bparams\s*\.\s*([A-Za-z_]\w*)")
_NUMBER = r"-?\d+(?:\.\d+)?"
_RHS = rf"({_NUMBER}|params\s*\.\s*[A-Za-z_]\w*(?:\s*\[\s*stage\s*\])?)"
_COMPARE = re.compile(rf"^([A-Za-z_]\w*)\s*(>=|>)\s*{_RHS}$")
_FLIPPED = re.compile(rf"^{_RHS}\s*(<=|<)\s*([A-Za-z_]\w*)$")
_FLAG = re.compile(r"^(!?)\s*([A-Za-z_]\w*)(?:\s*==\s*(true|false))?$")


def _code(expression: str) -> str:
    """The expression with its string literals blanked out (they are not code)."""
    return _STRING.sub(lambda m: '""', expression)


def conjuncts(expression: str) -> list[str]:
    """The top-level ``&&`` parts of an expression; the whole expression when it has a top-level ``||`` or ``?``."""
    code, parts, depth, start = _code(expression), [], 0, 0
    for i, char in enumerate(code):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and code.startswith(("||", "?"), i):
            return [_unwrapped(code)]
        if depth == 0 and code.startswith("&&", i):
            parts.append(code[start:i])
            start = i + 2
    return [_unwrapped(p) for p in [*parts, code[start:]]]


def _unwrapped(part: str) -> str:
    part = part.strip()
    while part.startswith("(") and part.endswith(")") and _balanced(part[1:-1]):
        part = part[1:-1].strip()
    return part


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth < 0:
            return False
    return depth == 0


def bounds(expression: str, entity: str, params: dict[str, Any]) -> tuple[Bound, ...]:
    """The conjuncts of ``expression`` the scan can check in SQL (see the module's docstring)."""
    found = [_bound(part, FACTS[entity], params) for part in conjuncts(expression)]
    return tuple(b for b in found if b is not None)


# The bounds whose SQL passing implies the conjunct holds (``repository.Narrowing`` checks them as CEL reads them):
# a clock at least N days old, and any open flag for ``>= 1`` or ``> 0``.
_TIMED = {("opportunity", "days_since_update"), ("opportunity", "days_in_stage"), ("lead", "days_since_update")}
_FLAGGED = {("opportunity", "unbacked_flags"), ("lead", "unbacked_flags"), ("rep", "unbacked_flags"),
            ("rep", "duplicate_flags")}


def implied(expression: str, entity: str, params: dict[str, Any]) -> bool:
    """Whether an entity the scan's SQL lets through for this condition is one it holds for: every top-level
    conjunct is a bound, and the SQL of each implies it. Then a live alert on such an entity still holds without
    its facts being read (the scan reads them for the others, and for alerts to open)."""
    found = [_bound(part, FACTS[entity], params) for part in conjuncts(expression)]
    return bool(found) and all(b is not None and _implies(b, entity) for b in found)


def _implies(bound: Bound, entity: str) -> bool:
    values = [v for _, v in bound.value] if isinstance(bound.value, tuple) else [bound.value]
    if (entity, bound.fact) in _TIMED:  # the fact is rounded to 0.001 day: a threshold in those steps survives
        return bound.op == ">=" and all(isinstance(v, float) and round(v * 1000) == v * 1000 for v in values)
    if (entity, bound.fact) in _FLAGGED:
        return all(v == 1 for v in values) if bound.op == ">=" else all(0 <= float(v) < 1 for v in values)
    return False


def _bound(part: str, facts: dict[str, Any], params: dict[str, Any]) -> Bound | None:
    compare, flipped, flag = _COMPARE.match(part), _FLIPPED.match(part), _FLAG.match(part)
    if compare is not None:
        fact, op, rhs = compare.groups()
    elif flipped is not None:
        fact, op, rhs = flipped.group(3), {"<=": ">=", "<": ">"}[flipped.group(2)], flipped.group(1)
    if compare is not None or flipped is not None:
        value = _value(rhs, params)
        numeric = isinstance(facts.get(fact), int | float) and not isinstance(facts.get(fact), bool)
        return Bound(fact, op, value) if numeric and value is not None else None
    if flag and isinstance(facts.get(flag.group(2)), bool):
        return Bound(flag.group(2), "is", (flag.group(1) == "!") != (flag.group(3) != "false"))
    return None


def _value(rhs: str, params: dict[str, Any]) -> float | tuple[tuple[str, float], ...] | None:
    if re.fullmatch(_NUMBER, rhs):
        return float(rhs)
    name = _PARAM.match(rhs).group(1)  # type: ignore[union-attr]  # _RHS matched params.name
    value = params.get(name)
    if "[" in rhs:
        if not isinstance(value, dict) or not all(_number(v) for v in value.values()):
            return None
        return tuple(sorted((str(k), float(v)) for k, v in value.items()))
    return float(value) if isinstance(value, int | float) and _number(value) else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- what an incremental scan must look at -----------------------------------------------------------------------

# The facts that change with time alone (a clock running), and those that change without the entity being marked
# (a lead's score is rescored in bulk; a lead's first-contact standard keeps no remembered deadline).
TIMED: dict[str, frozenset[str]] = {"opportunity": frozenset({"days_since_update", "days_in_stage", "standard_missed"}),
                                    "lead": frozenset({"days_since_update", "first_response_minutes"}),
                                    "rep": frozenset()}
UNMARKED: dict[str, frozenset[str]] = {"lead": frozenset({"score", "standard_missed"})}
_NAME = re.compile(r"[A-Za-z_]\w*")


def steady(expression: str, entity: str, params: dict[str, Any]) -> bool:
    """Whether the condition's verdict on an entity that was not marked can change only when one of its clocks
    crosses a bound's threshold: every top-level conjunct naming a fact that runs with time is a lower bound on that
    fact (``>=``, ``>``; for ``standard_missed`` the fact itself), and it reads no fact that changes unmarked. Only
    then may an incremental scan leave aside the entities neither marked nor crossing; any other rule is judged on
    its whole narrowing."""
    timed, unmarked = TIMED[entity], UNMARKED.get(entity, frozenset())
    for part in conjuncts(expression):
        named = set(_NAME.findall(part))
        if named & unmarked:
            return False
        if named & timed and not _lower(_bound(part, FACTS[entity], params), named & timed):
            return False
    return True


def _lower(bound: Bound | None, named: set[str]) -> bool:
    if bound is None or named != {bound.fact}:
        return False
    return bound.value is True if bound.fact == "standard_missed" else bound.op in (">=", ">")
