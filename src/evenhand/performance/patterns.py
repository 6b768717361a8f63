"""High volume with low quality (R3.6): the source's top sellers who won on "low price and cut service"
(低价强攻+服务缩水).

A rep is flagged when all three hold, each judged against their peers (the reps of their department on the cards
given; every card when the department has fewer than ``MIN_PEERS`` reps, since a quartile of three says nothing):
- **top results**: their revenue signed or cash collected ranks in the top third of their peers;
- **low price**: their average discount is an outlier above their peers': a modified z-score (0.6745 × the distance
  from the median over the median absolute deviation) above 3.5 (Iglewicz and Hoaglin). Median and MAD stay put
  even when several reps of a department discount alike, where quartiles would move with them; one rep pricing a
  little lower than the rest is not a pattern;
- **cut service**: their renewal rate is below the gate's floor or in the peers' lowest quarter, or their customer
  satisfaction or NPS is in the peers' lowest quarter.
Only figures with enough data count (a metric's minimum sample). Volume alone, or poor quality alone, is not the
pattern: the gates already cap a total for poor quality. Pure: reads only the cards' metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evenhand.i18n import N_
from evenhand.performance.template import Templates
from evenhand.performance.views import CardView

MIN_PEERS = 4
TOP_SHARE = 1 / 3
OUTLIER = 3.5  # the modified z-score beyond which a discount is an outlier
RENEWAL_FLOOR = 60.0  # the shipped templates' gate; the caller passes the active templates' floors
VOLUME = ("revenue", "cash_collected")
SERVICE = ("renewal_rate", "csat", "nps")
FIGURES = (*VOLUME, "discount", *SERVICE)
RULES = {
    "top_revenue": N_("Revenue signed {value} ranks {rank} of {peers} in the department"),
    "top_cash_collected": N_("Cash collected {value} ranks {rank} of {peers} in the department"),
    "deep_discount": N_("Average discount {value}% is far above the department's (median {median}%)"),
    "renewal_below_floor": N_("Renewal rate {value}% is below the floor of {floor}%"),
    "low_renewal_rate": N_("Renewal rate {value}% is in the department's lowest quarter (below {quartile}%)"),
    "low_csat": N_("Customer satisfaction {value} is in the department's lowest quarter (below {quartile})"),
    "low_nps": N_("NPS {value} is in the department's lowest quarter (below {quartile})"),
}


@dataclass(frozen=True)
class Reason:
    rule: str  # a key of RULES
    params: dict[str, str | int]


@dataclass(frozen=True)
class Flag:
    user_id: int
    name: str
    team: str | None
    figures: dict[str, float | None]  # FIGURES, None where there is not enough data
    reasons: tuple[Reason, ...]  # results, then price, then service


def figure(card: CardView, metric: str) -> float | None:
    """The card's value of ``metric`` when its template weighs it and there is enough data for it."""
    found = next((m for m in card.metrics if m.metric == metric), None)
    return found.value if found is not None and found.enough else None


def renewal_floors(doc: Templates) -> dict[str, float]:
    """Each template's renewal gate (``below``), where it has one."""
    return {t.key: g.below for t in doc.templates for g in t.gates if g.metric == "renewal_rate" and g.below}


def find(cards: Sequence[CardView], *, floors: Mapping[str, float] | None = None) -> list[Flag]:
    """The flagged reps, in the order of the cards. ``floors``: the renewal floor of each template (by key); without
    them, the shipped templates' floor."""
    table = {c.user_id: {k: figure(c, k) for k in FIGURES} for c in cards}
    flags = []
    for card in cards:
        peers = _peers(card, cards)
        floor = RENEWAL_FLOOR if floors is None else floors.get(card.template)
        reasons = _reasons(table[card.user_id], [table[p.user_id] for p in peers], floor)
        if reasons is not None:
            flags.append(Flag(card.user_id, card.name, card.team, table[card.user_id], reasons))
    return flags


def _peers(card: CardView, cards: Sequence[CardView]) -> list[CardView]:
    same = [c for c in cards if c.department == card.department] if card.department else []
    return same if len(same) >= MIN_PEERS else list(cards)


def _reasons(mine: dict[str, float | None], peers: list[dict[str, float | None]],
             floor: float | None) -> tuple[Reason, ...] | None:
    """All three signals' reasons, or None when one of them is missing."""
    top, price, service = _top(mine, peers), _price(mine, peers), _service(mine, peers, floor)
    if not (top and price and service):
        return None
    return (*top, *price, *service)


def _top(mine: dict[str, float | None], peers: list[dict[str, float | None]]) -> list[Reason]:
    out = []
    for metric in VOLUME:
        value = mine[metric]
        if value is None or value <= 0:
            continue
        rank = 1 + sum(1 for p in peers if (p[metric] or 0) > value)
        if rank <= math.ceil(len(peers) * TOP_SHARE):
            out.append(Reason(f"top_{metric}", {"value": f"{value:,.0f}", "rank": rank, "peers": len(peers)}))
    return out


def _quartiles(peers: list[dict[str, float | None]], metric: str) -> tuple[float, float] | None:
    values = [p[metric] for p in peers if p[metric] is not None]
    if len(values) < MIN_PEERS:
        return None
    low, high = np.percentile(np.array(values, dtype=np.float64), [25, 75])
    return float(low), float(high)


def _price(mine: dict[str, float | None], peers: list[dict[str, float | None]]) -> list[Reason]:
    value = mine["discount"]
    values = np.array([p["discount"] for p in peers if p["discount"] is not None], dtype=np.float64)
    if value is None or len(values) < MIN_PEERS:
        return []
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    if mad == 0 or 0.6745 * (value - median) / mad <= OUTLIER:  # no spread: nothing stands out by degree
        return []
    return [Reason("deep_discount", {"value": f"{value:.1f}", "median": f"{median:.1f}"})]


def _service(mine: dict[str, float | None], peers: list[dict[str, float | None]], floor: float | None
             ) -> list[Reason]:
    out = []
    renewal = mine["renewal_rate"]
    if renewal is not None and floor is not None and renewal < floor:
        out.append(Reason("renewal_below_floor", {"value": f"{renewal:.0f}", "floor": f"{floor:g}"}))
    for metric in SERVICE:
        value, spread = mine[metric], _quartiles(peers, metric)
        if value is None or spread is None or value >= spread[0]:
            continue
        if metric == "renewal_rate" and out:
            continue  # one reason per figure: below the floor says more than the lowest quarter
        shown = f"{value:.0f}" if metric != "csat" else f"{value:.2f}"
        quartile = f"{spread[0]:.0f}" if metric != "csat" else f"{spread[0]:.2f}"
        out.append(Reason(f"low_{metric}", {"value": shown, "quartile": quartile}))
    return out


def explain(flag: Flag, tr: Callable[..., str]) -> list[str]:
    """Each reason as a sentence in the reader's language (``tr`` is the page's or command's translator)."""
    return [tr(RULES[r.rule], **r.params) for r in flag.reasons]
