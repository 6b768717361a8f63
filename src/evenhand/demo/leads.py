"""Leads arriving over the year: channel volumes, attributes, a hidden buying intent and the web trail.

Each lead carries a latent intent (how likely the company is to buy, given a good sales effort).
Attributes and behaviour are noisy signals of it; the stored ``score`` is the old attribute and
behaviour formula over those signals, so it predicts conversion only in part.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.catalog import (
    CHANNELS,
    INDUSTRIES,
    NURTURE_EMAILS,
    PAGES,
    PRODUCTS,
    REGION_SCORE,
    REGIONS,
    TITLES,
    WEBINARS,
    WHITEPAPERS,
)
from evenhand.demo.changes import ChangePlan
from evenhand.demo.frame import Frame
from evenhand.demo.names import company_name, person_name
from evenhand.demo.worktime import DAY, HOUR, day_number

I64 = NDArray[np.int64]
CH = {c.code: i for i, c in enumerate(CHANNELS)}
WEEKDAY_RATE = {"website": 36.0, "baidu_ads": 28.0, "webinar": 1.5, "trade_show": 0.0, "partner": 16.0,
                "referral": 8.0}
WEEKEND_FACTOR = {"website": 0.35, "baidu_ads": 0.4, "webinar": 0.3, "trade_show": 0.0, "partner": 0.08,
                  "referral": 0.1}
TRADE_SHOW_DAYS = (70, 100, 130, 160, 250, 285, 320, 345)  # days into the window
TRADE_SHOW_LEADS, WEBINAR_LEADS = 190, 65
DECISION_MAKERS = ("总经理", "CIO", "IT总监", "销售副总裁")


@dataclass(frozen=True)
class Leads:
    created: I64
    channel: I64
    region: I64
    industry: I64
    size: I64
    product: I64
    intent: NDArray[np.float64]
    score: I64
    company: list[str]
    contact: list[str]
    email: list[str]
    phone: list[str]
    title: list[str]

    def __len__(self) -> int:
        return len(self.created)


def subset(leads: Leads, idx: I64) -> Leads:
    """The leads at ``idx``, in that order."""
    pick = idx.tolist()
    values: dict[str, Any] = {}
    for f in fields(Leads):
        col = getattr(leads, f.name)
        values[f.name] = col[idx] if isinstance(col, np.ndarray) else [col[i] for i in pick]
    return Leads(**values)


def join(a: Leads, b: Leads) -> Leads:
    values: dict[str, Any] = {}
    for f in fields(Leads):
        x, y = getattr(a, f.name), getattr(b, f.name)
        values[f.name] = np.concatenate([x, y]) if isinstance(x, np.ndarray) else [*x, *y]
    return Leads(**values)


@dataclass(frozen=True)
class Events:
    lead: I64  # index into Leads
    kind: NDArray[np.str_]
    at: I64
    dwell: NDArray[np.float64]  # NaN where not a page view
    detail: list[str]


def arrivals(frame: Frame, plan: ChangePlan, rng: np.random.Generator) -> tuple[I64, I64]:
    """Creation instants and channels of every lead in the window, in time order."""
    days = np.arange((frame.end - frame.start).days + 1)
    noon = frame.start_ts + days * DAY + 12 * HOUR
    working = frame.cal.is_working_day(noon)
    weekday = (day_number(frame.start) + days + 3) % 7 < 5
    trend = 0.9 + 0.2 * days / len(days)
    rates = np.empty((len(days), len(CHANNELS)))
    for j, ch in enumerate(CHANNELS):
        factor = np.where(working, 1.0, np.where(weekday, 0.3, WEEKEND_FACTOR[ch.code]))
        rates[:, j] = WEEKDAY_RATE[ch.code] * factor * trend
        for eff in plan.effects:
            if eff.channel == ch.code:
                rates[:, j] *= np.where((noon >= eff.start) & (noon < eff.stop), eff.factor, 1.0)
    rates[:, CH["webinar"]] += _webinar_days(days, frame) * WEBINAR_LEADS
    rates[:, CH["trade_show"]] += _trade_show_imports(days, working)
    counts = rng.poisson(rates * frame.scale)
    day_of = np.repeat(np.tile(days, (len(CHANNELS), 1)).T.ravel(), counts.ravel())
    channel = np.repeat(np.tile(np.arange(len(CHANNELS)), len(days)), counts.ravel())
    created = frame.start_ts + day_of * DAY + _time_of_day(channel, rng)
    order = np.argsort(created, kind="stable")
    order = order[created[order] <= frame.now]
    return created[order], channel[order]


def _webinar_days(days: I64, frame: Frame) -> NDArray[np.float64]:
    weekday = (day_number(frame.start) + days + 3) % 7
    return ((weekday == 3) & ((days // 7) % 2 == 0)).astype(np.float64)  # every other Thursday


def _trade_show_imports(days: I64, working: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Badge scans from a show are imported over the five working days after it."""
    out = np.zeros(len(days))
    for show in TRADE_SHOW_DAYS:
        after = np.flatnonzero(working & (days > show * len(days) // 365))[:5]
        out[after] += TRADE_SHOW_LEADS / 5
    return out


def _time_of_day(channel: I64, rng: np.random.Generator) -> I64:
    n = len(channel)
    office = rng.uniform(9 * HOUR, 18 * HOUR, n)
    evening = rng.uniform(18 * HOUR, 23.5 * HOUR, n)
    web = np.isin(channel, [CH["website"], CH["baidu_ads"]])
    seconds = np.where(web & (rng.random(n) < 0.22), evening, office)
    seconds = np.where(channel == CH["webinar"], rng.uniform(16 * HOUR, 17.5 * HOUR, n), seconds)
    seconds = np.where(channel == CH["trade_show"], rng.uniform(10 * HOUR, 17 * HOUR, n), seconds)
    return seconds.astype(np.int64)


def attributes(created: I64, channel: I64, rng: np.random.Generator, rnd: random.Random) -> Leads:
    n = len(created)
    region = rng.choice(len(REGIONS), n, p=_norm([r.lead_weight for r in REGIONS]))
    industry = rng.choice(len(INDUSTRIES), n, p=_norm([i.weight for i in INDUSTRIES]))
    size_shift = np.array([c.size_shift for c in CHANNELS])[channel]
    size = np.clip(rng.lognormal(np.log(110) + size_shift, 1.25), 5, 60_000).astype(np.int64)
    product = rng.choice(len(PRODUCTS), n, p=_norm([p.weight for p in PRODUCTS]))
    intent = (rng.normal(0, 1, n) + np.array([c.intent_shift for c in CHANNELS])[channel]
              + np.array([i.intent_shift for i in INDUSTRIES])[industry] + 0.12 * np.log10(size / 100))
    people = _contacts(region, industry, rnd, rng)
    return Leads(created, channel, region, industry, size, product, intent, np.zeros(n, dtype=np.int64), *people)


def _contacts(region: I64, industry: I64, rnd: random.Random,
              rng: np.random.Generator) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    companies, contacts, emails = [], [], []
    for r, i in zip(region.tolist(), industry.tolist(), strict=True):
        company, slug = company_name(rnd, REGIONS[r].code, INDUSTRIES[i].name)
        person = person_name(rnd)
        companies.append(company)
        contacts.append(person.hanzi)
        emails.append(f"{person.pinyin}@{slug}.com.cn")
    prefixes = rng.choice([135, 136, 138, 139, 150, 158, 177, 186, 189], len(region))
    numbers = rng.integers(0, 100_000_000, len(region))
    phones = [f"{p}{x:08d}" for p, x in zip(prefixes.tolist(), numbers.tolist(), strict=True)]
    titles = [TITLES[k] for k in rng.integers(0, len(TITLES), len(region)).tolist()]
    return companies, contacts, emails, phones, titles


def behaviour(leads: Leads, frame: Frame, rng: np.random.Generator) -> Events:
    """The web trail before each lead came in, its form submission, and nurture e-mails after."""
    z, web = leads.intent, np.array([c.web_factor for c in CHANNELS])[leads.channel]
    pages = rng.poisson(2.6 * web * np.exp(0.35 * z))
    papers = rng.poisson(0.55 * web * np.exp(0.6 * z))
    webinar = (leads.channel == CH["webinar"]) | (rng.random(len(z)) < np.minimum(0.5, 0.04 * np.exp(0.6 * z)))
    forms = np.isin(leads.channel, [CH["website"], CH["baidu_ads"], CH["webinar"]]).astype(np.int64)
    opens = rng.poisson(1.2 * np.exp(0.3 * z))
    clicks = rng.binomial(opens, np.clip(0.25 + 0.1 * z, 0.02, 0.8))
    parts = [_trail(leads, pages, "page_view", rng), _trail(leads, papers, "whitepaper_download", rng),
             _trail(leads, webinar.astype(np.int64), "webinar", rng), _at_creation(leads, forms),
             _after(leads, opens, "email_open", rng), _after(leads, clicks, "email_click", rng)]
    lead = np.concatenate([p[0] for p in parts])
    at = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    keep = at <= frame.now
    lead, at, kind = lead[keep], at[keep], kind[keep]
    dwell = np.where(kind == "page_view", np.clip(rng.lognormal(np.log(55) + 0.35 * z[lead], 0.8), 3, 1800), np.nan)
    return Events(lead, kind, at, np.round(dwell).astype(np.float64), _details(kind, rng))


def _trail(leads: Leads, counts: I64, kind: str, rng: np.random.Generator) -> tuple[I64, I64, str]:
    lead = np.repeat(np.arange(len(leads)), counts)
    back = rng.uniform(60, 21 * DAY, len(lead)).astype(np.int64)
    return lead, leads.created[lead] - back, kind


def _at_creation(leads: Leads, counts: I64) -> tuple[I64, I64, str]:
    lead = np.repeat(np.arange(len(leads)), counts)
    return lead, leads.created[lead] - 5, "form_submit"


def _after(leads: Leads, counts: I64, kind: str, rng: np.random.Generator) -> tuple[I64, I64, str]:
    lead = np.repeat(np.arange(len(leads)), counts)
    return lead, leads.created[lead] + rng.uniform(DAY, 25 * DAY, len(lead)).astype(np.int64), kind


def _details(kind: NDArray[np.str_], rng: np.random.Generator) -> list[str]:
    pools = {"page_view": PAGES, "whitepaper_download": WHITEPAPERS, "webinar": WEBINARS,
             "form_submit": ("官网留资表单",), "email_open": NURTURE_EMAILS, "email_click": NURTURE_EMAILS}
    pick = rng.integers(0, 1_000_000, len(kind))
    return [pools[k][p % len(pools[k])] for k, p in zip(kind.tolist(), pick.tolist(), strict=True)]


def legacy_score(leads: Leads, events: Events) -> I64:
    """The pre-evenhand scoring formula: attribute points plus points for the trail before creation."""
    n = len(leads)
    before = events.at <= leads.created[events.lead]

    def count(kind: str) -> I64:
        return np.bincount(events.lead[before & (events.kind == kind)], minlength=n)

    dwell = np.bincount(events.lead[before], weights=np.nan_to_num(events.dwell[before]), minlength=n)
    size_points = np.select([leads.size >= 2000, leads.size >= 500, leads.size >= 200, leads.size >= 50],
                            [20, 16, 12, 7], 2)
    points = (np.array([i.score_points for i in INDUSTRIES])[leads.industry] + size_points
              + np.array([c.score_points for c in CHANNELS])[leads.channel]
              + np.array([REGION_SCORE[r.code] for r in REGIONS])[leads.region]
              + np.minimum(30, 10 * count("whitepaper_download")) + np.minimum(20, dwell / 30)
              + 10 * (count("webinar") > 0) + np.minimum(8, 2 * count("page_view"))
              + np.isin(leads.title, DECISION_MAKERS) * 8)
    return np.clip(np.round(points), 0, 100).astype(np.int64)


def _norm(weights: list[float]) -> NDArray[np.float64]:
    arr = np.asarray(weights, dtype=np.float64)
    return arr / arr.sum()

