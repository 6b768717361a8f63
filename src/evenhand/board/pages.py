"""The process board page (/process): where open deals are stuck, time in stage, conversion and first response as
charts, each beside the period before; click a bar (or a rep) for the deals or leads behind it.

The page reads the tables on every load and every ``REFRESH_SECONDS``; the board redraws only when its figures
changed (a redraw under the pointer would swallow a click). Compliance with the stage standards comes from the
standards' own figures and is drawn when it arrives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from nicegui import run, ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.board import service, view
from evenhand.board.repository import Filters
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.web import context
from evenhand.web.layout import Tr, shell

PATH = "/process"
REFRESH_SECONDS = 30
MONTHS_OFFERED = 12
PREVIOUS = N_("Period before")
Drill = Callable[..., None]  # (what, narrowed to a team or rep)


def _query(params: dict[str, str], choices: dict[str, Any]) -> service.Query:
    now = utcnow()
    period = service.period(get_settings().zone, month=params.get("period") or None, now=now)
    team = int(params["team"]) if params.get("team", "").isdigit() else None
    with session_scope(context.engine(), readonly=True) as session:
        found = service.filters(session, team_id=team if team in choices["teams"] else None,
                                region=params.get("region") or None, product_line=params.get("product_line") or None)
    return service.Query(period, found, now)


def _load(principal: Principal, query: service.Query) -> dict[str, Any]:
    with session_scope(context.engine(), readonly=True) as session:
        return service.board(session, principal, query)


def _compliance(principal: Principal, query: service.Query) -> dict[str, Any]:
    with session_scope(context.engine(), readonly=True) as session:
        return service.compliance(session, principal, query)


def _drilled(principal: Principal, query: service.Query, what: service.Drill) -> dict[str, Any]:
    with session_scope(context.engine(), readonly=True) as session:
        return service.drill(session, principal, query, what)


def _choices(principal: Principal) -> dict[str, Any]:
    with session_scope(context.engine(), readonly=True) as session:
        return service.choices(session, principal)


def _signature(data: dict[str, Any]) -> dict[str, Any]:
    """What the board shows, without the moment it was read."""
    return {k: v for k, v in data.items() if k not in ("as_of", "previous")}


async def board_page(principal: Principal, tr: Tr, request: Request) -> None:
    params = dict(request.query_params)
    choices = _choices(principal)
    problem, query = None, None
    try:
        query = _query(params, choices)
    except DomainError as exc:
        problem = tr(exc.message, **exc.params)
    with shell(principal, tr, title=tr("Process board"), path=PATH):
        _toolbar(params, choices, tr)
        if problem or query is None:
            ui.label(problem or "").classes("text-negative").props('role="alert" data-testid="board-error"')
            return None
        progress = ui.linear_progress(show_value=False).props('indeterminate data-testid="board-progress"')
        body = ui.column().classes("w-full gap-4")
    await ui.context.client.connected()
    await _draw(principal, tr, query, body, progress)
    return None


async def _draw(principal: Principal, tr: Tr, query: service.Query, body: ui.column, progress: ui.element) -> None:
    data = await run.io_bound(_load, principal, query)
    progress.delete()
    if data is None:  # the server is shutting down
        return
    drawn = {"data": data}
    with body:
        ui.label(_caption(data, tr)).classes("text-grey-8").props('data-testid="board-period"')
        compliance_box = ui.row().classes("gap-4")
        figures_box = ui.column().classes("w-full gap-4")
        drill_box = ui.column().classes("w-full")

    def drill(what: service.Drill, narrow: Filters | None = None) -> None:
        asked = query if narrow is None else service.Query(query.period, replace(
            query.filters, team_id=narrow.team_id or query.filters.team_id, rep_id=narrow.rep_id), query.now)
        found = _drilled(principal, asked, what)
        drill_box.clear()
        with drill_box:
            _drill_table(found, what, tr)

    @ui.refreshable
    def figures() -> None:
        _figures(drawn["data"], principal, tr, drill)

    with figures_box:
        figures()

    async def refresh() -> None:
        fresh = await run.io_bound(_load, principal, service.Query(query.period, query.filters, utcnow()))
        if fresh is not None and _signature(fresh) != _signature(drawn["data"]):
            drawn["data"] = fresh
            figures.refresh()

    with body:
        ui.timer(REFRESH_SECONDS, refresh)
    found = await run.io_bound(_compliance, principal, query)
    if found is not None:
        with compliance_box:
            _compliance_card(found, tr)


def _caption(data: dict[str, Any], tr: Tr) -> str:
    def day(moment: Any) -> str:
        return moment.astimezone(get_settings().zone).strftime("%Y-%m-%d")
    last = data["until"] - timedelta(days=1)  # the period ends at midnight after its last day
    return tr("From {since} to {until}; beside each figure, the period from {before} to {since}.",
              since=day(data["since"]), until=day(last), before=day(data["previous"]["since"]))


def _toolbar(params: dict[str, str], choices: dict[str, Any], tr: Tr) -> None:
    def go(key: str, value: Any) -> None:
        wanted = {**params, key: "" if value is None else str(value)}
        ui.navigate.to(PATH + "?" + "&".join(f"{k}={v}" for k, v in wanted.items() if v))

    periods = {"": tr("Last 30 days"), **{m: m for m in _months()}}
    with ui.row().classes("items-center gap-2"):
        ui.select(periods, value=params.get("period", "") if params.get("period", "") in periods else "",
                  label=tr("Period"), on_change=lambda e: go("period", e.value)).classes("w-40").props(
            'outlined dense data-testid="board-period-select"')
        for key, label in (("team", N_("Team")), ("region", N_("Region")), ("product_line", N_("Product line"))):
            options = {"": tr("All"), **{str(k): v for k, v in choices[f"{key}s" if key != "product_line"
                                                                          else "product_lines"].items()}}
            if key == "team" and len(options) == 1:
                continue
            ui.select(options, value=params.get(key, "") if params.get(key, "") in options else "", label=tr(label),
                      on_change=lambda e, k=key: go(k, e.value)).classes("w-40").props(
                f'outlined dense data-testid="board-{key}"')


def _months() -> list[str]:
    today = utcnow().astimezone(get_settings().zone).date()
    year, month, out = today.year, today.month, []
    for _ in range(MONTHS_OFFERED):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def _figures(data: dict[str, Any], principal: Principal, tr: Tr, drill: Drill) -> None:
    pair, stages = data["overall"], data["stages"]
    names = [view.stage(s, tr) for s in stages]
    with ui.row().classes("w-full gap-4 items-stretch"):
        _cycle_card(pair, tr, drill)
        _response_card(pair, tr)
    with ui.grid(columns=2).classes("w-full gap-4"):
        _stuck_chart(pair, stages, names, tr, drill)
        _time_chart(pair, stages, names, tr, drill)
        _funnel_chart(pair, stages, names, tr, drill)
        _response_chart(pair, tr, drill)
    _stages(pair, stages, tr)
    _people(data, principal, tr, drill)


def _stages(pair: dict[str, Any], stages: list[str], tr: Tr) -> None:
    """The charts' figures per stage as a table, the period before in brackets."""
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k == "stage" else "right"}
               for k, v in view.STAGE_COLUMNS]
    ui.table(columns=columns, rows=view.stage_rows(pair, stages, tr), row_key="stage").classes("w-full").props(
        'dense flat bordered data-testid="board-stages"')


