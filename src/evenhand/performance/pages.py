"""Where scorecards show (R3.6): ``/performance``, the team ranking of a month or quarter (closed periods marked),
the reps flagged as high volume with low quality and why, and every rep's block; ``/performance/reps/{id}``, one
rep's block, each metric explained, the gate that capped the total and the totals of the periods before.

A period not yet closed shows live cards, computed when the page is read and marked provisional. The figures are
read after the page is drawn, in a worker thread."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, current_locale
from evenhand.kit.clock import local, utcnow
from evenhand.performance import blocks, export, patterns, ranking
from evenhand.performance.period import Period, containing, parse
from evenhand.performance.ranking import Ranking
from evenhand.performance.views import CardView
from evenhand.web import context
from evenhand.web.layout import Tr, shell

PATH = "/performance"
QUARTERS_OFFERED, MONTHS_OFFERED = 4, 12
LIVE = N_("Live: computed now, provisional until the period is closed.")
FROZEN = N_("Closed: frozen cards, revision {revision}.")
DOWNLOADS = {"xlsx": "Excel", "pdf": "PDF"}
COLUMNS = (("rank", N_("Rank")), ("rep", N_("Rep")), ("team", N_("Team")), ("total", N_("Total")),
           ("tier", N_("Tier")), ("gate", N_("Capped by")), ("coverage", N_("Coverage, %")),
           ("results", N_("Results")), ("process", N_("Process")), ("quality", N_("Quality")),
           ("flag", N_("High volume, low quality")))
METRIC_COLUMNS = (("label", N_("Metric")), ("group", N_("Group")), ("value", N_("Value")), ("target", N_("Target")),
                  ("zero", N_("Scores zero at")), ("points", N_("Points")), ("weight", N_("Weight")),
                  ("sample", N_("Sample")))


def today() -> Any:
    return local(utcnow(), get_settings().zone).date()


def chosen_period(text: str | None) -> Period:
    """The period asked for, else the current quarter so far."""
    return parse(text) if text else containing(today(), quarter=True)


def offered(current: Period, closed: list[str], tr: Tr) -> dict[str, str]:
    """The last quarters and months, the one shown and every closed one; a closed period is marked."""
    quarters, months = [containing(today(), quarter=True)], [containing(today())]
    while len(quarters) < QUARTERS_OFFERED:
        quarters.append(quarters[-1].previous())
    while len(months) < MONTHS_OFFERED:
        months.append(months[-1].previous())
    keys = dict.fromkeys([current.key, *(p.key for p in quarters + months), *closed])
    return {key: tr("{period} (closed)", period=key) if key in closed else key for key in keys}


def _ranking(principal: Principal, period: Period, team_id: int | None) -> Ranking:
    with session_scope(context.engine(), readonly=True) as session:
        return ranking.read(session, principal, period, team_id=team_id)


async def ranking_page(principal: Principal, tr: Tr, request: Request) -> None:
    locale = current_locale()
    params = dict(request.query_params)
    team = int(params["team"]) if params.get("team", "").isdigit() else None
    with shell(principal, tr, title=tr("Performance"), path=PATH):
        try:
            period = chosen_period(params.get("period"))
        except DomainError as exc:
            ui.label(tr(exc.message, **exc.params)).classes("text-negative").props('role="alert"')
            return None
        progress = ui.linear_progress(show_value=False).props('indeterminate data-testid="perf-progress"')
        body = ui.column().classes("w-full gap-4")
    await ui.context.client.connected()
    found = await run.io_bound(_ranking, principal, period, team)
    progress.delete()
    if found is not None:  # None only when the server is shutting down
        with body:
            _toolbar(found, period, team, principal, tr)
            _team_view(found, principal, tr, locale)
    return None


def _go(period: str, team: Any) -> None:
    ui.navigate.to(f"{PATH}?period={period}" + (f"&team={team}" if team else ""))


def _toolbar(found: Ranking, period: Period, team: int | None, principal: Principal, tr: Tr) -> None:
    with ui.row().classes("items-center gap-2"):
        ui.select(offered(period, found.closed, tr), value=period.key, label=tr("Period"),
                  on_change=lambda e: _go(e.value, team)).classes("w-48").props(
            'outlined dense data-testid="perf-period"')
        if principal.sees_team_figures and len(found.teams) > 1:
            options = {0: tr("All"), **found.teams}
            ui.select(options, value=team if team in found.teams else 0, label=tr("Team"),
                      on_change=lambda e: _go(period.key, e.value)).classes("w-48").props(
                'outlined dense data-testid="perf-team"')
        ui.label(tr("Download")).classes("q-ml-md text-grey-7")
        suffix = f"&team_id={team}" if team else ""
        for fmt in export.FORMATS:
            url = f"/api/v1/scorecards/export?period={period.key}&format={fmt}{suffix}"
            ui.button(DOWNLOADS[fmt], icon="download").props(
                f'outline dense no-caps href="{url}" data-testid="perf-download-{fmt}"')
    state = tr(FROZEN, revision=found.revision) if found.frozen else tr(LIVE)
    ui.label(state).classes("text-grey-8").props('data-testid="perf-state"')


def _team_view(found: Ranking, principal: Principal, tr: Tr, locale: str) -> None:
    if not found.cards:
        ui.label(tr("No scorecards to show for this period.")).classes("text-grey-7").props(
            'data-testid="perf-empty"')
        return
    if principal.sees_team_figures:
        _flags(found, tr)
    ui.label(tr("Team ranking")).classes("text-h6")
    _table(found, tr, locale)
    full = [c for c in found.cards if c.metrics]
    if full:
        ui.label(tr("Scorecards")).classes("text-h6")
        with ui.row().classes("w-full gap-3"):
            for card in full:
                _block(card, found, tr, link=True)


def _flags(found: Ranking, tr: Tr) -> None:
    """The pattern from the source: top results won on deep discounts, with service that shows it."""
    with ui.card().props('flat bordered data-testid="perf-flags"').classes("w-full gap-1"):
        ui.label(tr("High volume, low quality")).classes("text-h6")
        ui.label(tr("Top results in the department, won on discounts far beyond its usual, with renewals or "
                    "satisfaction that show it.")).classes("text-caption text-grey-7")
        if not found.flags:
            ui.label(tr("Nobody shows the pattern in this period.")).classes("text-grey-7").props(
                'data-testid="perf-no-flags"')
        for flag in found.flags.values():
            with ui.column().classes("gap-0").props(f'data-testid="perf-flag" data-user="{flag.user_id}"'):
                ui.link(flag.name, f"{PATH}/reps/{flag.user_id}?period={found.period}").classes(
                    "text-weight-bold text-negative")
                for line in patterns.explain(flag, tr):
                    ui.label(line).classes("text-caption")


def _table(found: Ranking, tr: Tr, locale: str) -> None:
    rows = []
    for n, card in enumerate(found.cards, start=1):
        record = export.rank_record(found, n, card, tr, locale)
        rows.append({**{k: "" if v is None else v for k, v in record.items()}, "user_id": card.user_id,
                     "href": f"{PATH}/reps/{card.user_id}?period={found.period}", "bar": (card.total or 0) / 100,
                     "total": blocks.total_text(card.total)})
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k in ("rep", "team", "tier", "gate", "flag")
                else "right"} for k, v in COLUMNS]
    table = ui.table(columns=columns, rows=rows, row_key="user_id").classes("w-full").props(
        'dense flat bordered data-testid="perf-ranking"')
    table.add_slot("body", """
        <q-tr :props="props" :class="props.row.flag ? 'bg-red-1' : ''" :data-flagged="props.row.flag ? 'yes' : 'no'">
          <q-td v-for="col in props.cols" :key="col.name" :props="props"
                :style="col.name === 'flag' ? 'white-space: normal; max-width: 28rem' : ''">
            <a v-if="col.name === 'rep'" :href="props.row.href" class="text-primary">{{ col.value }}</a>
            <div v-else-if="col.name === 'total'" class="row items-center no-wrap justify-end q-gutter-x-sm">
              <q-linear-progress :value="props.row.bar" size="10px" style="width: 90px"
                                 :color="props.row.flag ? 'negative' : 'primary'" />
              <span>{{ col.value }}</span></div>
            <span v-else-if="col.name === 'flag'" class="text-negative">{{ col.value }}</span>
            <span v-else>{{ col.value }}</span>
          </q-td>
        </q-tr>""")


def _block(card: CardView, found: Ranking, tr: Tr, *, link: bool = False) -> None:
    """The R3.6 block: the rep, the department, the period's total; then the headline metrics."""
    first, second = blocks.block(card, found.departments, tr)
    flagged = card.user_id in found.flags
    with ui.card().props(f'flat bordered data-testid="perf-block" data-user="{card.user_id}"').classes(
            "gap-1 " + ("border-l-4 border-red-7" if flagged else "")):
        if link:
            ui.link(first, f"{PATH}/reps/{card.user_id}?period={found.period}").classes(
                "text-subtitle1 text-weight-medium").props('data-testid="perf-block-first"')
        else:
            ui.label(first).classes("text-h6").props('data-testid="perf-block-first"')
        ui.label(second).classes("text-grey-9").props('data-testid="perf-block-second"')


