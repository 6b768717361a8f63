"""Routing decisions in process: decisions/s for 500 reps and 50 pool conditions, both tracks.

Setup: 25 teams of 20 reps (5 departments × 5 regions); 49 pools with a CEL condition each (region,
industry list and a company-size floor) plus the catch-all; leads spread so that a lead is checked
against about half the conditions on average. Reps: ~80% online, office hours in Shanghai (a few in
Urumqi), varied loads, caps and records.

Two ways of calling ``decide``:
- ``all_reps``: all 500 reps passed as candidates (every one gets a verdict in the evidence);
- ``pool_reps``: only the 20 members of the lead's pool's team (what a service that pre-filters by
  membership would pass).
Baselines measured in the same run, because this machine is shared and noisy: the CEL pool selection
alone (``select_pool``), and the evidence's cost — ``to_dict`` + ``json.dumps`` of a 500-rep decision —
and ``replay`` of it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from evenhand.routing import LeadSnapshot, PoolState, RepState, compile, decide, parse, replay, select_pool

SEED = 20260302
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 11:00 in Shanghai
DEPTS = ["key_accounts", "smb", "channel", "retail", "public"]
REGIONS = ["east", "south", "north", "central", "southwest"]
INDUSTRIES = ["制造业", "金融", "零售", "医疗", "互联网", "物流", "能源", "教育", "房地产", "公共事业"]
OFFICE = {d: (("09:00", "18:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}
N_LEADS = 3000


def _policy_text(rnd: random.Random) -> str:
    pools: list[dict[str, Any]] = []
    for i in range(49):
        region, industries = REGIONS[i % 5], rnd.sample(INDUSTRIES, 3)
        cond = (f'lead.region == "{region}" && lead.industry in {json.dumps(industries, ensure_ascii=False)} '
                f"&& lead.company_size != null && lead.company_size >= {rnd.choice([0, 50, 200, 500])}")
        pools.append({"id": f"p{i:02d}", "condition": cond,
                      "members": {"teams": [f"team{(i * 7) % 25:02d}"]}})
    pools.append({"id": "rest", "members": {"departments": ["smb"], "match_lead": ["region"]}})
    doc = {"name": "bench", "availability": {"weekly_lead_cap": 200},
           "weighted": {"junior_share": 0.2, "max_share": 0.5, "max_per_day": 50}, "pools": pools}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _reps(rnd: random.Random) -> list[RepState]:
    reps = []
    for i in range(500):
        team = i // 20
        reps.append(RepState(
            i + 1, f"rep{i + 1}", level=rnd.choice(["junior", "senior"]), team=f"team{team:02d}",
            department=DEPTS[team // 5], region=REGIONS[team % 5], skills=tuple(rnd.sample(INDUSTRIES, 2)),
            presence=rnd.choices(["online", "away", "offline"], [0.8, 0.1, 0.1])[0], presence_since=NOW,
            timezone=rnd.choice(["Asia/Shanghai"] * 9 + ["Asia/Urumqi"]), working_hours=OFFICE,
            open_leads=rnd.randint(0, 45), max_open_leads=50, leads_today=rnd.randint(0, 10), daily_lead_cap=1000,
            wins=rnd.randint(0, 30), deals=rnd.randint(30, 60), quota_attainment=rnd.uniform(0.2, 1.6)))
    return reps


def _leads(rnd: random.Random, score: Callable[[], int]) -> list[LeadSnapshot]:
    return [LeadSnapshot(k, score(), source="website", industry=rnd.choice(INDUSTRIES), region=rnd.choice(REGIONS),
                         company_size=rnd.choice([None, 20, 120, 800, 3000])) for k in range(N_LEADS)]


def _rate(fn: Callable[[LeadSnapshot], Any], leads: list[LeadSnapshot]) -> float:
    for lead in leads[:200]:  # warm caches as a running service has them
        fn(lead)
    started = time.perf_counter()
    for lead in leads:
        fn(lead)
    return len(leads) / (time.perf_counter() - started)


class _Router:
    """Keeps pool states between decisions, as the service would."""

    def __init__(self, policy: Any, reps: list[RepState], pre_filter: bool) -> None:
        self.policy, self.reps, self.states = policy, reps, {}  # type: ignore[var-annotated]
        teams = {p.id: p.spec.members.teams for p in policy.pools}
        self.members = {pid: [r for r in reps if t is None or r.team in t] for pid, t in teams.items()}
        self.pre_filter = pre_filter

    def __call__(self, lead: LeadSnapshot) -> Any:
        match = select_pool(lead, self.policy)
        state = self.states.get(match.pool_id) or PoolState(match.pool_id)
        candidates = self.members[match.pool_id] if self.pre_filter else self.reps
        d = decide(lead, candidates, self.policy, state, NOW + timedelta(seconds=lead.id), match=match)
        self.states[match.pool_id] = d.state_after
        return d


def run() -> dict[str, Any]:
    rnd = random.Random(SEED)
    policy = compile(parse(_policy_text(rnd)))
    reps = _reps(rnd)
    ordinary, high = _leads(rnd, lambda: rnd.randint(0, 79)), _leads(rnd, lambda: rnd.randint(80, 100))
    checks = sum(len(select_pool(lead, policy).checks) for lead in ordinary) / len(ordinary)
    figures: dict[str, Any] = {"reps": len(reps), "pool_conditions": len(policy.pools) - 1,
                               "conditions_evaluated_per_lead": round(checks, 1),
                               "baseline_select_pool_per_s": round(_rate(lambda ld: select_pool(ld, policy), ordinary))}
    for name, leads in (("round_robin", ordinary), ("weighted", high)):
        for mode, pre in (("all_reps", False), ("pool_reps", True)):
            figures[f"{name}_{mode}_decisions_per_s"] = round(_rate(_Router(policy, reps, pre), leads))
    sample = _Router(policy, reps, False)(high[0])
    record = sample.to_dict()
    figures |= {"evidence_json_kb_all_reps": round(len(json.dumps(record, ensure_ascii=False)) / 1024, 1),
                "baseline_to_json_per_s_all_reps": round(_rate(lambda _: json.dumps(sample.to_dict()), high[:500])),
                "replay_per_s_all_reps": round(_rate(lambda _: replay(record, policy), high[:500])),
                "replay_identical": replay(record, policy).to_dict() == record}
    return figures


if __name__ == "__main__":
    print(run())