def _card(title: str, value: str, before: str, testid: str) -> ui.card:
    with ui.card().props(f'flat bordered data-testid="{testid}"') as card:
        ui.label(title).classes("text-subtitle2 text-grey-8")
        ui.label(value).classes("text-h6")
        ui.label(before).classes("text-caption text-grey-7")
    return card


def _cycle_card(pair: dict[str, Any], tr: Tr, drill: Drill) -> None:
    now, before = pair["current"]["cycle"], pair["previous"]["cycle"]
    with _card(tr("Lead-to-won cycle"), tr("Median {median} days, 90th percentile {p90}",
                                            median=view.number(now["median"]), p90=view.number(now["p90"])),
               tr("{previous}: median {median} days", previous=tr(PREVIOUS), median=view.number(before["median"])),
               "board-cycle"):
        ui.button(tr("{count} deals won", count=now["count"]), on_click=lambda: drill(service.Drill("cycle"))).props(
            'flat dense no-caps data-testid="board-cycle-deals"')


def _response_card(pair: dict[str, Any], tr: Tr) -> None:
    now, before = pair["current"]["first_response"], pair["previous"]["first_response"]
    _card(tr("First response"), tr("Median {median} h over {answered} of {leads} leads",
                                   median=view.number(now["median"]), answered=now["count"], leads=now["leads"]),
          tr("{previous}: median {median} h", previous=tr(PREVIOUS), median=view.number(before["median"])),
          "board-first-response")


