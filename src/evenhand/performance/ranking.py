"""The team ranking as the pages, the exports, the home tile and the command show it: the period's cards (frozen if
it is closed, else live), the reps flagged as high volume with low quality, and the names the blocks need.

The pattern is judged on every card the reader may see, then narrowed to the team asked for, so choosing a team
never changes who is flagged (a department's peers stay the same)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.i18n import N_, t
from evenhand.models import Department
from evenhand.models.performance import PeriodStatus
from evenhand.performance import blocks, document, patterns, service
from evenhand.performance.period import Period
from evenhand.performance.views import CardView

_DEPARTMENTS = select(Department.code, Department.name)
HISTORY = 6  # periods on a rep's chart


@dataclass(frozen=True)
class Ranking:
    period: str
    cards: list[CardView]  # best total first
    flags: dict[int, patterns.Flag]  # by user id
    departments: dict[str, str]  # name by code
    tiers: dict[str, dict[str, str]]  # the active templates' tier labels by key: {"zh-CN": ..., "en": ...}
    closed: list[str] = field(default_factory=list)  # every closed period's key
    teams: dict[int, str] = field(default_factory=dict)  # the teams of every card the reader may see, by id

    @property
    def frozen(self) -> bool:
        return bool(self.cards) and self.cards[0].frozen

    @property
    def revision(self) -> int:
        return self.cards[0].revision if self.cards else 0


def read(session: Session, principal: Principal, period: Period, *, team_id: int | None = None) -> Ranking:
    cards = service.cards(session, principal, period)
    _, doc = document.active(session)
    flags = {f.user_id: f for f in patterns.find(cards, floors=patterns.renewal_floors(doc))}
    shown = cards if team_id is None else [c for c in cards if c.team_id == team_id]
    return Ranking(period.key, shown, {u: f for u, f in flags.items() if any(c.user_id == u for c in shown)},
                   departments(session), {t.key: {"zh-CN": t.label.zh, "en": t.label.en} for t in doc.tiers},
                   closed_periods(session), _teams(cards))


def rep(session: Session, principal: Principal, period: Period, user_id: int) -> CardView | None:
    """One rep's card for the period, if the reader may see it."""
    return next(iter(service.cards(session, principal, period, user_id=user_id)), None)


def history(session: Session, principal: Principal, period: Period, user_id: int, *, count: int = HISTORY
            ) -> list[tuple[str, float | None]]:
    """The rep's totals over the ``count`` periods of the same kind up to ``period``, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    found = [(p.key, rep(session, principal, p, user_id)) for p in reversed(periods)]
    return [(key, card.total if card else None) for key, card in found]


def _teams(cards: list[CardView]) -> dict[int, str]:
    return dict(sorted({c.team_id: c.team or str(c.team_id) for c in cards if c.team_id is not None}.items(),
                       key=lambda item: item[1]))


def only(found: Ranking, rep: str | None) -> Ranking:
    """The ranking narrowed to one rep, named as shown (their display name); refused when nobody has that name."""
    if rep is None:
        return found
    cards = [c for c in found.cards if c.name == rep.strip()]
    if not cards:
        raise NotFound(N_("No scorecard of {rep} in {period}."), field="rep", rep=rep, period=found.period)
    return replace(found, cards=cards, flags={u: f for u, f in found.flags.items() if u == cards[0].user_id})


def record(found: Ranking) -> dict[str, Any]:
    """The ranking as plain data: each card with its block's lines (in the current language) and the rules that
    flagged it, with their figures."""
    return {"period": found.period, "frozen": found.frozen, "revision": found.revision,
            "cards": [{**blocks.card_record(c, found.departments), "block": list(blocks.block(c, found.departments, t)),
                       "flag": [{"rule": r.rule, **r.params} for r in found.flags[c.user_id].reasons]
                       if c.user_id in found.flags else None} for c in found.cards]}


def departments(session: Session) -> dict[str, str]:
    return dict(session.execute(_DEPARTMENTS).tuples().all())


def closed_periods(session: Session) -> list[str]:
    return [p.period for p in service.periods(session) if p.status is PeriodStatus.CLOSED]


def tier_label(ranking: Ranking, tier: str | None, locale: str) -> str:
    if tier is None:
        return ""
    labels = ranking.tiers.get(tier)
    return tier if labels is None else labels["zh-CN" if locale.startswith("zh") else "en"]
