"""The monitoring pages: /monitor (a tile per KPI — its last window beside the one before, a sparkline with its alert
line and the changes, red while an anomaly is open — and the anomaly list), /monitor/kpis/{id} (a KPI's chart over
90 days or a year with its alert line, changes, anomalies shaded and a dimension's top values) and
/monitor/anomalies/{id} (the drill-down: the chart around the anomaly with its baseline and anomalous windows, the
ranked explanations, the funnel trace, and the changes linked to it with the way to each change and its
before/after board).

Monitoring is company-level: admin, sales ops, auditors and supervisors read it; a rep is told it is not theirs."""

from __future__ import annotations

from datetime import date
from typing import Any

from nicegui import ui
from starlette.requests import Request

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, current_locale
from evenhand.kit.clock import local
from evenhand.kit.figures import p_value
from evenhand.models import Channel
from evenhand.monitor import charts, service, views
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.series import DaysOff
from evenhand.monitor.views import AnomalyRow, Dimension, Drill, LinkedChange, Node, Tile
from evenhand.web import context
from evenhand.web.forms import problem
from evenhand.web.labels import WEEKDAYS, label, source_label
from evenhand.web.layout import Tr, shell

PATH = "/monitor"
CHANGES, CANARIES, DEFINITIONS = "/monitor/changes", "/monitor/canary", "/monitor/kpis/edit"
RANGES = {90: N_("90 days"), 365: N_("1 year")}
DIMENSIONS = {"channel": N_("Channel"), "region": N_("Region"), "team": N_("Team"), "rep": N_("Rep"),
              "product_line": N_("Product line"), "client": N_("Client (platform and app version)"),
              "platform": N_("Platform"), "app_version": N_("App version"), "arm": N_("Canary arm"),
              "kind": N_("Kind"), "pool": N_("Pool"), "rule": N_("Rule"), "stage": N_("Stage")}
LEAD_SOURCE = N_("Lead source")  # a lead's "channel" is where it came from, a notification's how it was sent
KINDS = {"statistical": N_("Statistical shift"), "alert_line": N_("Crossed the alert line")}
STATUSES = {"open": N_("Ongoing"), "closed": N_("Ended"), "withdrawn": N_("Withdrawn: no longer found")}
TRACE = {"shifted": N_("shifted"), "steady": N_("steady — checked"), "no_data": N_("no data to check")}
REASONS = {"before_start": N_("took effect before the start"), "after_start": N_("took effect just after the start"),
           "declares_metric": N_("declares this KPI or one upstream among the metrics it may affect"),
           "mentions": N_("mentions “{term}”")}
UNITS = {"hours": N_("{hours} h"), "minutes": N_("{minutes} min"), "days": N_("{days} days"), "ms": N_("{ms} ms")}


def _refused(principal: Principal, tr: Tr) -> bool:
    if principal.sees_team_figures:
        return False
    ui.label(tr("Monitoring shows the company's KPIs to admin, sales ops, auditors and supervisors.")).classes(
        "text-grey-7").props('data-testid="monitor-refused"')
    return True


# --- how a figure is written ----------------------------------------------------------------------------------------


def figure(kpi: Kpi | None, value: float | None, tr: Tr) -> str:
    """A KPI's value in its unit: a rate in percent, durations with their unit, counts and points as numbers."""
    if value is None:
        return "—"
    unit = kpi.unit if kpi is not None else ""
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit in UNITS:
        return tr(UNITS[unit], **{unit: f"{value:.1f}"})
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def suffix(kpi: Kpi, tr: Tr) -> str:
    """What follows a value on a chart ("%", " h")."""
    return "%" if kpi.unit == "share" else tr(UNITS[kpi.unit], **{kpi.unit: ""}) if kpi.unit in UNITS else ""


def effect(row: AnomalyRow) -> str:
    arrow = "▲" if row.direction == "up" else "▼"
    return arrow if row.effect is None else f"{arrow} {100 * row.effect:+.0f}%"


def dimension_name(kpi: Kpi | None, dimension: str, tr: Tr) -> str:
    if dimension == "channel" and kpi is not None and kpi.source == "leads":
        return tr(LEAD_SOURCE)
    return tr(DIMENSIONS[dimension]) if dimension in DIMENSIONS else dimension


