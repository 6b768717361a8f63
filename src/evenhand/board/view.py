"""How the board's figures are named and written, the same on the page and in the terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evenhand.i18n import N_
from evenhand.models import Stage
from evenhand.web.labels import label

Tr = Callable[..., str]
STUCK_BUCKETS = (N_("under 7 days"), N_("7–14 days"), N_("14–30 days"), N_("30–60 days"), N_("60 days or more"))
RESPONSE_BUCKETS = (N_("under 1 h"), N_("1–4 h"), N_("4–24 h"), N_("1–2 days"), N_("2–7 days"), N_("7 days or more"),
                    N_("no response yet"))
FIGURES = {"time_in_stage": N_("Time in stage"), "conversion": N_("Conversion"), "stuck": N_("Stuck deals"),
           "cycle": N_("Lead-to-won cycle"), "first_response": N_("First response")}


def stage(name: str, tr: Tr) -> str:
    return tr(label(Stage(name)))


def number(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def beside(now: str, before: str) -> str:
    """A figure with the previous period's in brackets."""
    return f"{now} ({before})"


def stage_rows(pair: dict[str, Any], stages: list[str], tr: Tr) -> list[dict[str, str]]:
    """One row per open stage: time in stage, conversion and stuck deals, each beside the previous period."""
    now, before = pair["current"], pair["previous"]
    rows = []
    for s in stages:
        t, u = now["time_in_stage"][s], before["time_in_stage"][s]
        c, d = now["conversion"][s], before["conversion"][s]
        rows.append({"stage": stage(s, tr), "median": beside(number(t["median"]), number(u["median"])),
                     "p90": beside(number(t["p90"]), number(u["p90"])),
                     "entered": beside(str(c["entered"]), str(d["entered"])),
                     "rate": beside(share(c["rate"]), share(d["rate"])),
                     "stuck": beside(str(sum(now["stuck"][s])), str(sum(before["stuck"][s])))})
    return rows


STAGE_COLUMNS = (("stage", N_("Stage")), ("median", N_("Median days in stage")), ("p90", N_("90th percentile")),
                 ("entered", N_("Entered")), ("rate", N_("Advanced")), ("stuck", N_("Open now")))
