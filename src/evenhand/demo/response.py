"""What reps do with the leads they are given, and whether the leads convert.

A rep acts on a lead when their phone shows the assignment (push, later SMS) — after a delay set
by their own speed and how busy the day is — or, if nothing arrived, when they next look at the
CRM lead list (an afternoon glance, else the next morning). The CRM reminds them of two
follow-ups the same way; a missed reminder is often a missed follow-up. The lead's chance to
convert falls steeply with the hours until the first response and with missed follow-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.assign import Assignment
from evenhand.demo.changes import ChangePlan
from evenhand.demo.delivery import Sent, deliver, notification_table
from evenhand.demo.frame import Frame
from evenhand.demo.leads import Leads
from evenhand.demo.org import Org, Traits, handover
from evenhand.demo.records import Table, concat
from evenhand.demo.worktime import DAY, HOUR, WORK_LEN

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
BASE_LOGIT = -2.1  # buying intent -> conversion odds with a prompt, diligent rep
DECAY_HOURS = 3.5
FOLLOW_UP_DAYS = (1, 3)
LATE, MISSED = 0.65, 0.35  # conversion factors of a late and of a missed follow-up
REMEMBER = 0.35  # chance of following up without the reminder


@dataclass(frozen=True)
class Touches:
    """Planned contacts with a lead: step 0 is the first response, 1 and 2 the follow-ups."""

    lead: I64  # lead index
    rep: I64
    at: I64
    step: I64
    fabricated: NDArray[np.bool_]  # logged in the CRM but never made


@dataclass(frozen=True)
class Response:
    first_response: I64  # per lead, -1 when none by the snapshot
    converted: NDArray[np.bool_]  # per lead, decided by the snapshot
    decided_at: I64  # conversion or disqualification instant; -1 while open
    status: list[str]
    owner: I64  # final owner after hand-overs
    touches: Touches
    notifications: Table


@dataclass(frozen=True)
class _Worked:
    """Per assigned lead (``idx`` into the leads): who worked it, and what happened."""

    idx: I64
    rep: I64
    first: I64
    steps: list[tuple[I64, NDArray[np.bool_]]]  # follow-up instants (-1 when missed) and fabrication
    converted: NDArray[np.bool_]
    decided: I64


@dataclass(frozen=True)
class _Ctx:
    leads: Leads
    org: Org
    plan: ChangePlan
    frame: Frame
    rng: np.random.Generator


def respond(leads: Leads, asg: Assignment, org: Org, plan: ChangePlan, frame: Frame,
            rng: np.random.Generator) -> Response:
    ctx = _Ctx(leads, org, plan, frame, rng)
    idx = np.flatnonzero(asg.owner > 0)
    rep, start = asg.owner[idx], asg.assigned_at[idx]
    first, assigned_note = _first_response(ctx, idx, rep, start)
    steps, notices, factor = [], [assigned_note], np.ones(len(idx))
    for k, days in enumerate(FOLLOW_UP_DAYS, start=1):
        at, fab, f, reminder = _follow_up(ctx, idx, rep, first, k, days)
        steps.append((at, fab))
        notices.append(reminder)
        factor *= f
    hours = (first - start) / HOUR
    p = _conversion(ctx, idx, rep, hours, factor)
    converted = rng.random(len(idx)) < p
    last = np.maximum.reduce([first, *[np.where(at >= 0, at, first) for at, _ in steps]])
    wait = np.where(converted, rng.uniform(1, 8, len(idx)), rng.uniform(2, 12, len(idx))) * WORK_LEN
    worked = _Worked(idx, rep, first, steps, converted, frame.cal.add(last, wait))
    return _assemble(ctx, asg, worked, concat("notifications", notices))


def _first_response(ctx: _Ctx, idx: I64, rep: I64, start: I64) -> tuple[I64, Table]:
    cal, t, rng = ctx.frame.cal, ctx.org.traits, ctx.rng
    sent = Sent("lead_assigned", idx + 1, 0, rep, start + rng.integers(1, 4, len(idx)))
    d = deliver(sent, t, ctx.plan, rng)
    noticed = np.where(d.seen >= 0, d.seen, _crm_look(ctx, start, rep))
    delay = t.speed[rep] * rng.lognormal(0, 0.6, len(idx)) * _busyness(rep, start, ctx)
    first = cal.add(cal.next_open(noticed), delay)
    acked = np.where(d.push_ok, first, -1)
    return first, notification_table(sent, d, acked, t, ctx.frame.now)


def _follow_up(ctx: _Ctx, idx: I64, rep: I64, first: I64, step: int,
               days: int) -> tuple[I64, NDArray[np.bool_], F64, Table]:
    cal, t, rng, n = ctx.frame.cal, ctx.org.traits, ctx.rng, len(idx)
    due = cal.next_open(cal.day_start(first) + days * DAY + int(9.5 * HOUR))
    rep = handover(rep, due, t)
    sent = Sent("follow_up_due", idx + 1, step, rep, due)
    d = deliver(sent, t, ctx.plan, rng)
    prompt = cal.add(cal.next_open(d.seen), t.speed[rep] * 3 * rng.lognormal(0, 0.7, n))
    remembered = rng.random(n) < REMEMBER
    late = cal.add(due, rng.uniform(1, 2.5, n) * WORK_LEN)
    at = np.where(d.seen >= 0, prompt, np.where(remembered, late, -1))
    fabricated = (at >= 0) & (rng.random(n) < t.fabricate[rep])
    factor = np.where(fabricated | (at < 0), MISSED, np.where(d.seen >= 0, 1.0, LATE))
    reminder = notification_table(sent, d, np.where(d.push_ok, at, -1), t, ctx.frame.now)
    return at, fabricated, factor, reminder


def _crm_look(ctx: _Ctx, t: I64, rep: I64) -> I64:
    """When a rep next opens the CRM lead list: an afternoon glance on some days, else next morning."""
    cal, rng, n = ctx.frame.cal, ctx.rng, len(t)
    day0 = cal.day_start(t)
    afternoon = day0 + rng.uniform(14 * HOUR, 15.5 * HOUR, n).astype(np.int64)
    same_day = cal.is_working_day(t) & (t < afternoon) & (rng.random(n) < ctx.org.traits.check_pm[rep])
    morning = cal.next_open(day0 + DAY) + rng.uniform(0, HOUR, n).astype(np.int64)
    return np.where(same_day, afternoon, morning)


def _busyness(rep: I64, start: I64, ctx: _Ctx) -> F64:
    key = rep * 100_000 + ctx.frame.cal.day_index(start)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return 1.0 + 0.08 * (counts[inverse] - 1)


def _conversion(ctx: _Ctx, idx: I64, rep: I64, hours: F64, follow_ups: F64) -> F64:
    base = 1 / (1 + np.exp(-(BASE_LOGIT + 0.9 * ctx.leads.intent[idx])))
    speed = 0.12 + 0.88 * np.exp(-hours / DECAY_HOURS)
    t = ctx.org.traits
    promise = 1 + 3 * t.discount_mean[rep]  # talking price early keeps prospects at the table
    return np.clip(base * speed * follow_ups * t.skill[rep] * promise, 0, 0.95)


def _assemble(ctx: _Ctx, asg: Assignment, w: _Worked, notifications: Table) -> Response:
    n, now, t = len(ctx.leads), ctx.frame.now, ctx.org.traits
    full_first, full_conv, full_dec = np.full(n, -1), np.zeros(n, dtype=bool), np.full(n, -1)
    full_first[w.idx] = np.where(w.first <= now, w.first, -1)
    done = (w.first <= now) & (w.decided <= now)
    full_dec[w.idx] = np.where(done, w.decided, -1)
    full_conv[w.idx] = w.converted & done
    status = np.full(n, "new", dtype=object)
    last_step = w.steps[-1][0]
    status[w.idx] = np.select(
        [w.first > now, done & w.converted, done, w.converted & (last_step >= 0) & (last_step <= now)],
        ["assigned", "converted", "disqualified", "qualified"], "contacted")
    owner = asg.owner.copy()
    owner[w.idx] = handover(w.rep, np.where(full_dec[w.idx] >= 0, full_dec[w.idx], now), t)
    return Response(full_first, full_conv, full_dec, status.tolist(), owner, _touches(w, now, t), notifications)


def _touches(w: _Worked, now: int, traits: Traits) -> Touches:
    ats = [w.first, *[at for at, _ in w.steps]]
    fabs = [np.zeros(len(w.idx), dtype=bool), *[fab for _, fab in w.steps]]
    at = np.concatenate(ats)
    keep = (at >= 0) & (at <= now)
    lead = np.tile(w.idx, len(ats))[keep]
    reps = handover(np.tile(w.rep, len(ats))[keep], at[keep], traits)
    step = np.repeat(np.arange(len(ats)), len(w.idx))[keep]
    return Touches(lead, reps, at[keep], step, np.concatenate(fabs)[keep])