def _compliance_card(found: dict[str, Any], tr: Tr) -> None:
    now, before = found["current"]["overall"], found["previous"]["overall"]
    with _card(tr("Stage standards met on time"), view.share(now["share_on_time"]),
               tr("{previous}: {share}", previous=tr(PREVIOUS), share=view.share(before["share_on_time"])),
               "board-compliance"):
        ui.link(tr("Stage standards"), "/process/standards").classes("text-caption")


def _chart(options: dict[str, Any], testid: str, on_click: Callable[[Any], None]) -> None:
    base = {"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
            "grid": {"left": 50, "right": 50, "top": 64, "bottom": 30}}  # room for a legend on two lines
    ui.echart({**base, **options}, on_point_click=on_click).classes("w-full h-72").props(f'data-testid="{testid}"')


def _titled(title: str) -> None:
    ui.label(title).classes("text-subtitle1")


def _stuck_chart(pair: dict[str, Any], stages: list[str], names: list[str], tr: Tr, drill: Drill) -> None:
    now, before = pair["current"]["stuck"], pair["previous"]["stuck"]
    series = [{"name": tr(b), "type": "bar", "stack": "now", "data": [now[s][i] for s in stages]}
              for i, b in enumerate(view.STUCK_BUCKETS)]
    series.append({"name": tr(PREVIOUS), "type": "line", "data": [sum(before[s]) for s in stages]})
    last = len(view.STUCK_BUCKETS)

    def click(e: Any) -> None:
        previous = e.series_index == last
        drill(service.Drill("stuck", stages[e.data_index], None if previous else e.series_index, previous=previous))
    with ui.column().classes("w-full"):
        _titled(tr("Where open deals are stuck (by days in the stage)"))
        _chart({"xAxis": {"type": "category", "data": names}, "yAxis": {"type": "value"}, "series": series},
               "board-stuck", click)


def _time_chart(pair: dict[str, Any], stages: list[str], names: list[str], tr: Tr, drill: Drill) -> None:
    now, before = pair["current"]["time_in_stage"], pair["previous"]["time_in_stage"]
    series = [{"name": tr("Median days"), "type": "bar", "data": [now[s]["median"] for s in stages]},
              {"name": tr("90th percentile"), "type": "bar", "data": [now[s]["p90"] for s in stages]},
              {"name": tr(PREVIOUS), "type": "bar", "data": [before[s]["median"] for s in stages]}]

    def click(e: Any) -> None:
        drill(service.Drill("time_in_stage", stages[e.data_index], previous=e.series_index == 2))
    with ui.column().classes("w-full"):
        _titled(tr("Time in stage (days)"))
        _chart({"xAxis": {"type": "category", "data": names}, "yAxis": {"type": "value"}, "series": series},
               "board-time", click)


def _funnel_chart(pair: dict[str, Any], stages: list[str], names: list[str], tr: Tr, drill: Drill) -> None:
    now, before = pair["current"]["conversion"], pair["previous"]["conversion"]

    def rate(block: dict[str, Any], s: str) -> float | None:
        return None if block[s]["rate"] is None else round(100 * block[s]["rate"], 1)
    series = [{"name": tr("Entered"), "type": "bar", "data": [now[s]["entered"] for s in stages]},
              {"name": tr("Advanced %"), "type": "line", "yAxisIndex": 1, "data": [rate(now, s) for s in stages]},
              {"name": f"{tr(PREVIOUS)} %", "type": "line", "yAxisIndex": 1, "lineStyle": {"type": "dashed"},
               "data": [rate(before, s) for s in stages]}]

    def click(e: Any) -> None:
        drill(service.Drill("conversion", stages[e.data_index], previous=e.series_index == 2))
    with ui.column().classes("w-full"):
        _titled(tr("Conversion to a later stage"))
        _chart({"xAxis": {"type": "category", "data": names},
                "yAxis": [{"type": "value"}, {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}}],
                "series": series}, "board-funnel", click)


