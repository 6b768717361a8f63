"""Who may take a lead right now: pool membership, then availability, each failure a reason code.

Order of the checks (the first failure is the verdict's code, later ones go to ``also``):
membership (``not_in_pool``, ``no_key_account_grant``) — a non-member's availability is not examined —
then ``departed``, ``inactive``, ``on_leave``, ``offline``/``away``, ``outside_working_hours``,
``at_open_capacity``, ``at_daily_cap``, ``at_weekly_cap`` and, on the weighted track only, the per-rep
high-value caps. Departure, inactivity and leave are never configurable.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from evenhand.models import KEY_ACCOUNT_GRANT
from evenhand.routing.policy import CompiledPool, RoutingPolicy
from evenhand.routing.values import Hours, LeadSnapshot, RepState, Track, as_utc

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Reason = tuple[str, dict[str, Any]]


def screen(rep: RepState, lead: LeadSnapshot, pool: CompiledPool, policy: RoutingPolicy, track: Track,
           now: datetime) -> list[Reason]:
    """Every reason the rep cannot take the lead, in precedence order; empty when the rep is a candidate."""
    outside = membership(rep, lead, pool)
    if outside:
        return outside
    local = local_time(now, rep.timezone)
    reasons = [*_standing(rep, local.date()), *_presence(rep, policy, local), *_capacity(rep, policy)]
    if track == "weighted":
        reasons += _high_value_caps(rep, policy)
    return reasons


def membership(rep: RepState, lead: LeadSnapshot, pool: CompiledPool) -> list[Reason]:
    for criterion, allowed, listed in pool.lists:
        if not _meets(rep, criterion, allowed):
            return [("not_in_pool", {"criterion": criterion, "wanted": listed})]
    for criterion in pool.match_lead:
        wanted = _lead_value(lead, criterion)
        if wanted is not None and wanted not in _rep_values(rep, criterion):
            return [("not_in_pool", {"criterion": criterion, "wanted": [wanted]})]
    if pool.spec.key_account and KEY_ACCOUNT_GRANT not in rep.grants:
        return [("no_key_account_grant", {})]
    return []


def membership_key(lead: LeadSnapshot, pool: CompiledPool) -> tuple[str | None, ...]:
    """What of the lead ``membership`` reads for this pool: leads with the same key have the same members."""
    return tuple(_lead_value(lead, criterion) for criterion in pool.match_lead)


_ATTRIBUTE = {"teams": "team", "departments": "department", "regions": "region", "levels": "level",
              "users": "username"}


def _meets(rep: RepState, criterion: str, allowed: frozenset[str]) -> bool:
    if criterion in ("skills", "product_lines"):
        return not allowed.isdisjoint(getattr(rep, criterion))
    return getattr(rep, _ATTRIBUTE[criterion]) in allowed


def _lead_value(lead: LeadSnapshot, criterion: str) -> str | None:
    value = {"region": lead.region, "product_line": lead.product_line, "industry": lead.industry}[criterion]
    return value if value and value.strip() else None


def _rep_values(rep: RepState, criterion: str) -> tuple[str | None, ...]:
    return {"region": (rep.region,), "product_line": rep.product_lines, "industry": rep.skills}[criterion]


def _standing(rep: RepState, today: date) -> list[Reason]:
    """``left_on`` is the first day the rep no longer works; leave days are inclusive, both local."""
    reasons: list[Reason] = []
    if rep.left_on is not None and rep.left_on <= today:
        reasons.append(("departed", {"left_on": rep.left_on.isoformat()}))
    if not rep.active:
        reasons.append(("inactive", {}))
    leave = next(((a, b) for a, b in rep.leaves if a <= today <= b), None)
    if leave is not None:
        reasons.append(("on_leave", {"from": leave[0].isoformat(), "to": leave[1].isoformat()}))
    return reasons


def _presence(rep: RepState, policy: RoutingPolicy, local: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    since = None if rep.presence_since is None else as_utc(rep.presence_since).isoformat()
    if rep.presence == "away" and not policy.availability.away_counts:
        reasons.append(("away", {"since": since}))
    elif rep.presence not in ("online", "away"):
        reasons.append(("offline", {"since": since}))
    if policy.availability.working_hours and not in_working_hours(rep.working_hours, local):
        reasons.append(("outside_working_hours", {"local_time": local.strftime("%a %H:%M"),
                                                  "timezone": rep.timezone}))
    return reasons


def _capacity(rep: RepState, policy: RoutingPolicy) -> list[Reason]:
    weekly = rep.weekly_lead_cap if rep.weekly_lead_cap is not None else policy.availability.weekly_lead_cap
    checks = (("at_open_capacity", rep.open_leads, rep.max_open_leads), ("at_daily_cap", rep.leads_today,
              rep.daily_lead_cap), ("at_weekly_cap", rep.leads_this_week, weekly))
    return [(code, {"count": count, "cap": cap}) for code, count, cap in checks if cap is not None and count >= cap]


def _high_value_caps(rep: RepState, policy: RoutingPolicy) -> list[Reason]:
    w = policy.weighted
    checks = (("at_high_value_daily_cap", rep.high_value_today, w.max_per_day),
              ("at_high_value_weekly_cap", rep.high_value_this_week, w.max_per_week))
    return [(code, {"count": count, "cap": cap}) for code, count, cap in checks if cap is not None and count >= cap]


# --- time ------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def local_time(now: datetime, zone: str) -> datetime:
    """``now`` on the rep's wall clock; memoised because a pool's reps mostly share a zone."""
    return now.astimezone(ZoneInfo(zone))


@lru_cache(maxsize=1024)
def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def in_working_hours(hours: Hours, local: datetime) -> bool:
    """Inside an interval of today's, or inside the after-midnight part of an overnight interval of yesterday's.

    An empty schedule means none is kept: always inside. ``["22:00", "06:00"]`` on Monday covers Monday
    22:00 to Tuesday 06:00; ``["00:00", "00:00"]`` is the whole day.
    """
    if not hours:
        return True
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    for start, end in hours.get(DAYS[weekday], ()):
        s, e = _minutes(start), _minutes(end)
        if (s <= minute < e) if s < e else minute >= s:
            return True
    for start, end in hours.get(DAYS[weekday - 1], ()):
        s, e = _minutes(start), _minutes(end)
        if e <= s and minute < e:
            return True
    return False
