"""A rule model's points learned from a company's own outcomes (``evenhand scoring suggest``). Pure: no database.

How the suggestion is made:

1. The leads (as they were when they arrived, see ``History``) are split into a training and a held-out part,
   stratified by outcome, with a stated seed.
2. A *probe* model is built: one rule worth 1 point for each thing the suggestion may give points for — each
   common industry, region and source value (the active model's aliases applied), each company-size band, each
   tier of the active model's job-title rules, a personal e-mail address, a missing phone, each behaviour
   event, page views per dwell band, visits on several days. Scoring the leads with it through the real scorer
   (``score_table``) gives the features exactly as the suggested model will see them: one-hot values, and per
   event kind the number of events, decayed by the half-life as the model decays them.
3. A class-balanced, L2-regularised logistic regression (its strength chosen by cross-validated ROC AUC) is
   fitted on the training part; event counts are clipped at ``EVENT_CLIP`` for the fit, as the group caps
   would cut a long run of events.
4. Coefficients become whole points: scaled so the strongest positive feature is worth ``TOP_POINTS``,
   rounded, anything below ``MIN_POINTS`` dropped. Positive fit points go to ``fit``, behaviour to
   ``behaviour`` (capped like the shipped model's groups), negative fit points to ``penalties``.
5. The suggested and the active model both score the held-out part through the same scorer; their ROC AUCs
   are reported side by side. The file written is the model that was measured (fitted on the training part).
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from threadpoolctl import threadpool_limits

from evenhand.errors import Invalid
from evenhand.i18n import N_
from evenhand.leads.scoring.compiled import CompiledModel
from evenhand.leads.scoring.compiler import compile
from evenhand.leads.scoring.schema import (
    Band,
    EmailDomainRule,
    PageViewRule,
    ScoringModel,
    SizeRule,
    TitleRule,
    TitleTier,
    VisitsRule,
    norm,
    parse,
)
from evenhand.leads.scoring.vector import Coded, EventTable, LeadTable, StrColumn, score_table

MIN_LEADS, MIN_EACH = 50, 10  # leads with a known outcome; converted (and not converted) among them
TEST_SIZE, SEED = 0.3, 42
TOP_POINTS, MIN_POINTS = 22, 2
EVENT_CLIP = 5
MIN_LEVEL_ROWS, MIN_LEVEL_SHARE, MAX_LEVELS = 10, 0.01, 30  # a value needs this many training rows of its own
STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # inverse L2 strengths tried by cross-validation
FOLDS = 5
SPREAD_POINTS, SPREAD_SHARE = 10, 0.9  # "narrow": this share of leads within this many points

# As the shipped model (default.yaml) has them, for an active model that lacks them.
CAPS = {"fit": 60.0, "behaviour": 50.0}
HALF_LIFE_DAYS = 14.0
SIZE_BANDS = ((0, 50), (50, 200), (200, 500), (500, 2000), (2000, None))
DWELL_BANDS = ((0, 10), (10, 60), (60, 180), (180, None))
VISITS_WINDOW, VISITS_BANDS = 30.0, ((3, 6), (6, None))
FREE_MAIL = ("qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "139.com",
             "189.cn", "aliyun.com", "gmail.com", "hotmail.com", "outlook.com", "live.com", "yahoo.com", "icloud.com")
EVENT_RULES = ("whitepaper_download", "webinar", "form_submit", "email_open", "email_click")
VALUE_ATTRIBUTES = ("industry", "region", "source")
_EVENT_LABELS = {"whitepaper_download": "Whitepaper download", "webinar": "Webinar attended",
                 "form_submit": "Form submitted", "email_open": "Marketing email opened",
                 "email_click": "Marketing email link clicked"}

Step = Callable[[str], None]
STEPS = (N_("Learning points from the outcomes"), N_("Scoring the held-out leads with both models"))


# --- the data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """Leads with a known outcome as they arrived: their facts, the events they came with, the moment each
    is scored at (its creation, epoch seconds) and the outcome (1 converted, 0 not)."""

    leads: LeadTable
    events: EventTable
    at: NDArray[np.int64]
    outcome: NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.outcome)

    def take(self, rows: NDArray[np.intp]) -> History:
        """These rows (in this order) and their events."""
        position = np.full(len(self), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        lead = position[self.events.lead] if len(self.events) else np.empty(0, dtype=np.int64)
        keep = lead >= 0
        events = EventTable(lead=lead[keep], kind=np.asarray(self.events.kind)[keep],
                            occurred_at=self.events.occurred_at[keep], dwell_seconds=self.events.dwell_seconds[keep])
        pick = rows.tolist()
        text = {name: [values[i] for i in pick] for name in ("industry", "region", "title", "source", "email", "phone")
                for values in (strings(getattr(self.leads, name)),)}
        leads = LeadTable(company_size=np.asarray(self.leads.company_size, dtype=np.float64)[rows], **text)
        return History(leads, events, self.at[rows], self.outcome[rows])


def strings(column: StrColumn) -> list[str | None]:
    if isinstance(column, Coded):
        return [column.values[c] if c >= 0 else None for c in np.asarray(column.codes).tolist()]
    return list(column)


def check_enough(outcome: NDArray[Any]) -> None:
    """Refuse, naming the counts, below ``MIN_LEADS`` known outcomes or ``MIN_EACH`` of either outcome."""
    known, positives = len(outcome), int(np.sum(outcome == 1))
    if known < MIN_LEADS or min(positives, known - positives) < MIN_EACH:
        raise Invalid("Too few leads to learn points from: {known} with a known outcome, {positives} converted and "
                      "{negatives} not converted; at least {min_known} with a known outcome and {min_each} of each "
                      "are needed.", field="leads", known=known, positives=positives, negatives=known - positives,
                      min_known=MIN_LEADS, min_each=MIN_EACH)


# --- how spread out the scores are -------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The most leads any ``SPREAD_POINTS``-wide window of scores holds: ``share`` of ``leads``, from ``low`` to
    ``high``. ``narrow`` when that is ``SPREAD_SHARE`` or more: the model hardly tells the leads apart."""

    leads: int
    low: int
    high: int
    share: float

    @property
    def narrow(self) -> bool:
        return self.leads > 0 and self.share >= SPREAD_SHARE

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "narrow": self.narrow, "width": SPREAD_POINTS}


