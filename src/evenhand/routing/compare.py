"""What-if replay, the figures (R4.7): two replays of the same leads side by side, per rep and per team.

Expected conversions are estimated, not observed: each lead a rep would receive counts with the rep's
historical conversion rate for leads of its class (high-value or ordinary, by one fixed threshold for
both sides). A rep's rate is shrunk toward their team's with a Beta prior worth ``PRIOR_LEADS`` closed
leads, the team's toward the whole organisation's: a rep with no history gets the team's rate, never
zero, and one lucky lead does not make a 100% closer.

    team rate  = (team conversions + k × org rate)  / (team closed leads + k)
    rep rate   = (rep conversions  + k × team rate) / (rep closed leads  + k)
    expected   = Σ over the leads the rep receives of rep rate(class of the lead)

Fairness is measured against each policy's own intent (``fairness``): chi-square of actual against
expected leads per team, and the Gini of lead value (sum of scores) over the team's reps who were
available at least once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evenhand.routing.fairness import ChiSquare, gini, team_tests
from evenhand.routing.rerun import Rerun

PRIOR_LEADS = 20.0
Record = tuple[int, bool, int, int]  # rep id, high-value class, closed leads, of which converted


@dataclass(frozen=True)
class Rates:
    """Shrunk conversion rates per (rep, class), with the team's and organisation's behind them."""

    rep: Mapping[tuple[int, bool], float]
    team: Mapping[tuple[str | None, bool], float]
    org: Mapping[bool, float]
    team_of: Mapping[int, str | None]

    def of(self, rep_id: int, high: bool) -> float:
        found = self.rep.get((rep_id, high))
        if found is not None:
            return found
        team = self.team.get((self.team_of.get(rep_id), high))
        return team if team is not None else self.org.get(high, 0.0)


def conversion_rates(records: Iterable[Record], team_of: Mapping[int, str | None], *,
                     prior: float = PRIOR_LEADS) -> Rates:
    reps: dict[tuple[int, bool], list[int]] = defaultdict(lambda: [0, 0])
    for rep, high, closed, converted in records:
        reps[(rep, high)][0] += closed
        reps[(rep, high)][1] += converted
    org = {high: _ratio(sum(v[1] for (_, h), v in reps.items() if h == high),
                        sum(v[0] for (_, h), v in reps.items() if h == high)) for high in (False, True)}
    teams: dict[tuple[str | None, bool], list[int]] = defaultdict(lambda: [0, 0])
    for (rep, high), (closed, converted) in reps.items():
        teams[(team_of.get(rep), high)][0] += closed
        teams[(team_of.get(rep), high)][1] += converted
    team = {key: (conv + prior * org[key[1]]) / (closed + prior) for key, (closed, conv) in teams.items()}
    rep_rates = {key: (conv + prior * team[(team_of.get(key[0]), key[1])]) / (closed + prior)
                 for key, (closed, conv) in reps.items()}
    return Rates(rep_rates, team, org, team_of)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class RepFigures:
    leads: int = 0
    high_value: int = 0
    value: float = 0.0
    expected_conversions: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"leads": self.leads, "high_value": self.high_value,
                "expected_conversions": round(self.expected_conversions, 2)}


def per_rep(run: Rerun, rates: Rates, threshold: int) -> dict[int, RepFigures]:
    """``threshold`` is one yardstick for both sides: high-value means a score at or above it."""
    out: dict[int, RepFigures] = defaultdict(RepFigures)
    for a in run.assignments:
        high = a.score >= threshold
        row = out[a.rep_id]
        row.leads += 1
        row.high_value += high
        row.value += a.score
        row.expected_conversions += rates.of(a.rep_id, high)
    return dict(out)


def side(run: Rerun, figures: Mapping[int, RepFigures], team_of: Mapping[int, str | None]) -> dict[str, Any]:
    """One replay's totals and its fairness figures per team."""
    waited = [a.waited.total_seconds() for a in run.assignments if a.waited.total_seconds() > 0]
    tests = team_tests(run.tally.rows, team_of)
    teams = {}
    for team, test in tests.items():
        reps = [r for r in run.tally.rows if team_of.get(r) == team]
        teams[team or ""] = {"leads": sum(run.tally.rows[r].actual for r in reps), "chi_square": _chi(test),
                             "gini": round(gini(run.tally.rows[r].value for r in reps), 4)}
    return {"assigned": len(run.assignments), "held": len(run.held), "waited": len(waited),
            "mean_wait_hours": round(sum(waited) / len(waited) / 3600, 2) if waited else 0.0,
            "high_value": sum(f.high_value for f in figures.values()),
            "expected_conversions": round(sum(f.expected_conversions for f in figures.values()), 2),
            "gini": round(gini(row.value for row in run.tally.rows.values()), 4), "teams": teams}


def _chi(test: ChiSquare | None) -> dict[str, Any] | None:
    if test is None or not math.isfinite(test.statistic) or not math.isfinite(test.p_value):
        return None
    return {"statistic": round(test.statistic, 3), "dof": test.dof, "p_value": round(test.p_value, 4)}


def compare(current: Rerun, candidate: Rerun, *, rates: Rates, threshold: int, names: Mapping[int, str],
            team_of: Mapping[int, str | None], actual: Mapping[int, int]) -> dict[str, Any]:
    """Per rep (the current policy, the candidate, the difference; ``actual`` is who owns the leads today),
    per team, in total, and how many leads would change hands."""
    before, after = per_rep(current, rates, threshold), per_rep(candidate, rates, threshold)
    ids = sorted({*before, *after, *(r for r, n in actual.items() if n)},
                 key=lambda r: (team_of.get(r) or "", names.get(r, ""), r))
    empty = RepFigures()
    rows = [{"rep_id": r, "name": names.get(r, str(r)), "team": team_of.get(r) or "", "actual": actual.get(r, 0),
             "current": before.get(r, empty).to_dict(), "candidate": after.get(r, empty).to_dict(),
             "difference": _difference(before.get(r, empty), after.get(r, empty))} for r in ids]
    a, b = side(current, before, team_of), side(candidate, after, team_of)
    teams = [{"team": team, "current": a["teams"].get(team), "candidate": b["teams"].get(team)}
             for team in sorted({*a["teams"], *b["teams"]})]
    owners_a, owners_b = current.owners(), candidate.owners()
    moved = sum(1 for lead in {*owners_a, *owners_b} if owners_a.get(lead) != owners_b.get(lead))
    return {"reps": rows, "teams": teams,
            "current": {k: v for k, v in a.items() if k != "teams"},
            "candidate": {k: v for k, v in b.items() if k != "teams"},
            "difference": {"moved": moved, "held": b["held"] - a["held"],
                           "high_value": b["high_value"] - a["high_value"],
                           "expected_conversions": round(b["expected_conversions"] - a["expected_conversions"], 2),
                           "gini": round(b["gini"] - a["gini"], 4)}}


def _difference(before: RepFigures, after: RepFigures) -> dict[str, Any]:
    return {"leads": after.leads - before.leads, "high_value": after.high_value - before.high_value,
            "expected_conversions": round(after.expected_conversions - before.expected_conversions, 2)}
