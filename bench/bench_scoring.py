"""Rule scoring: µs per lead for the pure scorer, leads/s for vectorised rescoring of a million leads.

Both run the shipped default model (22 fit rules in 3 groups, 7 behaviour rules, 4 penalties).
Baselines measured in the same run, because this machine is shared and noisy:
- the pure scorer looping over a 20,000-lead sample of the same million, extrapolated;
- a numpy floor: one ``bincount`` over the event arrays plus one pass over the lead arrays, i.e. the
  least any vectorised scorer must spend touching the same data.
The vectorised figure is the scoring maths alone (inputs already in memory as arrays and lists, as a
database reader would hand them over), including factorising the string columns.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evenhand.leads.scoring import compile, load_default, score
from evenhand.leads.scoring.rules import Event, LeadFacts, epoch_seconds
from evenhand.leads.scoring.schema import EVENT_KINDS
from evenhand.leads.scoring.vector import EventTable, LeadTable, score_table

N_LEADS = 1_000_000
EVENTS_PER_LEAD = 3.0
N_SAMPLE = 20_000
N_PURE, EVENTS_PURE = 5_000, 20
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SEED = 20261127

INDUSTRIES = ["制造业", "金融", "零售", "医疗", "互联网", "物流", "能源", "教育", "房地产", "公共事业", "Manufacturing",
              "retail", None]
REGIONS = ["east", "south", "north", "central", "southwest", "华东", None]
TITLES = ["采购经理", "IT总监", "总经理", "运营总监", "销售副总裁", "信息部主管", "CIO", "市场总监", "行政经理",
          "实习生", "Head of IT", None]
SOURCES = ["website", "baidu_ads", "webinar", "trade_show", "partner", "referral"]
KIND_SHARE = [0.55, 0.12, 0.03, 0.08, 0.15, 0.07]  # in EVENT_KINDS order


def _pick(rng: np.random.Generator, values: list[Any], n: int) -> list[Any]:
    return np.array(values, dtype=object)[rng.integers(0, len(values), n)].tolist()


def _leads(rng: np.random.Generator, n: int) -> LeadTable:
    size = np.floor(rng.lognormal(np.log(110), 1.25, n))
    size[rng.random(n) < 0.03] = np.nan
    personal = rng.random(n) < 0.15
    emails = [f"u{i}@qq.com" if p else f"u{i}@corp{i % 5000}.com.cn" for i, p in enumerate(personal.tolist())]
    phones = [None if m else f"138{i:08d}" for i, m in enumerate((rng.random(n) < 0.05).tolist())]
    return LeadTable(_pick(rng, INDUSTRIES, n), size, _pick(rng, REGIONS, n), _pick(rng, TITLES, n),
                     _pick(rng, SOURCES, n), emails, phones)


def _events(rng: np.random.Generator, lead: np.ndarray) -> EventTable:
    """Events for the given lead rows (one per entry), the last 90 days, kinds in realistic shares."""
    kind = np.array(EVENT_KINDS, dtype=object)[rng.choice(len(EVENT_KINDS), len(lead), p=KIND_SHARE)]
    at = epoch_seconds(NOW) - rng.integers(0, 90 * 86_400, len(lead))
    dwell = np.where(kind == "page_view", np.round(rng.lognormal(np.log(55), 0.8, len(lead))), np.nan)
    return EventTable(lead.astype(np.int64), kind, at.astype(np.int64), dwell)


def _facts(leads: LeadTable, events: EventTable, rows: np.ndarray) -> list[LeadFacts]:
    """The same leads as ``LeadFacts``, for the pure scorer."""
    trail: dict[int, list[Event]] = {int(r): [] for r in rows}
    for i in np.flatnonzero(np.isin(events.lead, rows)).tolist():
        ev = Event(events.kind[i], datetime.fromtimestamp(int(events.occurred_at[i]), UTC),
                   None if np.isnan(events.dwell_seconds[i]) else float(events.dwell_seconds[i]))
        trail[int(events.lead[i])].append(ev)
    size = leads.company_size
    return [LeadFacts(leads.industry[r], None if np.isnan(size[r]) else int(size[r]), leads.region[r],  # type: ignore[index]
                      leads.title[r], leads.source[r], leads.email[r], leads.phone[r],  # type: ignore[index]
                      tuple(trail[r])) for r in rows.tolist()]


def _pure_latency(model: Any, rng: np.random.Generator) -> dict[str, float]:
    leads = _leads(rng, N_PURE)
    facts = _facts(leads, _events(rng, np.repeat(np.arange(N_PURE), EVENTS_PURE)), np.arange(N_PURE))
    for f in facts[:500]:  # warm the value caches the way a running service has them warm
        score(f, model, NOW)
    times = []
    for f in facts:
        started = time.perf_counter_ns()
        score(f, model, NOW)
        times.append(time.perf_counter_ns() - started)
    times.sort()
    return {"pure_us_per_lead_median": round(statistics.median(times) / 1000, 1),
            "pure_us_per_lead_p95": round(times[int(0.95 * len(times))] / 1000, 1),
            "pure_events_per_lead": EVENTS_PURE}


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _numpy_floor(leads: LeadTable, events: EventTable) -> float:
    """One pass over every event column and the numeric lead column: the memory-bound minimum."""
    def touch() -> float:
        per_lead = np.bincount(events.lead, weights=np.nan_to_num(events.dwell_seconds), minlength=len(leads))
        return float(per_lead.sum() + (events.occurred_at % 7).sum() + np.nansum(leads.company_size))
    return min(_timed(touch)[0] for _ in range(3))


def run() -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    parse_s, parsed = _timed(load_default)
    compile_s, model = _timed(lambda: compile(parsed))
    figures: dict[str, Any] = {"parse_ms": round(parse_s * 1000, 2), "compile_ms": round(compile_s * 1000, 2),
                               "columns": len(model.columns)}
    figures |= _pure_latency(model, rng)
    leads = _leads(rng, N_LEADS)
    events = _events(rng, np.repeat(np.arange(N_LEADS), rng.poisson(EVENTS_PER_LEAD, N_LEADS)))
    vector_s = [_timed(lambda: score_table(leads, events, model, NOW))[0] for _ in range(2)]
    totals_only_s = _timed(lambda: score_table(leads, events, model, NOW, explain=False))[0]
    result = score_table(leads, events, model, NOW)
    sample = np.sort(rng.choice(N_LEADS, N_SAMPLE, replace=False))
    facts = _facts(leads, events, sample)
    loop_s, pure = _timed(lambda: [score(f, model, NOW).total for f in facts])
    floor_s = _numpy_floor(leads, events)
    best = min(vector_s)
    return figures | {
        "leads": N_LEADS, "events": len(events),
        "vector_seconds": round(best, 3), "vector_seconds_runs": [round(s, 3) for s in vector_s],  # 1st run cold
        "vector_seconds_totals_only": round(totals_only_s, 3),
        "vector_leads_per_s": round(N_LEADS / best),
        "baseline_pure_loop_leads_per_s": round(N_SAMPLE / loop_s),
        "baseline_pure_loop_seconds_for_all_extrapolated": round(loop_s * N_LEADS / N_SAMPLE, 1),
        "vector_speedup_over_pure_loop": round(loop_s * N_LEADS / N_SAMPLE / best, 1),
        "baseline_numpy_floor_seconds": round(floor_s, 3),
        "vector_over_numpy_floor": round(best / floor_s, 1),
        "vector_equals_pure_on_sample": bool(np.array_equal(result.totals[sample], np.array(pure))),
        "explanation_matrix_mb": round(result.points.nbytes / 2**20, 1) if result.points is not None else 0,
    }


if __name__ == "__main__":
    print(run())