def spread(scores: Sequence[float] | NDArray[Any]) -> Spread:
    values = np.sort(np.asarray(scores, dtype=np.float64))
    if not len(values):
        return Spread(0, 0, 0, 0.0)
    ends = np.searchsorted(values, values + SPREAD_POINTS, side="right")
    counts = ends - np.arange(len(values))
    best = int(np.argmax(counts))
    share = round(float(counts[best] / len(values)), 4)
    return Spread(len(values), int(values[best]), int(values[ends[best] - 1]), share)


# --- the probe: one 1-point rule per feature ---------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One column of the design matrix: the probe rule's column id, what it stands for, and how to write it."""

    column: str
    kind: str  # value | size | title | email | no_phone | event | page_view | visits
    attribute: str = ""  # the attribute or event kind
    value: Any = None  # the shown value (value), the band (size, page_view, visits), (rule, tier) (title)

    @property
    def behaviour(self) -> bool:
        return self.kind in ("event", "page_view", "visits")


@dataclass(frozen=True)
class Shape:
    """What the suggestion takes from the active model: its aliases, bands, title tiers, caps, half-life."""

    aliases: dict[str, dict[str, list[str]]]
    size_bands: tuple[Band, ...]
    dwell_bands: tuple[Band, ...]
    visits_window: float
    visits_bands: tuple[Band, ...]
    titles: tuple[tuple[TitleTier, ...], ...]
    domains: tuple[str, ...]
    caps: dict[str, float]
    half_life_days: float

    @classmethod
    def of(cls, active: ScoringModel) -> Shape:
        rules = [rule for group in active.groups.values() for rule in group.rules]
        size = next((r for r in rules if isinstance(r, SizeRule)), None)
        views = next((r for r in rules if isinstance(r, PageViewRule) and r.bands), None)
        visits = next((r for r in rules if isinstance(r, VisitsRule)), None)
        domains = [d for r in rules if isinstance(r, EmailDomainRule) for d in r.domains]
        caps = {name: cap for name in CAPS if (cap := _cap(active, name)) is not None}
        half_life = next((g.half_life_days for g in active.groups.values() if g.half_life_days), HALF_LIFE_DAYS)
        return cls(aliases={k: dict(v) for k, v in active.aliases.items() if k in VALUE_ATTRIBUTES},
                   size_bands=tuple(size.bands) if size else _bands(SIZE_BANDS),
                   dwell_bands=tuple(views.bands or ()) if views else _bands(DWELL_BANDS),
                   visits_window=visits.window_days if visits else VISITS_WINDOW,
                   visits_bands=tuple(visits.bands) if visits else _bands(VISITS_BANDS),
                   titles=tuple(tuple(r.tier_list()) for r in rules if isinstance(r, TitleRule)),
                   domains=tuple(dict.fromkeys(domains or FREE_MAIL)), caps={**CAPS, **caps},
                   half_life_days=half_life)