def _response_chart(pair: dict[str, Any], tr: Tr, drill: Drill) -> None:
    now, before = pair["current"]["first_response"], pair["previous"]["first_response"]
    series = [{"name": tr("Leads"), "type": "bar", "data": now["buckets"]},
              {"name": tr(PREVIOUS), "type": "bar", "data": before["buckets"]}]

    def click(e: Any) -> None:
        drill(service.Drill("first_response", bucket=e.data_index, previous=e.series_index == 1))
    with ui.column().classes("w-full"):
        _titled(tr("First response after assignment"))
        _chart({"xAxis": {"type": "category", "data": [tr(b) for b in view.RESPONSE_BUCKETS]},
                "yAxis": {"type": "value"}, "series": series}, "board-response", click)


def _people(data: dict[str, Any], principal: Principal, tr: Tr, drill: Drill) -> None:
    """Each team (for those who see colleagues' figures) and rep, every figure beside the period before; a row's
    button lists the open deals behind it."""
    rows = [_person_row(f"t{t['team_id']}", t["team"] or "—", t, tr) for t in data["teams"]]
    rows += [_person_row(f"r{r['rep_id']}", r["rep"], r, tr) for r in data["reps"]]
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left" if k == "name" else "right"}
               for k, v in PEOPLE_COLUMNS]
    table = ui.table(columns=columns, rows=rows, row_key="key").classes("w-full").props(
        'dense flat bordered data-testid="board-people"')
    table.add_slot("body-cell-name", """
        <q-td :props="props"><a href="#" class="text-primary" @click.prevent="$parent.$emit('pick', props.row)">
          {{ props.value }}</a></q-td>""")

    def pick(e: Any) -> None:
        key = e.args["key"]
        group = Filters(team_id=int(key[1:])) if key[0] == "t" else Filters(rep_id=int(key[1:]))
        drill(service.Drill("stuck"), group)
    table.on("pick", pick)


PEOPLE_COLUMNS = (("name", N_("Team or rep")), ("open", N_("Open deals")),
                  ("advanced", N_("Advanced from qualification")), ("cycle", N_("Median cycle, days")),
                  ("response", N_("Median first response, h")))


def _person_row(key: str, name: str, pair: dict[str, Any], tr: Tr) -> dict[str, Any]:
    now, before = pair["current"], pair["previous"]

    def both(get: Callable[[dict[str, Any]], str]) -> str:
        return view.beside(get(now), get(before))
    return {"key": key, "name": name, "open": both(lambda b: str(sum(sum(v) for v in b["stuck"].values()))),
            "advanced": both(lambda b: view.share(b["conversion"]["qualification"]["rate"])),
            "cycle": both(lambda b: view.number(b["cycle"]["median"])),
            "response": both(lambda b: view.number(b["first_response"]["median"]))}


def _drill_table(found: dict[str, Any], what: service.Drill, tr: Tr) -> None:
    title = tr(view.FIGURES[what.figure]) + (f" · {view.stage(what.stage, tr)}" if what.stage else "")
    if what.previous:
        title += f" · {tr(PREVIOUS)}"
    ui.label(tr("{title}: {count} behind this figure", title=title, count=found["total"])).classes(
        "text-h6").props('data-testid="board-drill-title"')
    leads = found["kind"] == "leads"
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in (
        (("name", N_("Company")), ("owner", N_("Owner")), ("hours", N_("Hours to respond"))) if leads else
        (("name", N_("Opportunity")), ("owner", N_("Owner")), ("stage", N_("Stage")), ("days", N_("Days"))))]
    rows = [{"id": i["id"], "name": i.get("company") if leads else i.get("name"), "owner": i["owner"] or "—",
             "stage": view.stage(i["stage"], tr) if i.get("stage") else "",
             "days": view.number(i.get("days")), "hours": view.number(i.get("hours")),
             "href": f"/leads/{i['id']}" if leads else f"/opportunities/{i['id']}"} for i in found["items"]]
    table = ui.table(columns=columns, rows=rows, row_key="id", pagination=20).classes("w-full").props(
        'dense flat bordered data-testid="board-drill"')
    table.add_slot("body-cell-name", """
        <q-td :props="props"><a :href="props.row.href" class="text-primary">{{ props.value }}</a></q-td>""")


def register() -> None:
    ui.page(PATH)(context.page(board_page))
