"""Compiling a scoring model into the lookup tables of ``compiled``: numbering the explanation columns
and filing each rule under the attribute or event kind it reads, with its points in micro-points."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from evenhand.leads.scoring.compiled import (
    DAY,
    AttributeMatcher,
    BandTable,
    Column,
    CompiledEventRule,
    CompiledGroup,
    CompiledModel,
    CompiledVisits,
    Decay,
    EmailMatch,
    Hit,
    Matcher,
    SizeMatch,
    TitleMatch,
    ValueMatch,
    domain_key,
    micro,
    presence_key,
)
from evenhand.leads.scoring.schema import (
    ATTRIBUTES,
    Band,
    EmailDomainRule,
    EventRule,
    Group,
    MissingRule,
    PageViewRule,
    Rule,
    ScoringModel,
    SizeRule,
    TitleRule,
    ValueRule,
    VisitsRule,
    norm,
    rule_ids,
)


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str]:
    parts = [rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" if re.fullmatch(r"[a-z0-9 .&+-]+", k) else re.escape(k)
             for k in (norm(k) for k in keywords)]
    return re.compile("|".join(parts))


class _Builder:
    """Walks the groups once, numbering columns and filing each rule under what it reads."""

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self.columns: list[Column] = []
        self.values: dict[str, dict[str, list[Hit]]] = {"industry": {}, "region": {}, "source": {}}
        self.emails: dict[str, list[Hit]] = {}
        self.sizes: list[BandTable] = []
        self.titles: list[tuple[tuple[re.Pattern[str], Hit], ...]] = []
        self.missing: dict[str, list[Hit]] = {}
        self.events: dict[str, list[CompiledEventRule]] = {}
        self.visits: list[CompiledVisits] = []

    def column(self, rule_id: str, group: str, label: str, kind: str = "rule") -> int:
        self.columns.append(Column(rule_id, group, label, kind))
        return len(self.columns) - 1

    def add(self, group: str, rid: str, rule: Rule, decay: Decay | None) -> None:
        _ADDERS[type(rule)](self, f"{group}.{rid}", group, rule, decay)

    def matchers(self) -> dict[str, AttributeMatcher]:
        parts: dict[str, list[Matcher]] = {a: [] for a in ATTRIBUTES}
        for attr, table in self.values.items():
            if table:
                parts[attr].append(ValueMatch(self.model.alias_map(attr), _freeze(table)))
        if self.emails:
            parts["email"].append(EmailMatch(_freeze(self.emails)))
        if self.sizes:
            parts["company_size"].append(SizeMatch(tuple(self.sizes)))
        if self.titles:
            parts["title"].append(TitleMatch(tuple(self.titles)))
        keys = {"email": domain_key, "phone": presence_key}
        matchers = {a: AttributeMatcher(tuple(p), tuple(self.missing.get(a, ())), keys.get(a))
                    for a, p in parts.items()}
        return {a: m for a, m in matchers.items() if m.used}


def _freeze(table: dict[str, list[Hit]]) -> dict[str, tuple[Hit, ...]]:
    return {k: tuple(v) for k, v in table.items()}


def _add_value(b: _Builder, rid: str, group: str, rule: ValueRule, decay: Decay | None) -> None:
    col = b.column(rid, group, rule.label)
    aliases = b.model.alias_map(rule.type)
    for value in dict.fromkeys(aliases.get(norm(v), norm(v)) for v in rule.in_):
        b.values[rule.type].setdefault(value, []).append((col, micro(rule.points)))


def _add_email(b: _Builder, rid: str, group: str, rule: EmailDomainRule, decay: Decay | None) -> None:
    col = b.column(rid, group, rule.label)
    for domain in dict.fromkeys(norm(d).lstrip("@") for d in rule.domains):
        b.emails.setdefault(domain, []).append((col, micro(rule.points)))


def _add_missing(b: _Builder, rid: str, group: str, rule: MissingRule, decay: Decay | None) -> None:
    b.missing.setdefault(rule.field, []).append((b.column(rid, group, rule.label), micro(rule.points)))


def _band_cols(b: _Builder, rid: str, group: str, label: str, bands: Sequence[Band]) -> list[int]:
    return [b.column(f"{rid}.{i}", group, band.label or label) for i, band in enumerate(bands)]


def _add_size(b: _Builder, rid: str, group: str, rule: SizeRule, decay: Decay | None) -> None:
    b.sizes.append(BandTable.of(rule.bands, _band_cols(b, rid, group, rule.label, rule.bands)))


def _add_title(b: _Builder, rid: str, group: str, rule: TitleRule, decay: Decay | None) -> None:
    tiers = rule.tier_list()
    ids = [rid] if rule.tiers is None else [f"{rid}.{i}" for i in range(len(tiers))]
    cols = [b.column(i, group, t.label or rule.label) for i, t in zip(ids, tiers, strict=True)]
    b.titles.append(tuple((_keyword_pattern(t.keywords), (c, micro(t.points))) for t, c in zip(tiers, cols,
                                                                                              strict=True)))


def _add_event(b: _Builder, rid: str, group: str, rule: EventRule | PageViewRule, decay: Decay | None) -> None:
    col = b.column(rid, group, rule.label)
    bands = getattr(rule, "bands", None)
    dwell = None if bands is None else BandTable.of(bands, [col] * len(bands))
    compiled = CompiledEventRule(col, rule.type, decay, micro(rule.points or 0), dwell)
    b.events.setdefault(rule.type, []).append(compiled)


def _add_visits(b: _Builder, rid: str, group: str, rule: VisitsRule, decay: Decay | None) -> None:
    cols = _band_cols(b, rid, group, rule.label, rule.bands)
    b.visits.append(CompiledVisits(rule.window_days * DAY, BandTable.of(rule.bands, cols)))


_ADDERS: dict[type, Callable[..., None]] = {
    ValueRule: _add_value, EmailDomainRule: _add_email, MissingRule: _add_missing, SizeRule: _add_size,
    TitleRule: _add_title, EventRule: _add_event, PageViewRule: _add_event, VisitsRule: _add_visits,
}


def compile(model: ScoringModel) -> CompiledModel:
    """Number every explanation column: each group's rules in document order followed by its cap column
    (if it has a cap), and the clamp column last. Takes a few milliseconds (the decay tables); do it once
    per model version."""
    b = _Builder(model)
    groups = tuple(_compile_group(b, name, group) for name, group in model.groups.items())
    clamp = b.column("total.clamp", "total", "", "clamp")
    events = {k: tuple(v) for k, v in b.events.items()}
    return CompiledModel(model, tuple(b.columns), groups, b.matchers(), events, tuple(b.visits), clamp,
                         model.blend.predictive_weight, _group_of(b.columns, groups))


def _compile_group(b: _Builder, name: str, group: Group) -> CompiledGroup:
    decay = Decay(group.half_life_days) if group.half_life_days else None
    start = len(b.columns)
    for rid, rule in zip(rule_ids(group.rules), group.rules, strict=True):
        b.add(name, rid, rule, decay)
    cols = tuple(range(start, len(b.columns)))
    label = group.label or name
    cap_col = None if group.cap is None else b.column(f"{name}.cap", name, label, "cap")
    return CompiledGroup(name, label, cols, None if group.cap is None else micro(group.cap), cap_col)


def _group_of(columns: list[Column], groups: tuple[CompiledGroup, ...]) -> tuple[int, ...]:
    index = {g.name: i for i, g in enumerate(groups)}
    return tuple(index.get(c.group, len(groups)) for c in columns)