def value_name(dimension: str, value: str, tr: Tr) -> str:
    """A dimension's value as a reader knows it: channels by their names, everything else as recorded."""
    if dimension == "channel" and value in {c.value for c in Channel}:
        return tr(label(Channel(value)))
    return tr(source_label(value)) if dimension == "channel" else value or tr("(unknown)")


def row_name(row: AnomalyRow) -> str:
    """The anomaly's KPI in the page's language (its id once the KPI is no longer defined)."""
    return row.kpi.label(current_locale()) if row.kpi is not None else row.kpi_id


def kpi_name(row: AnomalyRow | Node, kpis: dict[str, Kpi]) -> str:
    key = row.kpi_id if isinstance(row, AnomalyRow) else row.kpi
    return kpis[key].label(current_locale()) if key in kpis else key


def words(kpi: Kpi, tr: Tr) -> charts.Words:
    return charts.Words(suffix(kpi, tr), tr("Each day"), tr("{days}-day value", days=kpi.window_days),
                        tr("Still maturing"), tr("Alert line"), tr("Change entry"), tr("Baseline"), tr("Anomalous"))


def _day(value: date | None) -> str:
    return "—" if value is None else value.isoformat()


def _chart(options: dict[str, Any], testid: str, height: str = "h-80") -> None:
    ui.echart(options).classes(f"w-full {height}").props(f'data-testid="{testid}"')


# --- /monitor -------------------------------------------------------------------------------------------------------


def monitor_page(principal: Principal, tr: Tr, request: Request) -> None:
    with shell(principal, tr, title=tr("Monitoring"), path=PATH):
        if _refused(principal, tr):
            return None
        with session_scope(context.engine(), readonly=True) as session:
            found = views.overview(session, principal, get_settings().zone)
            off = service.days_off(session)
        _links(tr)
        ui.label(tr("Figures up to {day}. Each tile: the last window beside the one before, and 90 days of it.",
                    day=found.as_of.isoformat())).classes("text-grey-7").props('data-testid="monitor-as-of"')
        ui.label(_days_off_text(off, tr)).classes("text-caption text-grey-7").props('data-testid="monitor-days-off"')
        with ui.row().classes("w-full gap-4 items-stretch"):
            for tile in found.tiles:
                _tile(tile, found.markers, tr)
        if not found.tiles:
            ui.label(tr("No KPI is defined yet.")).classes("text-grey-7")
        _anomaly_list(list(found.anomalies), tr)
    return None


def _days_off_text(off: DaysOff, tr: Tr) -> str:
    """What conversion leaves out of a lead's days to mature (``detect._Cohorts``), or that a holiday week will look
    like a drop; and the make-up working days it counts."""
    if not off.holidays:
        return tr("The stage standards list no holidays: a holiday week will look like a drop in conversion.")
    if not off.weekdays:
        text = tr("Conversion counts a lead's days to mature in days worked: the holidays in the stage standards "
                  "({count} days) do not count.", count=len(off.holidays))
    else:
        names = list(WEEKDAYS.values())
        weekdays = tr(", ").join(tr(names[day]) for day in sorted(off.weekdays))  # "、" in Chinese
        text = tr("Conversion counts a lead's days to mature in days worked: {weekdays} and the holidays in the stage "
                  "standards ({count} days) do not count.", weekdays=weekdays, count=len(off.holidays))
    if off.workdays:
        text = tr("{sentence} Their make-up working days ({count}) count.", sentence=text, count=len(off.workdays))
    return text


def _links(tr: Tr) -> None:
    with ui.row().classes("gap-4"):
        for text, target, key in ((N_("Change registry"), CHANGES, "changes"), (N_("Canaries"), CANARIES, "canary"),
                                  (N_("KPI definitions"), DEFINITIONS, "definitions")):
            ui.link(tr(text), target).props(f'data-testid="monitor-link-{key}"')