def _cap(model: ScoringModel, name: str) -> float | None:
    group = model.groups.get(name)
    return group.cap if group is not None else None


def _bands(pairs: Sequence[tuple[float, float | None]]) -> tuple[Band, ...]:
    return tuple(Band(min=lo, max=hi, points=1) for lo, hi in pairs)


def levels(values: Sequence[str | None], aliases: dict[str, str], n_rows: int) -> list[str]:
    """The values common enough to earn points of their own, most common first, each in its most common
    spelling (which the model's matching, aliases applied, takes back to the same value)."""
    spellings: dict[str, Counter[str]] = {}
    for value in values:
        if isinstance(value, str) and value.strip():
            key = norm(value)
            spellings.setdefault(aliases.get(key, key), Counter())[value.strip()] += 1
    floor = max(MIN_LEVEL_ROWS, math.ceil(MIN_LEVEL_SHARE * n_rows))
    ranked = sorted(spellings.items(), key=lambda kv: (-kv[1].total(), kv[0]))
    return [spelled.most_common(1)[0][0] for _, spelled in ranked[:MAX_LEVELS] if spelled.total() >= floor]


def probe(shape: Shape, train: History) -> tuple[ScoringModel, list[Feature]]:
    fit: list[dict[str, Any]] = []
    features: list[Feature] = []
    for attribute in VALUE_ATTRIBUTES:
        aliases = _alias_map(shape.aliases.get(attribute, {}))
        for i, value in enumerate(levels(strings(getattr(train.leads, attribute)), aliases, len(train))):
            fit.append({"id": f"{attribute}_{i}", "type": attribute, "in": [value], "points": 1, "label": value})
            features.append(Feature(f"fit.{attribute}_{i}", "value", attribute, value))
    fit.append({"id": "size", "type": "company_size", "label": "size", "bands": _ones(shape.size_bands)})
    features += [Feature(f"fit.size.{i}", "size", "company_size", b) for i, b in enumerate(shape.size_bands)]
    for r, tiers in enumerate(shape.titles):
        fit.append({"id": f"title_{r}", "type": "title", "label": "title",
                    "tiers": [{"keywords": list(t.keywords), "points": 1} for t in tiers]})
        features += [Feature(f"fit.title_{r}.{i}", "title", "title", (r, i)) for i in range(len(tiers))]
    fit.append({"id": "free_mail", "type": "email_domain", "label": "mail", "domains": list(shape.domains),
                "points": 1})
    fit.append({"id": "no_phone", "type": "missing", "field": "phone", "label": "phone", "points": 1})
    features += [Feature("fit.free_mail", "email", "email"), Feature("fit.no_phone", "no_phone", "phone")]
    behaviour, more = _behaviour_probe(shape)
    groups = {"fit": {"rules": fit}, "behaviour": {"half_life_days": shape.half_life_days, "rules": behaviour}}
    model = ScoringModel.model_validate({"name": "probe", "aliases": shape.aliases, "groups": groups})
    return model, features + more


