"""Activities as the communication tools capture them, plus the notes reps type into the CRM.

Every contact a rep makes becomes a call (telephony), a message (WeCom, or DingTalk for 渠道部),
an e-mail (Outlook), a meeting or an on-site visit check-in; calls that go unanswered are often
followed by a message, answered calls and meetings are often written up in a CRM note. A follow-up
the rep only pretended to make leaves a CRM note and nothing else.

A note keeps its text in ``body`` (and, as before, in ``subject``) and declares the contact it writes up
(``declared_type``): the call, meeting, visit or message it follows. A fabricated follow-up declares the
call it pretends to. Which notes are fabricated is the simulation's ground truth (``fabricated``), kept out
of the written table and handed to whoever measures the honesty checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.catalog import EMAIL_SUBJECTS, NOTE_TEXTS
from evenhand.demo.deals import Deals
from evenhand.demo.frame import Frame
from evenhand.demo.leads import Leads
from evenhand.demo.org import Org, handover
from evenhand.demo.records import Table
from evenhand.demo.response import Response
from evenhand.demo.worktime import HOUR, WORK_LEN

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
KINDS = np.array(["call", "message", "email", "meeting", "visit"])
MEETINGS = ("需求沟通会", "方案演示会", "商务洽谈")
VISITS = ("上门拜访", "现场调研")
SUBJECTS = (*NOTE_TEXTS, *EMAIL_SUBJECTS, *MEETINGS, *VISITS)
NOTE0, MAIL0, MEET0, VISIT0 = 0, len(NOTE_TEXTS), len(NOTE_TEXTS) + len(EMAIL_SUBJECTS), len(SUBJECTS) - 2
# kind mix per opportunity stage: call, message, email, meeting, visit
STAGE_MIX = np.array([[0.45, 0.25, 0.2, 0.1, 0.0], [0.3, 0.2, 0.15, 0.25, 0.1],
                      [0.25, 0.15, 0.3, 0.2, 0.1], [0.35, 0.2, 0.25, 0.1, 0.1]])
STAGE_TOUCHES = np.array([3.0, 4.0, 4.0, 4.0])
COLUMNS = ("kind", "direction", "source", "rep", "lead", "opp", "at", "duration", "answered", "replied",
           "attachments", "subject", "recorded", "declared", "fabricated")


@dataclass(frozen=True)
class ActivityRows:
    """The activities table and the ids of its notes that write up contacts never made."""

    table: Table
    fabricated: NDArray[np.int64]


@dataclass(frozen=True)
class Contacts:
    """Contacts before their captured traces are worked out: who, about what, when, by which means."""

    rep: I64
    lead: I64  # lead id, 0 for none
    opp: I64  # opportunity id, 0 for none
    at: I64
    kind: NDArray[np.str_]
    intent: F64


def activity_table(leads: Leads, resp: Response, deals: Deals, org: Org, frame: Frame,
                   rng: np.random.Generator) -> ActivityRows:
    t = resp.touches
    real, fake = ~t.fabricated, t.fabricated
    first = t.step == 0
    kinds = np.where(rng.random(len(t.at)) < np.where(first, 0.8, 0.6), "call",
                     np.where(rng.random(len(t.at)) < 0.75, "message", "email"))
    touch = Contacts(t.rep[real], t.lead[real] + 1, np.zeros(int(real.sum()), dtype=np.int64), t.at[real],
                     kinds[real], leads.intent[t.lead[real]])
    parts = [*_traces(touch, org, frame, rng), _intro_emails(touch, first[real], frame, rng),
             _fake_notes(t.rep[fake], t.lead[fake] + 1, t.at[fake], rng),
             *_traces(_nurture(leads, resp, frame, rng), org, frame, rng),
             *_traces(_deal_contacts(deals, org, frame, rng), org, frame, rng)]
    return _table(parts, org, frame)


def _traces(c: Contacts, org: Org, frame: Frame, rng: np.random.Generator) -> list[dict[str, NDArray]]:
    n, cal = len(c.at), frame.cal
    im = np.where(org.traits.dept[c.rep] == 2, "dingtalk", "wecom")
    call = c.kind == "call"
    answered = call & (rng.random(n) < np.clip(0.4 + 0.12 * c.intent, 0.1, 0.85))
    talk = np.clip(rng.lognormal(np.log(170), 0.75, n), 20, 3600).astype(np.int64)
    chase = call & ~answered & (rng.random(n) < 0.8)
    msg = (c.kind == "message") | chase
    msg_at = np.where(chase, c.at + rng.integers(60, 300, n), c.at)
    replied = msg & (rng.random(n) < np.clip(0.35 + 0.15 * c.intent, 0.05, 0.9))
    meet, visit = c.kind == "meeting", c.kind == "visit"
    length = np.where(meet, rng.integers(1800, 5400, n), rng.integers(3600, 7200, n))
    note_after = np.where(answered, c.at + talk, np.where(meet | visit, c.at + length, msg_at))
    noted = (answered & (rng.random(n) < 0.55)) | ((meet | visit) & (rng.random(n) < 0.7)) | \
        (replied & (rng.random(n) < 0.2))
    declared = np.where(answered, "call", np.where(meet, "meeting", np.where(visit, "visit", "message")))
    mail = c.kind == "email"
    return [
        _part(c, call, "call", "outbound", "telephony", duration=np.where(answered, talk, 0),
              answered=answered.astype(np.int8), recorded=answered),
        _part(c, msg, "message", "outbound", im, at=msg_at, replied=replied.astype(np.int8)),
        _part(c, replied, "message", "inbound", im, at=cal.add(msg_at, rng.uniform(300, 4 * HOUR, n))),
        _part(c, mail, "email", "outbound", "outlook", attachments=rng.integers(0, 3, n),
              subject=MAIL0 + rng.integers(0, len(EMAIL_SUBJECTS), n)),
        _part(c, meet, "meeting", "outbound", "outlook", duration=length,
              subject=MEET0 + rng.integers(0, len(MEETINGS), n)),
        _part(c, visit, "visit", "outbound", im, duration=length, subject=VISIT0 + rng.integers(0, 2, n)),
        _part(c, noted, "note", "internal", "crm", at=note_after + rng.integers(300, 1800, n),
              subject=NOTE0 + rng.integers(0, len(NOTE_TEXTS), n), declared=declared),
    ]


def _intro_emails(c: Contacts, first: NDArray[np.bool_], frame: Frame, rng: np.random.Generator) -> dict[str, NDArray]:
    """After the first contact, about half the reps send the product brochure."""
    n = len(c.at)
    send = first & (rng.random(n) < 0.5)
    at = frame.cal.add(c.at, rng.uniform(600, 3600, n))
    return _part(c, send, "email", "outbound", "outlook", at=at, attachments=1 + rng.integers(0, 2, n),
                 subject=MAIL0 + rng.integers(0, 2, n))


def _fake_notes(rep: I64, lead: I64, at: I64, rng: np.random.Generator) -> dict[str, NDArray]:
    n = len(at)
    c = Contacts(rep, lead, np.zeros(n, dtype=np.int64), at, np.full(n, "note"), np.zeros(n))
    text = np.where(rng.random(n) < 0.7, 0, NOTE0 + rng.integers(0, 3, n))
    return _part(c, np.ones(n, dtype=bool), "note", "internal", "crm", subject=text, declared=np.full(n, "call"),
                 fabricated=np.ones(n, dtype=bool))


def _nurture(leads: Leads, resp: Response, frame: Frame, rng: np.random.Generator) -> Contacts:
    """Occasional further contacts with a lead between the follow-ups and the decision."""
    t = resp.touches
    last = np.full(len(leads), -1)
    np.maximum.at(last, t.lead, t.at)
    idx = np.flatnonzero(last >= 0)
    count = rng.poisson(1.3, len(idx))
    lead = np.repeat(idx, count)
    gap = rng.uniform(2, 12, len(lead)) * WORK_LEN
    at = frame.cal.add(last[lead], gap)
    stop = np.where(resp.decided_at[lead] >= 0, resp.decided_at[lead], frame.now)
    keep = at < stop
    lead, at = lead[keep], at[keep]
    kind = KINDS[rng.choice(3, len(lead), p=[0.35, 0.15, 0.5])]
    return Contacts(resp.owner[lead], lead + 1, np.zeros(len(lead), dtype=np.int64), at, kind,
                    leads.intent[lead])


def _deal_contacts(deals: Deals, org: Org, frame: Frame, rng: np.random.Generator) -> Contacts:
    """Contacts while an opportunity sits in each stage, more of them for 大客户部 deals."""
    n = len(deals.times)
    pace = np.where(org.traits.dept[deals.seeds.owner] == 0, 1.5, 1.0)
    entered = np.arange(4)[None, :] <= deals.last[:, None]
    counts = rng.poisson(STAGE_TOUCHES[None, :] * pace[:, None]) * entered
    opp = np.repeat(np.repeat(np.arange(n), 4), counts.ravel())
    stage = np.repeat(np.tile(np.arange(4), n), counts.ravel())
    lo, hi = deals.times[opp, stage], deals.times[opp, stage + 1]
    at = frame.cal.add(lo, rng.uniform(0, 1, len(opp)) * np.maximum(frame.cal.work_at(hi) - frame.cal.work_at(lo), 0))
    u = rng.random(len(opp))[:, None]
    kind = KINDS[(u > np.cumsum(STAGE_MIX, axis=1)[stage]).sum(axis=1)]
    rep = handover(deals.seeds.owner[opp], at, org.traits)
    return Contacts(rep, deals.seeds.lead_id[opp], opp + 1, at, kind, deals.seeds.leads.intent[opp])


def _part(c: Contacts, mask: NDArray[np.bool_], kind: str, direction: str, source: str | NDArray[np.str_],
          **cols: NDArray) -> dict[str, NDArray]:
    n = int(mask.sum())
    out = {"kind": np.full(n, kind), "direction": np.full(n, direction),
           "source": np.broadcast_to(source, mask.shape)[mask], "rep": c.rep[mask], "lead": c.lead[mask],
           "opp": c.opp[mask], "at": c.at[mask], "duration": np.full(n, -1), "answered": np.full(n, -1, np.int8),
           "replied": np.full(n, -1, np.int8), "attachments": np.zeros(n, np.int64), "subject": np.full(n, -1),
           "recorded": np.zeros(n, dtype=bool), "declared": np.full(n, ""), "fabricated": np.zeros(n, dtype=bool)}
    for key, value in cols.items():
        out[key] = np.broadcast_to(value, mask.shape)[mask]
    return out


def _table(parts: list[dict[str, NDArray]], org: Org, frame: Frame) -> ActivityRows:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}
    keep = cols["at"] <= frame.now
    order = np.argsort(cols["at"][keep], kind="stable")
    cols = {k: v[keep][order] for k, v in cols.items()}
    cols["rep"] = handover(cols["rep"], cols["at"], org.traits)
    n = len(cols["at"])
    ids = np.arange(1, n + 1)
    day = cols["at"].astype("datetime64[s]").astype("datetime64[M]").astype(str)
    source = cols["source"].tolist()
    notes = [SUBJECTS[s] if s >= 0 and k == "note" else None
             for s, k in zip(cols["subject"].tolist(), cols["kind"].tolist(), strict=True)]
    table = Table("activities", {
        "id": ids, "type": cols["kind"].tolist(), "direction": cols["direction"].tolist(), "source_system": source,
        "external_id": [f"{s}-{i:09d}" for s, i in zip(source, ids.tolist(), strict=True)],
        "rep_id": cols["rep"], "lead_id": _nullable(cols["lead"]), "opportunity_id": _nullable(cols["opp"]),
        "occurred_at": cols["at"], "duration_seconds": _nullable(cols["duration"], -1),
        "answered": _flags(cols["answered"]), "replied": _flags(cols["replied"]),
        "attachment_count": cols["attachments"],
        "subject": [SUBJECTS[s] if s >= 0 else None for s in cols["subject"].tolist()],
        "recording_ref": [f"recordings/{m}/call-{i:09d}.mp3" if r else None
                          for m, i, r in zip(day.tolist(), ids.tolist(), cols["recorded"].tolist(), strict=True)],
        "body": notes, "declared_type": [d or None for d in cols["declared"].tolist()],
    }, ("occurred_at",))
    return ActivityRows(table, ids[cols["fabricated"]])


def _nullable(values: I64, none: int = 0) -> list[int | None]:
    return [None if v == none else v for v in values.tolist()]


def _flags(values: NDArray[np.int8]) -> list[bool | None]:
    return [None if v < 0 else bool(v) for v in values.tolist()]