def _tile(tile: Tile, markers: tuple[views.Marker, ...], tr: Tr) -> None:
    kpi = tile.kpi
    alarming = tile.anomaly is not None
    with ui.card().classes("w-80 gap-1").props(f'flat bordered data-kpi="{kpi.id}"').style(
            "border: 2px solid #c0392b" if alarming else ""):
        ui.link(kpi.label(current_locale()), f"{PATH}/kpis/{kpi.id}").classes("text-subtitle1 text-weight-bold")
        with ui.row().classes("items-baseline gap-2"):
            ui.label(figure(kpi, tile.now, tr)).classes(
                "text-h5" + (" text-negative" if alarming or tile.beyond_alert else "")).props(
                f'data-testid="tile-now" data-beyond-alert="{str(tile.beyond_alert).lower()}"')
            _delta(kpi, tile, tr)
        ui.label(tr("{first} to {last}; the window before: {before}", first=tile.window[0].isoformat(),
                    last=tile.window[1].isoformat(), before=figure(kpi, tile.before, tr))).classes(
            "text-caption text-grey-7")
        _alert_text(kpi, tr)
        _chart(charts.sparkline(kpi, tile.line, markers, words(kpi, tr), alarming=alarming), f"spark-{kpi.id}",
               "h-20")
        if tile.anomaly is not None:
            ui.link(tr("Open anomaly: see why"), f"{PATH}/anomalies/{tile.anomaly}").classes(
                "text-negative").props('data-testid="tile-anomaly"')


def _delta(kpi: Kpi, tile: Tile, tr: Tr) -> None:
    if tile.now is None or tile.before is None or tile.before == 0:
        return
    change = tile.now / tile.before - 1
    if abs(change) < 0.005:  # under half a percent: shown as no move
        ui.label("→ 0%").classes("text-caption text-grey-7")
        return
    good = (change > 0) == (kpi.good == "up")
    ui.label(f"{'▲' if change > 0 else '▼'} {100 * change:+.0f}%").classes(
        "text-caption " + ("text-positive" if good else "text-negative"))


def _alert_text(kpi: Kpi, tr: Tr) -> None:
    bounds = [tr("Alert above {value}", value=figure(kpi, kpi.alert_above, tr))] if kpi.alert_above is not None else []
    if kpi.alert_below is not None:
        bounds.append(tr("Alert below {value}", value=figure(kpi, kpi.alert_below, tr)))
    if bounds:
        ui.label(" · ".join(bounds)).classes("text-caption").style(f"color: {charts.ALERT}")


ANOMALY_COLUMNS = (("kpi", N_("KPI")), ("size", N_("Direction and size")), ("started", N_("Started")),
                   ("detected", N_("Detected")), ("delay", N_("Days to detect")), ("top", N_("Top explanation")),
                   ("changes", N_("Linked changes")), ("status", N_("Status")))


def _anomaly_list(rows: list[AnomalyRow], tr: Tr) -> None:
    ui.label(tr("Anomalies")).classes("text-h6")
    if not rows:
        ui.label(tr("No anomaly found.")).classes("text-grey-7").props('data-testid="no-anomalies"')
        return
    columns = [{"name": k, "label": tr(v), "field": k, "align": "left"} for k, v in ANOMALY_COLUMNS]
    table = ui.table(columns=columns, rows=[_list_row(r, tr) for r in rows], row_key="id").classes("w-full").props(
        'dense flat bordered wrap-cells data-testid="anomaly-list"')
    table.add_slot("body-cell-kpi", """
        <q-td :props="props"><a :href="props.row.href" class="text-primary" :data-anomaly="props.row.id">
          {{ props.value }}</a></q-td>""")
    table.add_slot("body-cell-size", """
        <q-td :props="props" :class="props.row.harmful ? 'text-negative' : ''">{{ props.value }}</q-td>""")
    table.add_slot("body-cell-changes", """
        <q-td :props="props"><div v-for="c in props.row.links" :key="c.id">
          <a :href="c.href" class="text-primary">{{ c.title }}</a></div></q-td>""")