def _behaviour_probe(shape: Shape) -> tuple[list[dict[str, Any]], list[Feature]]:
    rules: list[dict[str, Any]] = [{"id": kind, "type": kind, "label": kind, "points": 1} for kind in EVENT_RULES]
    features = [Feature(f"behaviour.{kind}", "event", kind) for kind in EVENT_RULES]
    for i, band in enumerate(shape.dwell_bands):
        rules.append({"id": f"page_view_{i}", "type": "page_view", "label": "view", "bands": _ones([band])})
        features.append(Feature(f"behaviour.page_view_{i}", "page_view", "page_view", band))
    rules.append({"id": "visits", "type": "visits", "label": "visits", "window_days": shape.visits_window,
                  "bands": _ones(shape.visits_bands)})
    features += [Feature(f"behaviour.visits.{i}", "visits", "visits", b) for i, b in enumerate(shape.visits_bands)]
    return rules, features


def _ones(bands: Sequence[Band]) -> list[dict[str, Any]]:
    return [{"min": b.min, "max": b.max, "points": 1} for b in bands]


def _alias_map(table: dict[str, list[str]]) -> dict[str, str]:
    return {norm(alias): norm(canonical) for canonical, aliases in table.items() for alias in aliases}


def design(compiled_probe: CompiledModel, features: Sequence[Feature], history: History) -> NDArray[np.float64]:
    """One row per lead, one column per feature, read from the probe's explanation; event counts clipped."""
    scored = score_table(history.leads, history.events, compiled_probe, history.at)
    assert scored.points is not None
    index = compiled_probe.column_index()
    X = scored.points[:, [index[f.column] for f in features]].astype(np.float64)
    counts = [j for j, f in enumerate(features) if f.kind in ("event", "page_view")]
    X[:, counts] = np.minimum(X[:, counts], EVENT_CLIP)
    return X


def coefficients(X: NDArray[np.float64], y: NDArray[Any], seed: int) -> NDArray[np.float64]:
    """The regression's coefficients, its L2 strength the one of ``STRENGTHS`` with the best cross-validated AUC."""
    minority = int(min(np.sum(y == 1), np.sum(y == 0)))
    folds = StratifiedKFold(n_splits=max(2, min(FOLDS, minority)), shuffle=True, random_state=seed)
    def model(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, class_weight="balanced", solver="newton-cholesky", max_iter=1000)

    # One BLAS thread: these fits are small, and threads on a shared 2-core machine only wait for each other.
    with threadpool_limits(limits=1):
        scores = [float(np.mean(cross_val_score(model(c), X, y, cv=folds, scoring="roc_auc"))) for c in STRENGTHS]
        best = STRENGTHS[int(np.argmax(scores))]
        return np.asarray(model(best).fit(X, y).coef_[0], dtype=np.float64)