# --- one rep ---------------------------------------------------------------------------------------------------------


def _rep(principal: Principal, period: Period, user_id: int) -> tuple[Ranking, list[tuple[str, float | None]]]:
    with session_scope(context.engine(), readonly=True) as session:
        found = ranking.read(session, principal, period)
        mine = [c for c in found.cards if c.user_id == user_id]
        shown = Ranking(found.period, mine, {k: v for k, v in found.flags.items() if k == user_id},
                        found.departments, found.tiers, found.closed, found.teams)
        return shown, ranking.history(session, principal, period, user_id) if mine else []


async def rep_page(principal: Principal, tr: Tr, request: Request, user_id: int) -> None:
    locale = current_locale()
    params = dict(request.query_params)
    with shell(principal, tr, title=tr("Scorecard"), path=PATH):
        try:
            period = chosen_period(params.get("period"))
        except DomainError as exc:
            ui.label(tr(exc.message, **exc.params)).classes("text-negative").props('role="alert"')
            return None
        ui.link(tr("Team ranking"), f"{PATH}?period={period.key}").props('data-testid="perf-back"')
        progress = ui.linear_progress(show_value=False).props('indeterminate data-testid="perf-progress"')
        body = ui.column().classes("w-full gap-4")
    await ui.context.client.connected()
    loaded = await run.io_bound(_rep, principal, period, user_id)
    progress.delete()
    if loaded is not None:
        with body:
            _rep_view(*loaded, period, tr, locale)
    return None


