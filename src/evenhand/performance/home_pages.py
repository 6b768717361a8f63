"""The home page's scorecard tile (R3.6), for the current quarter so far (live, provisional): a rep sees their own
block, a supervisor their team's top and bottom, sales ops and admins how the company's totals spread. Read after
the page is drawn, in a worker thread, so the page never waits for the figures."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.i18n import N_, plural
from evenhand.models import Role
from evenhand.performance import blocks, ranking
from evenhand.performance.pages import PATH, today
from evenhand.performance.period import containing
from evenhand.performance.ranking import Ranking
from evenhand.performance.views import CardView
from evenhand.web import context
from evenhand.web.layout import HOME, Tr, home_empty, home_tile, later

SHOWN = 3  # a team's top and bottom
BUCKETS = ((0, 60, N_("under 60")), (60, 70, "60–70"), (70, 85, "70–85"), (85, 101, N_("85 and over")))
NO_TOTAL = N_("no total")
FLAGGED_ONE = N_("{count} rep shows high volume with low quality.")
FLAGGED_MANY = N_("{count} reps show high volume with low quality.")




def _read(principal: Principal) -> Ranking:
    with session_scope(context.engine(), readonly=True) as session:
        return ranking.read(session, principal, containing(today(), quarter=True))


def _tile(principal: Principal, tr: Tr, name: str, title: str, draw: Callable[[Ranking], None]) -> None:
    quarter = containing(today(), quarter=True).key
    with home_tile(tr, name, title, None, see_all=f"{PATH}?period={quarter}"):
        box = ui.column().classes("w-full gap-1")
        with box:
            ui.spinner(size="md").props('data-testid="home-loading"')
    later(box, lambda: _read(principal), draw)


def my_scorecard(principal: Principal, tr: Tr) -> None:
    """A rep's own block, the quarter so far."""
    if principal.role is not Role.REP:
        return

    def draw(found: Ranking) -> None:
        mine = next((c for c in found.cards if c.user_id == principal.user_id and c.metrics), None)
        if mine is None:
            home_empty(tr("No scorecard yet this quarter."))
            return
        _block(mine, found, tr)
        ui.label(tr("The quarter so far: provisional until the period is closed.")).classes(
            "text-caption text-grey-7")
    _tile(principal, tr, "scorecard", tr("My scorecard"), draw)


def team_scorecards(principal: Principal, tr: Tr) -> None:
    """A supervisor's teams: the best and the lowest totals so far this quarter."""
    if principal.role is not Role.SUPERVISOR:
        return

    def draw(found: Ranking) -> None:
        mine = [c for c in found.cards if c.team_id in principal.supervised_team_ids and c.total is not None]
        if not mine:
            home_empty(tr("No scorecard yet this quarter."))
            return
        ui.label(tr("Top")).classes("text-subtitle2")
        for card in mine[:SHOWN]:
            _block(card, found, tr)
        if len(mine) > SHOWN:
            ui.label(tr("Bottom")).classes("text-subtitle2")
            for card in mine[max(SHOWN, len(mine) - SHOWN):]:
                _block(card, found, tr)
    _tile(principal, tr, "team-scorecards", tr("My team's scorecards"), draw)


def company_scorecards(principal: Principal, tr: Tr) -> None:
    """Sales ops and admins: how the company's totals spread this quarter, and who shows the pattern."""
    if not principal.manages_org:
        return

    def draw(found: Ranking) -> None:
        counts = distribution(found.cards)
        ui.echart({"animation": False, "tooltip": {"trigger": "axis"},
                   "grid": {"left": 8, "right": 16, "top": 16, "bottom": 4, "containLabel": True},
                   "xAxis": {"type": "category", "data": [tr(label) for label in counts]},
                   "yAxis": {"type": "value", "minInterval": 1},
                   "series": [{"name": tr("Reps"), "type": "bar", "data": list(counts.values())}]}).classes(
            "w-full").style("height: 180px").props('data-testid="home-chart-scorecards"')
        ui.label(tr(plural(len(found.flags), FLAGGED_ONE, FLAGGED_MANY), count=len(found.flags))).classes(
            "text-negative" if found.flags else "text-grey-7").props('data-testid="home-flagged"')
    _tile(principal, tr, "company-scorecards", tr("Scorecards this quarter"), draw)


def distribution(cards: list[CardView]) -> dict[str, int]:
    """Reps per band of total; those without a total counted apart."""
    counts = {label: sum(1 for c in cards if c.total is not None and low <= c.total < high)
              for low, high, label in BUCKETS}
    return {**counts, NO_TOTAL: sum(1 for c in cards if c.total is None)}


def _block(card: CardView, found: Ranking, tr: Tr) -> None:
    first, second = blocks.block(card, found.departments, tr)
    with ui.column().classes("gap-0").props(f'data-testid="home-scorecard" data-user="{card.user_id}"'):
        ui.link(first, f"{PATH}/reps/{card.user_id}?period={found.period}").classes("text-weight-medium")
        if card.metrics:
            ui.label(second).classes("text-caption text-grey-8")


def register() -> None:
    HOME.add(my_scorecard, order=62)
    HOME.add(team_scorecards, order=64)
    HOME.add(company_scorecards, order=66)
