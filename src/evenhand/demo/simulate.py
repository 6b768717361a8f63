"""The pure core of the demo: run the company for a year and return its tables.

No database here. Each phase draws from its own random stream (spawned from the seed), so the
same seed and end date always give the same company, and a change to one phase does not reshuffle
the others.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from evenhand.demo.activities import activity_table
from evenhand.demo.assign import assign
from evenhand.demo.catalog import CHANNELS, INDUSTRIES, REGIONS
from evenhand.demo.changes import ChangePlan, plan_changes
from evenhand.demo.complaints import complaint_table
from evenhand.demo.customers import customer_book
from evenhand.demo.deals import combine, lead_seeds, legacy_seeds, opportunity_tables, run_deals
from evenhand.demo.frame import Frame
from evenhand.demo.leads import Events, Leads, arrivals, attributes, behaviour, legacy_score
from evenhand.demo.org import Org, build_org
from evenhand.demo.orgtables import change_table, reference_tables, team_table, user_tables
from evenhand.demo.records import Table
from evenhand.demo.response import Response, respond
from evenhand.i18n import N_
from evenhand.leads import keys

Progress = Callable[[str, float], None]
# Progress labels: fixed English source text, so the caller can translate them.
PHASES = (N_("Simulating the organisation"), N_("Simulating leads"), N_("Simulating lead routing and responses"),
          N_("Simulating opportunities"), N_("Simulating customers"), N_("Simulating activities"))


@dataclass(frozen=True)
class World:
    frame: Frame
    plan: ChangePlan
    org: Org
    tables: list[Table]  # in insertion order
    team_supervisors: list[tuple[int, int]]  # (team id, user id), set once users exist
    fabricated_notes: np.ndarray  # activity ids of the CRM notes that write up contacts never made


def simulate(seed: int, end: date, *, scale: float = 1.0, progress: Progress | None = None) -> World:
    report = progress or (lambda _label, _done: None)
    frame = Frame.build(end, scale)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(PHASES) + 1)]
    plan = plan_changes(frame)
    report(PHASES[0], 0.0)
    org = build_org(random.Random(seed), rngs[0], frame)
    tables = [*reference_tables(frame), team_table(org, frame), *user_tables(org, frame, rngs[6]),
              change_table(plan)]
    report(PHASES[1], 1 / 6)
    leads, events = _leads(frame, plan, rngs[1], random.Random(seed + 1))
    report(PHASES[2], 2 / 6)
    asg = assign(leads, org, frame, rngs[2])
    resp = respond(leads, asg, org, plan, frame, rngs[2])
    tables += [_lead_table(leads, asg.assigned_at, resp), _event_table(events), _sorted(resp.notifications)]
    report(PHASES[3], 3 / 6)
    seeds = combine(legacy_seeds(org, frame, rngs[3], random.Random(seed + 2)),
                    lead_seeds(leads, resp.converted, resp.decided_at, resp.owner, org))
    deals = run_deals(seeds, org, frame, rngs[3])
    report(PHASES[4], 4 / 6)
    book = customer_book(deals, org, frame, rngs[4])
    opps, stages = opportunity_tables(deals, book.account_of_deal, org, frame)
    tables += [book.accounts, opps, stages, book.contracts, book.payments, book.surveys,
               complaint_table(book, deals, org, frame, seed)]
    report(PHASES[5], 5 / 6)
    activities = activity_table(leads, resp, deals, org, frame, rngs[5])
    tables.append(activities.table)
    report(PHASES[5], 1.0)
    return World(frame, plan, org, tables, [(t.id, t.supervisor_id) for t in org.teams], activities.fabricated)


def _leads(frame: Frame, plan: ChangePlan, rng: np.random.Generator, rnd: random.Random) -> tuple[Leads, Events]:
    created, channel = arrivals(frame, plan, rng)
    leads = attributes(created, channel, rng, rnd)
    events = behaviour(leads, frame, rng)
    return replace(leads, score=legacy_score(leads, events)), events


def _lead_table(leads: Leads, assigned_at: np.ndarray, resp: Response) -> Table:
    n = len(leads)
    ids = np.arange(1, n + 1)
    codes = [c.code for c in CHANNELS]
    source = [codes[c] for c in leads.channel.tolist()]
    return Table("leads", {
        "id": ids, "source": source,
        "external_id": [f"{s}-{i:07d}" for s, i in zip(source, ids.tolist(), strict=True)],
        "company": leads.company, "contact_name": leads.contact, "email": leads.email, "phone": leads.phone,
        "email_key": [keys.email_key(e) for e in leads.email], "phone_key": [keys.phone_key(p) for p in leads.phone],
        "company_key": [keys.company_key(c) for c in leads.company],
        "title": leads.title, "industry": [INDUSTRIES[i].name for i in leads.industry.tolist()],
        "region": [REGIONS[r].code for r in leads.region.tolist()], "company_size": leads.size,
        "product_line_id": leads.product + 1, "status": resp.status,
        "owner_id": [o or None for o in resp.owner.tolist()], "score": leads.score,
        "assigned_at": assigned_at, "first_response_at": resp.first_response, "closed_at": resp.decided_at,
        "created_at": leads.created,
    }, ("assigned_at", "first_response_at", "closed_at", "created_at"))


def _event_table(events: Events) -> Table:
    order = np.argsort(events.at, kind="stable")
    dwell = events.dwell[order]
    return Table("behaviour_events", {
        "id": np.arange(1, len(order) + 1), "lead_id": events.lead[order] + 1, "kind": events.kind[order].tolist(),
        "occurred_at": events.at[order], "dwell_seconds": [None if np.isnan(d) else int(d) for d in dwell.tolist()],
        "detail": [events.detail[i] for i in order.tolist()],
    }, ("occurred_at",))


def _sorted(notifications: Table) -> Table:
    order = np.argsort(np.asarray(notifications.columns["sent_at"]), kind="stable")
    table = notifications.take(order)
    table.columns = {"id": np.arange(1, len(order) + 1), **table.columns}
    return table
