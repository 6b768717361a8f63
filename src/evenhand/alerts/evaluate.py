"""What to do with the alerts of a set of entities, given their facts: the pure core of a scan.

- A rule that holds for an entity without a live alert opens one (one live alert per rule and entity: no floods).
- A live alert whose rule no longer holds, whose entity is no longer open (a deal won or lost, a lead closed),
  or whose rule left the document, resolves itself.
- A snoozed alert stays out of sight until its time; then, if its rule still holds, it comes back (open).
- Anything else is seen again: still holding, nothing to say.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evenhand.alerts.document import CompiledRule
from evenhand.kit.clock import as_utc


@dataclass(frozen=True)
class Live:
    """A live alert as the core sees it."""

    id: int
    rule: str
    entity_id: int
    snoozed_until: datetime | None  # set while snoozed


@dataclass(frozen=True)
class Opening:
    rule: CompiledRule
    entity_id: int
    rep_id: int
    subject: str
    facts: dict[str, Any]


@dataclass
class Plan:
    open: list[Opening] = field(default_factory=list)
    resolve: list[tuple[Live, str]] = field(default_factory=list)  # with why: condition, closed, rule_removed
    wake: list[tuple[Live, dict[str, Any]]] = field(default_factory=list)  # with the facts now
    seen: list[tuple[Live, dict[str, Any]]] = field(default_factory=list)


def key(rule: str, entity: str, entity_id: int) -> str:
    """An alert's ``open_key``: unique while it is live."""
    return f"{rule}:{entity}:{entity_id}"


def holding(rules: Sequence[CompiledRule], facts: Mapping[int, tuple[int, str, dict[str, Any]]],
            judged: Mapping[str, Collection[int]] | None = None) -> set[tuple[str, int]]:
    """(rule, entity) for every rule that holds on an entity's facts. With ``judged``, a rule is tried only on the
    entities named for it (those that pass its bounds or carry its live alert): it cannot hold on the others."""
    if judged is None:
        return {(r.id, i) for i, (_, _, f) in facts.items() for r in rules if r.holds(f)}
    return {(r.id, i) for r in rules for i in judged.get(r.id, ()) if i in facts and r.holds(facts[i][2])}


def plan(rules: Sequence[CompiledRule], facts: Mapping[int, tuple[int, str, dict[str, Any]]],
         live: Collection[Live], judged: Collection[int], now: datetime,
         holds: set[tuple[str, int]] | None = None) -> Plan:
    """The plan for the entities ``judged`` (their facts in ``facts``: an entity without facts is no longer open).
    Live alerts of entities not judged are left alone. ``holds`` is ``holding(rules, facts)`` when known."""
    out, by_rule = Plan(), {r.id: r for r in rules}
    holding_now = holding(rules, facts) if holds is None else holds
    alive = {(a.rule, a.entity_id) for a in live}
    wanted = set(judged)
    for alert in live:
        if alert.entity_id in wanted:
            _live(out, alert, by_rule, facts, (alert.rule, alert.entity_id) in holding_now, now)
    for rule_id, entity_id in sorted(holding_now - alive):
        rep_id, subject, known = facts[entity_id]
        out.open.append(Opening(by_rule[rule_id], entity_id, rep_id, subject, known))
    return out


def _live(out: Plan, alert: Live, rules: Mapping[str, CompiledRule], facts: Mapping[int, Any], holds: bool,
          now: datetime) -> None:
    if alert.rule not in rules:
        out.resolve.append((alert, "rule_removed"))
    elif alert.entity_id not in facts:
        out.resolve.append((alert, "closed"))
    elif not holds:
        out.resolve.append((alert, "condition"))
    elif alert.snoozed_until is not None and as_utc(alert.snoozed_until) <= as_utc(now):
        out.wake.append((alert, facts[alert.entity_id][2]))
    else:
        out.seen.append((alert, facts[alert.entity_id][2]))