def _list_row(row: AnomalyRow, tr: Tr) -> dict[str, Any]:
    top = row.top
    return {"id": row.id, "href": f"{PATH}/anomalies/{row.id}", "harmful": bool(row.harmful),
            "kpi": row_name(row),
            "size": f"{effect(row)} ({figure(row.kpi, row.baseline, tr)} → {figure(row.kpi, row.observed, tr)})",
            "started": row.started.isoformat(), "detected": row.detected.isoformat(), "delay": row.delay,
            "top": "—" if top is None else tr("{dimension}: {value} ({power} of the shift)",
                                              dimension=dimension_name(row.kpi, top.dimension, tr),
                                              value=value_name(top.dimension, top.value, tr),
                                              power=f"{100 * top.power:.0f}%"),
            "links": [{"id": c.id, "title": c.title, "href": f"{CHANGES}/{c.id}"} for c in row.changes],
            "changes": len(row.changes), "status": tr(STATUSES.get(row.status, row.status))}


# --- /monitor/kpis/{id} ---------------------------------------------------------------------------------------------


def kpi_page(principal: Principal, tr: Tr, request: Request, kpi_id: str) -> None:
    with shell(principal, tr, title=tr("KPI"), path=PATH):
        if _refused(principal, tr):
            return None
        try:
            with session_scope(context.engine(), readonly=True) as session:
                kpi = views.kpi(session, principal, kpi_id)
        except DomainError as exc:
            ui.label(problem(exc, tr)).classes("text-negative").props('data-testid="monitor-missing"')
            return None
        ui.label(kpi.label(current_locale())).classes("text-h6").props('data-testid="kpi-name"')
        _kpi_body(principal, kpi, tr)
    return None


def _kpi_body(principal: Principal, kpi: Kpi, tr: Tr) -> None:
    state: dict[str, Any] = {"days": 90, "dimension": ""}
    with ui.row().classes("items-center gap-4"):
        ui.toggle({d: tr(t) for d, t in RANGES.items()}, value=90,
                  on_change=lambda e: (state.update(days=e.value), drawn.refresh())).props('data-testid="kpi-range"')
        options = {"": tr("The whole company"), **{d: dimension_name(kpi, d, tr) for d in kpi.dimensions}}
        ui.select(options, value="", label=tr("Top values of"),
                  on_change=lambda e: (state.update(dimension=e.value or ""), drawn.refresh())).classes(
            "w-64").props('outlined dense data-testid="kpi-dimension"')

    @ui.refreshable
    def drawn() -> None:
        zone = get_settings().zone
        with session_scope(context.engine(), readonly=True) as session:
            found = views.kpi_view(session, principal, kpi.id, days=state["days"], zone=zone)
            extra = views.top_values(session, principal, kpi.id, state["dimension"], days=state["days"],
                                     zone=zone) if state["dimension"] else []
        named = [(value_name(state["dimension"], v, tr), line) for v, line in extra]
        _chart(charts.kpi_chart(kpi, found.line, found.markers, words(kpi, tr), bands=found.bands, extra=named),
               "kpi-chart", "h-96")
        _marker_list(found.markers, tr)
        _band_list(found.bands, tr)

    drawn()


def _marker_list(markers: tuple[views.Marker, ...], tr: Tr) -> None:
    """The changes drawn on the chart, by number, each linking to its entry in the registry."""
    if not markers:
        ui.label(tr("No change took effect in these days.")).classes("text-caption text-grey-7")
        return
    with ui.column().classes("gap-0").props('data-testid="chart-changes"'):
        ui.label(tr("Changes on this chart")).classes("text-subtitle2")
        for m in markers:
            with ui.row().classes("gap-2 items-center").props(f'data-marker="{m.id}"'):
                ui.label(f"#{m.id} · {m.day.isoformat()}").classes("text-caption").style(f"color: {charts.CHANGE}")
                ui.link(m.title, f"{CHANGES}/{m.id}")
                ui.label(m.system).classes("text-caption text-grey-7")
                if m.status == "rolled_back":
                    ui.label(tr("rolled back")).classes("text-caption text-grey-7")


def _band_list(bands: tuple[views.Band, ...], tr: Tr) -> None:
    for b in bands:
        ui.link(tr("Anomaly #{id}: {first} to {last}", id=b.id, first=b.first.isoformat(), last=b.last.isoformat()),
                f"{PATH}/anomalies/{b.id}").props(f'data-band="{b.id}"')


# --- /monitor/anomalies/{id} ----------------------------------------------------------------------------------------


