"""Incentives (R3.5): a closed period's tiers turned into the grants routing reads (``user_grants``).

The rules:

* a frozen card's tier names its grants (the ``tiers`` of the template version the card was scored under); each is
  granted, or renewed, until the end of the period FOLLOWING the scored one (midnight in the organisation's zone,
  stored as UTC), with the reason ``scorecard <period>: <tier>``;
* a grant performance gave is told apart from one given by hand by both marks: no ``granted_by_id`` and a reason
  starting ``scorecard ``. A grant given by hand (through ``org``) is never changed, extended or revoked here; when
  the same person earns it, the hand-made grant stands as it is;
* a renewal never shortens a grant: a period closed again after a later one keeps the later period's expiry;
* a grant this period gave that its current revision no longer earns (a late correction lowered the tier, the rep
  has no card any more) is revoked at once: it expires now and is kept, so the what-if replay of routing still sees
  who held it when; re-earned later, it counts as held from then on;
* every grant, renewal and revocation appends an audit entry (``performance.grant``, ``performance.revoke``) and
  tells the rep and the supervisor of their team through the outbox, in their language. Applying a revision again
  changes nothing, audits nothing and sends nothing for a grant that would not change.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.config import get_settings
from evenhand.errors import Forbidden, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import (
    KEY_ACCOUNT_GRANT,
    PeriodStatus,
    ScorecardTemplateVersion,
    ScorePeriod,
    Team,
    User,
    UserGrant,
)
from evenhand.models.performance import Scorecard
from evenhand.notify import service as notify
from evenhand.performance import document, service
from evenhand.performance.period import Period, parse
from evenhand.performance.template import GRANTS, Templates, Tier, Wording, default_text
from evenhand.routing import policy_versions
from evenhand.routing.engine import select_pool
from evenhand.routing.rerun import Roster, rerun
from evenhand.routing.values import RepState
from evenhand.routing.whatif import check_range, read_history

SOURCE = "scorecard"
REASON = re.compile(r"^scorecard (?P<period>\d{4}-(?:\d{2}|Q[1-4])): (?P<tier>[a-z][a-z0-9_]*)$")
GRANTED, REVOKED = "performance_grant", "performance_revoke"
LINK = "/performance/incentives"
GRANT_LABELS = {"key_account": N_("Key-account lead pool"), "training_priority": N_("Training priority"),
                "promotion_list": N_("Promotion recommendation list")}
# (action, grant) → (the rep's title, the supervisor's title); the body says why and until when
TITLES = {
    ("grant", "key_account"): (N_("You now receive key-account leads"),
                               N_("{rep} now receives key-account leads")),
    ("grant", "training_priority"): (N_("You have priority for training places"),
                                     N_("{rep} has priority for training places")),
    ("grant", "promotion_list"): (N_("You are on the promotion recommendation list"),
                                  N_("{rep} is on the promotion recommendation list")),
    ("revoke", "key_account"): (N_("You no longer receive key-account leads"),
                                N_("{rep} no longer receives key-account leads")),
    ("revoke", "training_priority"): (N_("Your priority for training places was withdrawn"),
                                      N_("{rep}'s priority for training places was withdrawn")),
    ("revoke", "promotion_list"): (N_("You were taken off the promotion recommendation list"),
                                   N_("{rep} was taken off the promotion recommendation list")),
}
GRANT_BODY = N_("Tier {tier} in {period}; valid until {until}.")
REVOKE_BODY = N_("The scorecards of {period} were corrected and no longer earn it.")


def reason_for(period: str, tier: str) -> str:
    return f"{SOURCE} {period}: {tier}"


def given_here(row: UserGrant) -> bool:
    """A grant performance gave (see the module's rules); anything else was given by hand."""
    return row.granted_by_id is None and REASON.match(row.reason or "") is not None


def last_day(expires_at: datetime, zone: ZoneInfo) -> date:
    """The last local day a grant holds on: the day before a midnight expiry, the day of one at another time."""
    return (as_utc(expires_at).astimezone(zone) - timedelta(microseconds=1)).date()


def expiry(period: Period, zone: ZoneInfo) -> datetime:
    """The end of the period after ``period``: its first day after, at midnight in ``zone``, as UTC."""
    return as_utc(datetime.combine(period.following().ends_on, time.min, tzinfo=zone))


@dataclass(frozen=True)
class Change:
    """One grant given, renewed or revoked by applying a period."""

    action: str  # grant | revoke
    user_id: int
    grant: str
    tier: str | None
    expires_at: datetime


# --- applying a closed period -----------------------------------------------------------------------------------


def register() -> None:
    """Run ``apply`` on every period close, once however often it is called. It is called as this module is
    imported, and the app and the command line import it, so every door a period closes by grants."""
    if apply not in service.ON_CLOSE:
        service.ON_CLOSE.append(apply)


def apply(session: Session, period_row: ScorePeriod, cards: list[Scorecard]) -> None:
    """The ``ON_CLOSE`` hook: ``settle`` the revision just frozen."""
    settle(session, period_row, cards)


def settle(session: Session, period_row: ScorePeriod, cards: list[Scorecard], *,
           now: datetime | None = None) -> list[Change]:
    """Grant what each card's tier earns and revoke what this period gave that its cards no longer earn."""
    at = as_utc(now or utcnow())
    zone = get_settings().zone
    until = expiry(parse(period_row.period), zone)
    earned = _earned(session, cards)
    rows = {(r.user_id, r.grant): r for r in session.scalars(select(UserGrant).where(UserGrant.grant.in_(GRANTS)))}
    changes = [c for (uid, grant), tier in earned.items()
               if (c := _give(session, rows.get((uid, grant)), uid, grant, tier.key, period_row.period, until, at))]
    changes += [_revoke(row, at) for key, row in rows.items()
                if key not in earned and _gave(row, period_row.period, at)]
    session.flush()
    _record(session, changes, period_row, zone, at)
    return changes


def _earned(session: Session, cards: Iterable[Scorecard]) -> dict[tuple[int, str], Tier]:
    """(rep, grant) → the tier that earns it, from the tiers of the version each card was scored under."""
    docs: dict[int, Templates] = {}
    out: dict[tuple[int, str], Tier] = {}
    for card in cards:
        if card.tier is None:
            continue
        if card.template_version not in docs:
            docs[card.template_version] = _templates(session, card.template_version)
        for tier in docs[card.template_version].tiers:
            if tier.key == card.tier:
                out.update({(card.user_id, grant): tier for grant in tier.grants})
    return out


def _templates(session: Session, version: int) -> Templates:
    body = session.scalar(select(ScorecardTemplateVersion.body).where(ScorecardTemplateVersion.version == version))
    return document.TEMPLATES.compiled(body if body is not None else default_text())  # versions never change


def _give(session: Session, row: UserGrant | None, user_id: int, grant: str, tier: str, period: str,
          until: datetime, at: datetime) -> Change | None:
    """A new grant, or ours renewed; ``None`` when nothing would change or the grant was given by hand."""
    reason = reason_for(period, tier)
    if row is None:
        session.add(UserGrant(user_id=user_id, grant=grant, expires_at=until, reason=reason, created_at=at))
        return Change("grant", user_id, grant, tier, until)
    if not given_here(row):
        return None
    current = as_utc(row.expires_at) if row.expires_at is not None else None
    if current is not None and (current > until or (current == until and row.reason == reason)):
        return None  # unchanged, or a later period's grant that this one must not shorten
    if current is not None and current <= at:
        row.created_at = at  # it had lapsed: held again from now on (what-if replays read the holding from here)
    row.expires_at, row.reason = until, reason
    return Change("grant", user_id, grant, tier, until)


def _gave(row: UserGrant, period: str, at: datetime) -> bool:
    """Still held through this period's reason, i.e. the period's cards are what keep it."""
    found = REASON.match(row.reason or "")
    live = row.expires_at is None or as_utc(row.expires_at) > at
    return row.granted_by_id is None and found is not None and found["period"] == period and live


def _revoke(row: UserGrant, at: datetime) -> Change:
    found = REASON.match(row.reason or "")
    row.expires_at = at
    return Change("revoke", row.user_id, row.grant, found["tier"] if found else None, at)


def _record(session: Session, changes: list[Change], period_row: ScorePeriod, zone: ZoneInfo, at: datetime) -> None:
    """An audit entry and a message to the rep and their supervisor for each change, in one batch each."""
    if not changes:
        return
    for change in changes:
        audit.append(session, action=f"performance.{change.action}", subject_type="user_grants",
                     subject_id=f"{change.user_id}:{change.grant}", actor_id=period_row.closed_by, at=at, flush=False,
                     payload={"user_id": change.user_id, "grant": change.grant, "tier": change.tier,
                              "period": period_row.period, "revision": period_row.revision,
                              "expires_at": change.expires_at.isoformat()})
    session.flush()
    notify.send_all(session, _messages(session, changes, period_row, zone))


def _messages(session: Session, changes: list[Change], period_row: ScorePeriod,
              zone: ZoneInfo) -> list[notify.Message]:
    people = _people(session, {c.user_id for c in changes})
    tiers = _tier_labels(session, period_row)
    fallback = get_settings().locale
    out = []
    for change in changes:
        rep = people.get(change.user_id) or _Person("", None, None)
        mine, theirs = TITLES[(change.action, change.grant)]
        until = last_day(change.expires_at, zone)
        for recipient, title in ((change.user_id, mine), (rep.supervisor, theirs)):
            if recipient is None:
                continue
            tier = tiers.get(change.tier or "")
            locale = (people.get(recipient) or rep).locale or fallback
            out.append(notify.Message(
                recipient, GRANTED if change.action == "grant" else REVOKED, title,
                GRANT_BODY if change.action == "grant" else REVOKE_BODY, link=LINK,
                key=_key(change, recipient, period_row),
                params={"rep": rep.name, "period": period_row.period, "until": until.isoformat(),
                        "tier": tier.says(locale) if tier else (change.tier or "")}))
    return out


def _key(change: Change, recipient: int, period_row: ScorePeriod) -> str:
    """The same change told twice is one message (a re-applied revision writes nothing new)."""
    return (f"{change.action}:{change.grant}:{change.user_id}:{recipient}:{period_row.period}:"
            f"{change.tier}:{change.expires_at.isoformat()}")


@dataclass(frozen=True)
class _Person:
    name: str
    supervisor: int | None  # of their team, when it is someone else
    locale: str | None


def _people(session: Session, ids: Collection[int]) -> dict[int, _Person]:
    """Each rep's name, their team's supervisor and their language; the supervisors' languages too."""
    rows = session.execute(select(User.id, User.display_name, Team.supervisor_id, User.locale)
                           .outerjoin(Team, Team.id == User.team_id).where(User.id.in_(list(ids)))).tuples().all()
    out = {uid: _Person(name, boss if boss != uid else None, locale) for uid, name, boss, locale in rows}
    extra = {p.supervisor for p in out.values() if p.supervisor is not None} - set(out)
    for uid, name, locale in session.execute(select(User.id, User.display_name, User.locale)
                                             .where(User.id.in_(list(extra)))).tuples():
        out[uid] = _Person(name, None, locale)
    return out


def _tier_labels(session: Session, period_row: ScorePeriod) -> dict[str, Wording]:
    version = session.scalar(select(Scorecard.template_version).where(
        Scorecard.period_id == period_row.id, Scorecard.revision == period_row.revision).limit(1))
    doc = _templates(session, version) if version is not None else document.active(session)[1]
    return {t.key: t.label for t in doc.tiers}


# --- who holds what, per period -----------------------------------------------------------------------------------

HELD, BY_HAND, LAPSED = "held", "by_hand", "lapsed"
STATUS_LABELS = {HELD: N_("Held"), BY_HAND: N_("Given by hand"), LAPSED: N_("Lapsed or revoked")}


@dataclass(frozen=True)
class Holding:
    """A grant a rep's card earned in a period, and where it stands now: ``held`` (given by performance and
    live, possibly renewed by a later period), ``by_hand`` (the rep holds it from a hand-made grant, left as
    it was), ``lapsed`` (expired or revoked since)."""

    user_id: int
    name: str
    team: str | None
    grant: str
    tier: str
    tier_label: dict[str, str]  # {"zh-CN": ..., "en": ...}
    total: float | None
    status: str
    expires_at: datetime | None
    reason: str


def closed(session: Session, period: Period) -> ScorePeriod | None:
    """The period's row when it has been closed at least once (a re-opened period keeps its last revision)."""
    row = session.scalar(select(ScorePeriod).where(ScorePeriod.period == period.key))
    return row if row is not None and row.revision > 0 else None


def last_closed(session: Session) -> ScorePeriod | None:
    return session.scalar(select(ScorePeriod).where(ScorePeriod.status == PeriodStatus.CLOSED)
                          .order_by(ScorePeriod.ends_on.desc(), ScorePeriod.starts_on).limit(1))


def lists(session: Session, period: Period, *, principal: Principal | None = None,
          now: datetime | None = None) -> list[Holding]:
    """What the period's cards (its current revision) earned, by grant then total: the key-account pool, the
    training priority list, the promotion recommendation list. A principal sees whom ``owned_by_visible`` allows."""
    row = closed(session, period)
    if row is None:
        return []
    cards = _cards(session, row, principal)
    earned = _earned(session, cards)
    at = as_utc(now or utcnow())
    grants = _grant_rows(session, {uid for uid, _ in earned})
    names = _names(session, {uid for uid, _ in earned})
    totals = {c.user_id: c.total for c in cards}
    out = [_holding(uid, grant, tier, totals.get(uid), names.get(uid, ("", None)), grants.get((uid, grant)), at)
           for (uid, grant), tier in earned.items()]
    return sorted(out, key=lambda h: (GRANTS.index(h.grant), -(h.total or 0), h.name))


def _cards(session: Session, row: ScorePeriod, principal: Principal | None) -> list[Scorecard]:
    stmt = select(Scorecard).where(Scorecard.period_id == row.id, Scorecard.revision == row.revision)
    if principal is not None:
        stmt = stmt.where(owned_by_visible(principal, Scorecard.user_id))
    return list(session.scalars(stmt))


def _grant_rows(session: Session, ids: Collection[int]) -> dict[tuple[int, str], UserGrant]:
    stmt = select(UserGrant).where(UserGrant.user_id.in_(list(ids)), UserGrant.grant.in_(GRANTS))
    return {(r.user_id, r.grant): r for r in session.scalars(stmt)}


def _names(session: Session, ids: Collection[int]) -> dict[int, tuple[str, str | None]]:
    stmt = (select(User.id, User.display_name, Team.name).outerjoin(Team, Team.id == User.team_id)
            .where(User.id.in_(list(ids))))
    return {uid: (name, team) for uid, name, team in session.execute(stmt).tuples()}


def _holding(uid: int, grant: str, tier: Tier, total: float | None, who: tuple[str, str | None],
             row: UserGrant | None, at: datetime) -> Holding:
    until = as_utc(row.expires_at) if row is not None and row.expires_at is not None else None
    live = row is not None and (until is None or until > at)
    status = LAPSED if not live or row is None else HELD if given_here(row) else BY_HAND
    return Holding(uid, who[0], who[1], grant, tier.key, {"zh-CN": tier.label.zh, "en": tier.label.en}, total, status,
                   until, row.reason if row is not None else "")


# --- what-if: a tier change and the key-account pool -----------------------------------------------------------

WHATIF_DAYS = 30  # the recent leads replayed, unless told otherwise
NO_POOL = N_("The active routing policy has no key-account pool (a pool with key_account: true), so the grant "
             "changes no lead's route.")


def whatif(session: Session, body: str, *, period: Period | None = None, days: int = WHATIF_DAYS,
           principal: Principal | None = None) -> dict[str, Any]:
    """Who would hold ``key_account`` if the closed period's cards were scored under ``body`` (from their frozen
    inputs, so only the templates differ: weights, gates, tiers), and how the key-account pool's leads of the last
    ``days`` days would then have been shared, beside the holders the period's cards earned. Both sides replay the
    same history (``routing.whatif``) under the active policy; only the key-account grants differ, and each side's
    holders hold the grant over the whole range. Reads only."""
    if principal is not None and not principal.sees_team_figures:  # None: the CLI
        raise Forbidden("Only sales operations, supervisors and auditors may run a what-if replay.")
    candidate = document.TEMPLATES.validate(body)  # Invalid naming each problem's path and line
    row = _period_row(session, period)
    cards = _cards(session, row, None)
    hand = _by_hand(session, KEY_ACCOUNT_GRANT)
    before = {uid for uid, grant in _earned(session, cards) if grant == KEY_ACCOUNT_GRANT} | hand
    after = _candidate_holders(session, row, candidate) | hand
    replayed = _replay(session, {"before": before, "after": after}, days)
    return {"period": row.period, "revision": row.revision, "candidate": candidate.name, **replayed,
            "holders": {"before": sorted(before), "after": sorted(after), "by_hand": sorted(hand)}}


def _period_row(session: Session, period: Period | None) -> ScorePeriod:
    row = closed(session, period) if period is not None else last_closed(session)
    if row is None:
        raise NotFound("No closed period {period} to compare with.", field="period",
                       period=period.key if period else "")
    return row


def _by_hand(session: Session, grant: str) -> set[int]:
    """Live hand-made holders: they keep the grant whatever the tiers say."""
    rows = session.scalars(select(UserGrant).where(UserGrant.grant == grant))
    at = utcnow()
    return {r.user_id for r in rows if not given_here(r) and (r.expires_at is None or as_utc(r.expires_at) > at)}


def _candidate_holders(session: Session, row: ScorePeriod, candidate: Templates) -> set[int]:
    """The reps the candidate's tiers give ``key_account``, each card rescored from the inputs frozen with it."""
    views = service.scored(service.thawed_inputs(session, service.SYSTEM, row), candidate, parse(row.period))
    earning = {t.key for t in candidate.tiers if KEY_ACCOUNT_GRANT in t.grants}
    return {view.user_id for view in views if view.tier in earning}


def _replay(session: Session, holders: dict[str, set[int]], days: int) -> dict[str, Any]:
    """Each side's share of the key-account pools' leads among the last ``days`` local days (today included)."""
    zone = get_settings().zone
    end = utcnow().astimezone(zone).date()
    start = end - timedelta(days=days - 1)
    check_range(start, end, today=end)
    compiled = policy_versions.compiled_body(policy_versions.active(session).body)
    history = read_history(session, start, end, zone, threshold=compiled.policy.threshold_high_value)
    pools = {p.id for p in compiled.pools if p.spec.key_account}
    chosen = {a.lead.id for a in history.arrivals if select_pool(a.lead, compiled).pool_id in pools}
    runs = {side: rerun(history.arrivals, _holding_roster(history.roster, ids), compiled, states=history.states,
                        until=history.finish) for side, ids in holders.items()}
    counts = {side: Counter(a.rep_id for a in run.assignments if a.lead_id in chosen) for side, run in runs.items()}
    held = {side: sum(1 for lead in run.held if lead in chosen) for side, run in runs.items()}
    reps = sorted(set(counts["before"]) | set(counts["after"]) | holders["before"] | holders["after"],
                  key=lambda uid: history.names.get(uid, ""))
    return {"from": start.isoformat(), "to": end.isoformat(), "pools": sorted(pools), "leads": len(chosen),
            "held": held, "reps": [_share(uid, history.names, holders, counts) for uid in reps]}


def _holding_roster(roster: Roster, holders: set[int]) -> Roster:
    """The same days with ``key_account`` held by exactly ``holders`` (every other grant as recorded)."""
    def held(rep: RepState) -> RepState:
        others = tuple(g for g in rep.grants if g != KEY_ACCOUNT_GRANT)
        return replace(rep, grants=(*others, KEY_ACCOUNT_GRANT) if rep.id in holders else others)

    return replace(roster, days={day: tuple(held(rep) for rep in reps) for day, reps in roster.days.items()})


def _share(uid: int, names: dict[int, str], holders: dict[str, set[int]],
           counts: dict[str, Counter[int]]) -> dict[str, Any]:
    def side(name: str) -> dict[str, Any]:
        total = sum(counts[name].values())
        return {"holds": uid in holders[name], "leads": counts[name][uid],
                "share": round(counts[name][uid] / total, 4) if total else 0.0}

    return {"user_id": uid, "name": names.get(uid, ""), "before": side("before"), "after": side("after")}


def closed_periods(session: Session) -> list[str]:
    """Every period closed at least once, the latest first."""
    return list(session.scalars(select(ScorePeriod.period).where(ScorePeriod.revision > 0)
                                .order_by(ScorePeriod.starts_on.desc(), ScorePeriod.ends_on.desc())))


def active_text(session: Session) -> str:
    """The active templates' text, to start a what-if from (a new database gets the shipped default first)."""
    return document.TEMPLATES.active(session).body


register()