def _rep_view(found: Ranking, history: list[tuple[str, float | None]], period: Period, tr: Tr, locale: str) -> None:
    if not found.cards or not found.cards[0].metrics:
        ui.label(tr("No scorecard of this rep that you may read for {period}.", period=period.key)).classes(
            "text-grey-7").props('data-testid="perf-empty"')
        return
    card = found.cards[0]
    ui.select(offered(period, found.closed, tr), value=period.key, label=tr("Period"),
              on_change=lambda e: ui.navigate.to(f"{PATH}/reps/{card.user_id}?period={e.value}")).classes(
        "w-48").props('outlined dense data-testid="perf-period"')
    ui.label(tr(FROZEN, revision=card.revision) if card.frozen else tr(LIVE)).classes("text-grey-8").props(
        'data-testid="perf-state"')
    _block(card, found, tr)
    _facts(card, found, tr, locale)
    _metrics(card, tr)
    _history(history, tr)


def _facts(card: CardView, found: Ranking, tr: Tr, locale: str) -> None:
    template = card.template_label.get("zh-CN" if locale.startswith("zh") else "en", card.template)
    tier = ranking.tier_label(found, card.tier, locale) or "—"
    ui.label(tr("Template {template}; tier {tier}; the scored metrics carry {coverage}% of the weight.",
                template=template, tier=tier, coverage=f"{card.coverage:.0f}")).props('data-testid="perf-facts"')
    if card.gate:
        ui.label(blocks.gate_text(card, tr)).classes("text-negative").props('data-testid="perf-gate"')
    if card.total is None:
        ui.label(tr("No total: the metrics with enough data carry too little of the weight.")).classes(
            "text-grey-7")
    flag = found.flags.get(card.user_id)
    if flag is not None:
        with ui.column().classes("gap-0").props('data-testid="perf-flag"'):
            ui.label(tr("High volume, low quality")).classes("text-weight-bold text-negative")
            for line in patterns.explain(flag, tr):
                ui.label(line).classes("text-caption")


def _metrics(card: CardView, tr: Tr) -> None:
    """Each metric explained: its value against the target and the value that scores zero, the points it earned
    and the weight they carry, or "not enough data" when the sample is too small."""
    rows = [blocks.metric_row(m, tr) for m in card.metrics]
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k in ("label", "group") else "right"}
               for k, v in METRIC_COLUMNS]
    ui.table(columns=columns, rows=rows, row_key="metric").classes("w-full").props(
        'dense flat bordered data-testid="perf-metrics"')
    ui.label(tr("A metric scores 100 at its target and 0 at its zero, in a straight line between, up to its cap; "
                "with too small a sample it shows \"not enough data\" and its weight is left out of the total.")
             ).classes("text-caption text-grey-7")


def _history(history: list[tuple[str, float | None]], tr: Tr) -> None:
    ui.label(tr("Totals of the periods before")).classes("text-h6")
    ui.echart({"animation": False, "tooltip": {"trigger": "axis"},
               "grid": {"left": 40, "right": 16, "top": 16, "bottom": 30},
               "xAxis": {"type": "category", "data": [key for key, _ in history]},
               "yAxis": {"type": "value", "min": 0, "max": 100},
               "series": [{"name": tr("Total"), "type": "line", "connectNulls": False,
                           "data": [None if v is None else round(v, 1) for _, v in history]}]}).classes(
        "w-full max-w-3xl").style("height: 220px").props('data-testid="perf-history"')


def register() -> None:
    ui.page(PATH)(context.page(ranking_page))
    ui.page(PATH + "/reps/{user_id}")(context.page(rep_page))