def anomaly_page(principal: Principal, tr: Tr, request: Request, anomaly_id: int) -> None:
    with shell(principal, tr, title=tr("Anomaly"), path=PATH):
        if _refused(principal, tr):
            return None
        try:
            with session_scope(context.engine(), readonly=True) as session:
                found = views.drill(session, principal, anomaly_id, get_settings().zone)
                kpis = views.definitions(session)
        except DomainError as exc:
            ui.label(problem(exc, tr)).classes("text-negative").props('data-testid="monitor-missing"')
            return None
        _summary(found, kpis, tr)
        if found.row.kpi is not None and found.line is not None:
            _chart(charts.kpi_chart(found.row.kpi, found.line, found.markers, words(found.row.kpi, tr),
                                    windows=found.windows), "anomaly-chart", "h-96")
            _marker_list(found.markers, tr)
        _explanations(found.row.kpi, list(found.dimensions), tr)
        _trace(found, kpis, tr)
        _changes(list(found.changes), tr)
    return None


def _summary(found: Drill, kpis: dict[str, Kpi], tr: Tr) -> None:
    row = found.row
    with ui.card().classes("w-full max-w-5xl gap-1").props('flat bordered data-testid="anomaly-summary"'):
        with ui.row().classes("items-center gap-3"):
            ui.link(kpi_name(row, kpis), f"{PATH}/kpis/{row.kpi_id}").classes("text-h6")
            ui.label(effect(row)).classes("text-h6 " + ("text-negative" if row.harmful else "text-positive"))
            ui.badge(tr(STATUSES.get(row.status, row.status)), color="negative" if row.status == "open" else "grey")
        ui.label(tr("From {baseline} to {observed}", baseline=figure(row.kpi, row.baseline, tr),
                    observed=figure(row.kpi, row.observed, tr))).props('data-testid="anomaly-size"')
        ui.label(tr("Started {started}, detected {detected} ({days} days later), last seen {last}",
                    started=row.started.isoformat(), detected=row.detected.isoformat(), days=row.delay,
                    last=row.last.isoformat())).classes("text-grey-8").props('data-testid="anomaly-dates"')
        test = tr(KINDS.get(row.kind, row.kind)) + f" · {row.method}"
        ui.label(test + (f" · {p_value(row.p_value)}" if row.p_value is not None else "")).classes(
            "text-caption text-grey-7")
        if found.chain:
            ui.label(tr("Likely chain: {chain}", chain=" → ".join(kpis[k].label(current_locale()) if k in kpis
                                                                   else k for k in found.chain))).classes(
                "text-weight-medium").props('data-testid="anomaly-chain"')


def _explanations(kpi: Kpi | None, dimensions: list[Dimension], tr: Tr) -> None:
    """Each dimension (the most surprising first, as ranked), its values by how much of the shift they explain."""
    ui.label(tr("What explains it")).classes("text-h6")
    if not dimensions:
        ui.label(tr("No dimension explains this shift.")).classes("text-grey-7").props('data-testid="no-explanation"')
        return
    with ui.column().classes("w-full max-w-5xl gap-3").props('data-testid="explanations"'):
        for rank, dimension in enumerate(dimensions, start=1):
            _dimension(kpi, rank, dimension, tr)


def _dimension(kpi: Kpi | None, rank: int, dimension: Dimension, tr: Tr) -> None:
    with ui.card().classes("w-full gap-1").props(f'flat bordered data-dimension="{dimension.name}"'):
        ui.label(tr("{rank}. {dimension} (surprise {surprise})", rank=rank,
                    dimension=dimension_name(kpi, dimension.name, tr),
                    surprise=f"{dimension.surprise:.3f}")).classes("text-subtitle1")
        for element in dimension.elements:
            with ui.row().classes("w-full items-center gap-3 no-wrap").props(f'data-element="{element.value}"'):
                ui.label(value_name(dimension.name, element.value, tr)).classes("w-48 text-weight-medium")
                with ui.element("div").classes("w-48 bg-grey-3").style("height: 10px"):
                    ui.element("div").classes("bg-primary").style(
                        f"height: 10px; width: {max(0.0, min(1.0, element.explanatory_power)) * 100:.0f}%")
                ui.label(tr("{power} of the shift", power=f"{100 * element.explanatory_power:.0f}%")).classes(
                    "w-28")
                ui.label(f"{figure(kpi, element.baseline, tr)} → {figure(kpi, element.observed, tr)}").classes(
                    "w-40")
                if element.share is not None:
                    ui.label(tr("{share} of the rows", share=f"{100 * element.share:.0f}%")).classes(
                        "text-caption text-grey-7")


