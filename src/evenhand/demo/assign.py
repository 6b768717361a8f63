"""How leads were handed out before evenhand: a supervisor's judgement, not a rule.

Big companies go to 大客户部, partner leads to 渠道部, the rest to 中小企业部, each to the team of
the lead's region. Inside the team the supervisor glances at the score the CRM shows: a lead that
looks good usually goes to one of the veterans they trust; ordinary leads are spread around, and
new hires are handed more of the leftovers. Nobody records why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.catalog import CHANNELS, DEPARTMENTS
from evenhand.demo.frame import Frame
from evenhand.demo.leads import Leads
from evenhand.demo.org import Org
from evenhand.demo.worktime import HOUR

I64 = NDArray[np.int64]
LOOKS_GOOD = 70  # the score above which a supervisor keeps the lead for a favourite
FAVOURITE_SHARE = 0.8
KEY_ACCOUNT_SIZE = 300


@dataclass(frozen=True)
class Assignment:
    owner: I64  # user id; 0 when the lead was not assigned by the snapshot
    assigned_at: I64  # -1 when not assigned


def department_of(leads: Leads) -> I64:
    partner = next(i for i, c in enumerate(CHANNELS) if c.code == "partner")
    dept = {d.code: i for i, d in enumerate(DEPARTMENTS)}
    return np.where(leads.channel == partner, dept["channel"],
                    np.where(leads.size >= KEY_ACCOUNT_SIZE, dept["key_accounts"], dept["smb"]))


def assign(leads: Leads, org: Org, frame: Frame, rng: np.random.Generator) -> Assignment:
    triage = rng.lognormal(np.log(0.2 * HOUR), 0.6, len(leads))
    assigned_at = frame.cal.add(frame.cal.next_open(leads.created), triage)
    days = frame.cal.day_index(assigned_at).tolist()
    teams = {(t.department, t.region): t.id for t in org.teams}
    team_of = [teams[(d, r)] for d, r in zip(department_of(leads).tolist(), leads.region.tolist(), strict=True)]
    pick = _Picker(org)
    u = rng.random((len(leads), 2)).tolist()
    good = (leads.score >= LOOKS_GOOD).tolist()
    owner = [pick(team, day, g, uu) for team, day, g, uu in zip(team_of, days, good, u, strict=True)]
    owner_arr = np.array(owner, dtype=np.int64)
    done = assigned_at <= frame.now
    return Assignment(np.where(done, owner_arr, 0), np.where(done, assigned_at, -1))


class _Picker:
    """The supervisor's choice for one lead, given who is at work that day."""

    def __init__(self, org: Org) -> None:
        t = org.traits
        self.available = org.available.tolist()
        self.team_reps = {team.id: np.flatnonzero(t.is_rep & (t.team == team.id)).tolist() for team in org.teams}
        self.dept_reps = {team.id: np.flatnonzero(t.is_rep & (t.dept == team.department)).tolist()
                          for team in org.teams}
        self.favourite = t.favourite.tolist()
        self.good_weight = np.select([t.newcomer, t.senior], [0.15, 1.0], 0.6).tolist()
        self.plain_weight = np.select([t.favourite, t.newcomer, t.senior], [0.5, 1.4, 1.0], 1.1).tolist()

    def __call__(self, team: int, day: int, looks_good: bool, u: list[float]) -> int:
        here = [r for r in self.team_reps[team] if self.available[r][day]]
        if not here:
            here = [r for r in self.dept_reps[team] if self.available[r][day]] or self.team_reps[team]
        if looks_good:
            favourites = [r for r in here if self.favourite[r]]
            if favourites and u[0] < FAVOURITE_SHARE:
                return _weighted(favourites, [1.0] * len(favourites), u[1])
            return _weighted(here, [self.good_weight[r] for r in here], u[1])
        return _weighted(here, [self.plain_weight[r] for r in here], u[1])


def _weighted(items: list[int], weights: list[float], u: float) -> int:
    total = sum(weights)
    acc = 0.0
    for item, w in zip(items, weights, strict=True):
        acc += w
        if u * total < acc:
            return item
    return items[-1]