def lift_sets(coef: NDArray[np.float64], features: Sequence[Feature], X: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values of one attribute (each industry, each size band, each tier of a title rule) are points against the
    leads matching none of them, which a rule model scores 0. When fewer than ``MIN_LEVEL_ROWS`` training leads
    match none, that zero is barely estimated: the whole set is lifted so its lowest value is 0 instead of a
    deduction (the ranking of the leads that match one is unchanged, and fewer totals pile up at the floor of 0)."""
    out = coef.copy()
    for members in _sets(features):
        unmatched = int(np.sum(X[:, members].sum(axis=1) == 0))
        low = float(out[members].min())
        if unmatched < MIN_LEVEL_ROWS and low < 0:
            out[members] -= low
    return out


def _sets(features: Sequence[Feature]) -> list[list[int]]:
    """Features of which a lead matches at most one: an attribute's values, its size bands, one title rule's tiers."""
    keys = [(f.kind, f.attribute) if f.kind in ("value", "size") else (f.kind, f.value[0]) if f.kind == "title"
            else None for f in features]
    return [[j for j, k in enumerate(keys) if k == key] for key in dict.fromkeys(k for k in keys if k is not None)]


def whole_points(coef: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scaled so the strongest positive coefficient is worth ``TOP_POINTS``, rounded, kept within ±100."""
    top = float(coef.max()) if len(coef) else 0.0
    if top <= 1e-9:
        raise Invalid("Nothing in these leads goes with converting more often, so there are no points to suggest.",
                      field="leads")
    return np.clip(np.rint(coef * (TOP_POINTS / top)), -100, 100).astype(np.int64)


# --- the suggested document --------------------------------------------------------------------------


@dataclass(frozen=True)
class About:
    """What the document's header says about where its points come from."""

    leads: int
    positives: int
    n_train: int
    first: str
    last: str
    seed: int


def document(active: ScoringModel, shape: Shape, features: Sequence[Feature], points: NDArray[np.int64],
             about: About) -> dict[str, Any]:
    """The suggested model as plain data in the schema of ``default.yaml``."""
    worth = {f.column: int(p) for f, p in zip(features, points.tolist(), strict=True)}
    fit, penalties = _value_rules(features, worth)
    for rule in (*_size_rules(shape, worth), *_title_rules(shape, worth), *_contact_rules(shape, worth)):
        (fit if _best(rule) > 0 else penalties).append(rule)
    behaviour = _behaviour_rules(shape, worth)
    groups: dict[str, Any] = {}
    if fit:
        groups["fit"] = {"label": "Who the lead is", "cap": _number(shape.caps["fit"]), "rules": fit}
    if behaviour:
        groups["behaviour"] = {"label": "What the lead did", "cap": _number(shape.caps["behaviour"]),
                               "half_life_days": _number(shape.half_life_days), "rules": behaviour}
    if penalties:
        groups["penalties"] = {"label": "Deductions", "rules": penalties}
    if not groups:
        raise Invalid("No feature is worth {points} points or more, so there are no points to suggest.",
                      field="leads", points=MIN_POINTS)
    return {"name": f"Suggested from {about.leads} leads", "version": about.last,
            "description": f"Points learned from {about.n_train} of {about.leads} leads created {about.first} to "
                           f"{about.last} ({about.positives} converted).",
            "threshold_high_value": active.threshold_high_value, **_aliases_used(shape, groups), "groups": groups,
            "blend": {"predictive_weight": active.blend.predictive_weight}}


def _aliases_used(shape: Shape, groups: dict[str, Any]) -> dict[str, Any]:
    """The active model's other spellings of the values the suggestion gives points to, and no others."""
    listed: dict[str, set[str]] = {}
    for group in groups.values():
        for rule in group["rules"]:
            if rule["type"] in VALUE_ATTRIBUTES:
                aliases = _alias_map(shape.aliases.get(rule["type"], {}))
                listed.setdefault(rule["type"], set()).update(aliases.get(norm(v), norm(v)) for v in rule["in"])
    used = {attribute: {canonical: spellings for canonical, spellings in shape.aliases.get(attribute, {}).items()
                        if norm(canonical) in values} for attribute, values in listed.items()}
    used = {attribute: table for attribute, table in used.items() if table}
    return {"aliases": used} if used else {}


def _kept(points: int) -> bool:
    return abs(points) >= MIN_POINTS


def _best(rule: dict[str, Any]) -> int:
    """A rule's largest points: its own, or its best band or tier."""
    parts = rule.get("bands") or rule.get("tiers") or [rule]
    return max(int(p["points"]) for p in parts)


def _value_rules(features: Sequence[Feature], worth: dict[str, int]) -> tuple[list[dict[str, Any]], list[Any]]:
    """One rule per attribute and number of points, listing the values that earn them."""
    fit: list[dict[str, Any]] = []
    penalties: list[dict[str, Any]] = []
    for attribute in VALUE_ATTRIBUTES:
        by_points: dict[int, list[str]] = {}
        for f in features:
            if f.kind == "value" and f.attribute == attribute and _kept(worth[f.column]):
                by_points.setdefault(worth[f.column], []).append(f.value)
        for points, values in sorted(by_points.items(), key=lambda kv: -kv[0]):
            rule = {"type": attribute, "in": values, "points": points,
                    "label": f"{attribute.capitalize()}: {', '.join(values)}"}
            (fit if points > 0 else penalties).append(rule)
    return fit, penalties


def _size_rules(shape: Shape, worth: dict[str, int]) -> list[dict[str, Any]]:
    """Bands that earn points and bands that cost them, as two rules (a size is in one band either way)."""
    bands = [(b, worth[f"fit.size.{i}"]) for i, b in enumerate(shape.size_bands) if _kept(worth[f"fit.size.{i}"])]
    rules = []
    for sign in (1, -1):
        chosen = [_band(b, p, _size_label(b)) for b, p in bands if p * sign > 0]
        if chosen:
            rules.append({"type": "company_size", "label": "Company size", "bands": chosen})
    return rules


def _title_rules(shape: Shape, worth: dict[str, int]) -> list[dict[str, Any]]:
    """Each of the active model's title rules with learned points per tier. The first tier that matches wins,
    so a tier below ``MIN_POINTS`` stays (at 0) while a later tier is kept: it still stops that later tier."""
    rules = []
    for r, tiers in enumerate(shape.titles):
        points = [worth[f"fit.title_{r}.{i}"] for i in range(len(tiers))]
        last = max((i for i, p in enumerate(points) if _kept(p)), default=-1)
        if last < 0:
            continue
        kept = [{"keywords": list(t.keywords), "points": p if _kept(p) else 0, "label": _title_label(t)}
                for t, p in zip(tiers[:last + 1], points[:last + 1], strict=True)]
        rules.append({"type": "title", "label": "Job title", "tiers": kept})
    return rules


def _contact_rules(shape: Shape, worth: dict[str, int]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if _kept(worth["fit.free_mail"]):
        rules.append({"type": "email_domain", "label": "Personal email address", "domains": list(shape.domains),
                      "points": worth["fit.free_mail"]})
    if _kept(worth["fit.no_phone"]):
        rules.append({"type": "missing", "field": "phone", "points": worth["fit.no_phone"], "label": "No phone number"})
    return rules


def _behaviour_rules(shape: Shape, worth: dict[str, int]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    views = [_band(b, worth[f"behaviour.page_view_{i}"], _dwell_label(b)) for i, b in enumerate(shape.dwell_bands)
             if _kept(worth[f"behaviour.page_view_{i}"])]
    if views:
        rules.append({"type": "page_view", "label": "Page view", "bands": views})
    rules += [{"type": kind, "points": worth[f"behaviour.{kind}"], "label": _EVENT_LABELS[kind]}
              for kind in EVENT_RULES if _kept(worth[f"behaviour.{kind}"])]
    visits = [_band(b, worth[f"behaviour.visits.{i}"], _visits_label(b, shape.visits_window))
              for i, b in enumerate(shape.visits_bands) if _kept(worth[f"behaviour.visits.{i}"])]
    if visits:
        rules.append({"type": "visits", "label": "Visits on several days", "window_days": _number(shape.visits_window),
                      "bands": visits})
    return rules


def _band(band: Band, points: int, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {"min": _number(band.min)}
    if band.max is not None:
        out["max"] = _number(band.max)
    return {**out, "points": points, "label": label}


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _size_label(band: Band) -> str:
    if band.max is None:
        return f"Company size: {_number(band.min)} employees or more"
    if band.min <= 0:
        return f"Company size: under {_number(band.max)} employees"
    return f"Company size: {_number(band.min)} to under {_number(band.max)} employees"


def _dwell_label(band: Band) -> str:
    if band.max is None:
        return f"Page view of {_number(band.min)} s or more"
    return f"Page view of {_number(band.min)} to under {_number(band.max)} s"


def _visits_label(band: Band, window: float) -> str:
    days = f"in {_number(window)} days"
    if band.max is None:
        return f"Visits on {_number(band.min)} or more days {days}"
    return f"Visits on {_number(band.min)} to under {_number(band.max)} days {days}"


def _title_label(tier: TitleTier) -> str:
    shown = ", ".join(tier.keywords[:3])
    return f"Title: {shown}{', …' if len(tier.keywords) > 3 else ''}"


def render(data: dict[str, Any], header: Sequence[str]) -> str:
    """YAML with a comment header; leaf lists and mappings in flow style, as ``default.yaml`` writes rules."""
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)
    lines = [part for line in header for part in textwrap.wrap(line, 110)]
    return "".join(f"# {line}\n" for line in lines) + ("\n" if lines else "") + body


# --- the whole suggestion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    text: str  # the YAML document, comments included
    model: ScoringModel
    leads: int
    positives: int
    n_train: int
    n_test: int
    test_size: float
    seed: int
    suggested_auc: float
    active_auc: float
    active_spread: Spread  # the active model's scores of every lead used
    suggested_spread: Spread
    rules: int  # explanation lines the suggested model can give (a rule, or one band or tier of it)

    def report(self) -> dict[str, Any]:
        return {"leads": self.leads, "positives": self.positives, "n_train": self.n_train, "n_test": self.n_test,
                "test_size": self.test_size, "seed": self.seed, "suggested_auc": self.suggested_auc,
                "active_auc": self.active_auc, "rules": self.rules, "active_spread": self.active_spread.as_dict(),
                "suggested_spread": self.suggested_spread.as_dict()}


def suggest(active: ScoringModel, history: History, *, seed: int = SEED, test_size: float = TEST_SIZE,
            step: Step | None = None) -> Suggestion:
    """Learn points on a stratified training part, and measure them beside the active model on the rest."""
    report = step or (lambda _label: None)
    check_enough(history.outcome)
    train_rows, test_rows = train_test_split(np.arange(len(history)), test_size=test_size,
                                             stratify=history.outcome, random_state=seed)
    train, test = history.take(np.sort(train_rows)), history.take(np.sort(test_rows))
    report(STEPS[0])
    shape = Shape.of(active)
    probe_model, features = probe(shape, train)
    X = design(compile(probe_model), features, train)
    points = whole_points(lift_sets(coefficients(X, train.outcome, seed), features, X))
    about = About(len(history), int(history.outcome.sum()), len(train), _day(int(history.at.min())),
                  _day(int(history.at.max())), seed)
    data = document(active, shape, features, points, about)
    report(STEPS[1])
    model = parse(render(data, []))  # checked as `scoring set` checks it; the header is comments only
    suggested, active_compiled = compile(model), compile(active)
    aucs = [_auc(test, c) for c in (suggested, active_compiled)]
    lines = sum(column.kind == "rule" for column in suggested.columns)
    spreads = [spread(_totals(history, c)) for c in (suggested, active_compiled)]
    return Suggestion(text=render(data, _header(about, len(test), aucs)), model=model, leads=len(history),
                      positives=about.positives, n_train=len(train), n_test=len(test), test_size=test_size, seed=seed,
                      suggested_auc=aucs[0], active_auc=aucs[1], active_spread=spreads[1], suggested_spread=spreads[0],
                      rules=lines)


def _totals(history: History, compiled: CompiledModel) -> NDArray[np.int16]:
    return score_table(history.leads, history.events, compiled, history.at, explain=False).totals


def _auc(test: History, compiled: CompiledModel) -> float:
    return round(float(roc_auc_score(test.outcome, _totals(test, compiled))), 4)


def _day(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def _header(about: About, n_test: int, aucs: Sequence[float]) -> list[str]:
    return [f"Suggested by 'evenhand scoring suggest' from {about.leads} leads created {about.first} to {about.last} "
            f"whose outcome is known ({about.positives} converted).",
            f"Points: a class-balanced, L2-regularised logistic regression on {about.n_train} of them, scaled so the "
            f"strongest positive feature is worth {TOP_POINTS} points; features below {MIN_POINTS} points left out.",
            f"Held-out ROC AUC on the other {n_test} (seed {about.seed}): {aucs[0]:.3f} for this model, "
            f"{aucs[1]:.3f} for the model that was active.",
            "Review it, then make it active with: evenhand scoring set FILE"]