def _trace(found: Drill, kpis: dict[str, Kpi], tr: Tr) -> None:
    ui.label(tr("Through the funnel")).classes("text-h6")
    if found.trace is None:
        ui.label(tr("This KPI has nothing upstream to trace.")).classes("text-grey-7")
        return
    with ui.column().classes("gap-1").props('data-testid="trace"'):
        _node(found.trace, kpis, tr, depth=0)


def _node(node: Node, kpis: dict[str, Kpi], tr: Tr, *, depth: int) -> None:
    shifted = node.status == "shifted"
    with ui.row().classes("items-center gap-2").style(f"margin-left: {depth * 1.75}rem").props(
            f'data-trace-kpi="{node.kpi}" data-trace-status="{node.status}"'):
        ui.icon(("trending_down" if (node.effect or 0) < 0 else "trending_up") if shifted else
                "check_circle" if node.status == "steady" else "help_outline",
                color="negative" if shifted else "positive" if node.status == "steady" else "grey")
        ui.label(kpi_name(node, kpis)).classes("text-weight-medium")
        ui.label(tr(TRACE.get(node.status, node.status))).classes("text-grey-8")
        if node.effect is not None:
            ui.label(f"{100 * node.effect:+.0f}%").classes("text-negative" if shifted else "text-grey-7")
        if node.started is not None:
            ui.label(tr("from {day}", day=node.started.isoformat())).classes("text-caption text-grey-7")
        if node.anomaly_id is not None:
            ui.link(tr("Drill down"), f"{PATH}/anomalies/{node.anomaly_id}").classes("text-caption")
    for child in node.children:
        _node(child, kpis, tr, depth=depth + 1)


def _changes(changes: list[LinkedChange], tr: Tr) -> None:
    ui.label(tr("Changes shortly before")).classes("text-h6")
    if not changes:
        ui.label(tr("No recorded change is linked to this shift.")).classes("text-grey-7").props(
            'data-testid="no-changes"')
        return
    with ui.column().classes("w-full max-w-5xl gap-2").props('data-testid="linked-changes"'):
        for change in changes:
            _change(change, tr)


def _change(change: LinkedChange, tr: Tr) -> None:
    zone = get_settings().zone
    with ui.card().classes("w-full gap-1").props(f'flat bordered data-change="{change.id}"'):
        with ui.row().classes("items-center gap-3"):
            ui.link(change.title, f"{CHANGES}/{change.id}").classes("text-subtitle1 text-weight-bold")
            ui.label(f"{change.system} · {change.kind}").classes("text-grey-7")
            if change.score is not None:
                ui.badge(tr("score {score}", score=f"{change.score:.2f}"), color="primary").props("outline")
        when = local(change.effective, zone).strftime("%Y-%m-%d %H:%M")
        ui.label(tr("Took effect {when}, {days} days before the shift started", when=when, days=change.days_before)
                 if change.days_before >= 0 else
                 tr("Took effect {when}, {days} days after the shift started", when=when, days=-change.days_before)
                 ).classes("text-grey-8").props('data-testid="change-when"')
        if change.reasons:
            ui.label(" · ".join(_reason(r, tr) for r in change.reasons)).classes("text-caption").props(
                'data-testid="change-reasons"')
        ui.link(tr("Before and after"), f"{CHANGES}/{change.id}/impact").props('data-testid="change-impact"')


def _reason(reason: str, tr: Tr) -> str:
    code, _, term = reason.partition(":")
    return tr(REASONS[code], term=term) if code in REASONS else reason


def register() -> None:
    ui.page(PATH)(context.page(monitor_page))
    ui.page(PATH + "/kpis/{kpi_id}")(context.page(kpi_page))
    ui.page(PATH + "/anomalies/{anomaly_id}")(context.page(anomaly_page))
