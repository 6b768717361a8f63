"""Alerts to supervisors: the versioned rules (``RULES``, table ``alert_rules``), judging them on the entities an
event touched and on every open entity (the scan), and what people do with an alert. Callers commit.

Rules:

- One live alert per rule and entity (``Alert.open_key``): a rule that keeps holding raises nothing new.
- A new alert is a message (kind ``alert``) through the notification outbox to the rep's supervisor (sales ops,
  else admins, for a supervisor's own records or a rep without a team), and to the rep where the rule says
  ``tell: [rep]``; the ``alert`` escalation policy escalates it like any other unacknowledged message.
- An alert resolves itself when its condition stops holding, its entity closes or its rule leaves the document;
  audited with no one as actor.
- A snoozed alert comes back (open, the people told again) when its time is up and its rule still holds.
- Everyone reads the alerts of the records they read (``auth.visibility`` on the alert's rep). The rep
  acknowledges and comments on their own; snoozing and resolving by hand is for the supervisor of the rep's team,
  sales ops and admins. Each action is an ``AlertAction`` and an audit entry.
- ``standard_missed`` is read from ``standards.service`` and never judged here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from evenhand.alerts import evaluate, marks, repository
from evenhand.alerts.conditions import ENTITIES
from evenhand.alerts.document import (
    MESSAGES,
    AlertRulesError,
    CompiledRule,
    CompiledRules,
    compile,
    default_text,
    parse,
)
from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.text import require_clean
from evenhand.models import Alert, AlertAction, AlertRuleVersion, AlertScanState, AlertStatus, User
from evenhand.notify import service as notify
from evenhand.org import service as org_service
from evenhand.standards import service as standards

KIND = "alert"  # the message kind; ``notify.policy`` escalates it
LINK = "/alerts"
MAX_SNOOZE = timedelta(days=90)
LOOKBACK = timedelta(days=2)  # how long after its deadline a missed stage standard is still looked for by the scan
CHUNK = 5000  # deals per read of the standards (PostgreSQL takes at most 65,535 parameters)
MESSAGES_PER_SEND = 5000  # the outbox reads a batch's keys as one IN list
FULL_EVERY = timedelta(days=1)  # the worker's scan is full at least this often, healing anything a mark missed
ANALYZE_AFTER = 5000  # alerts opened or resolved by one scan, after which it refreshes the tables' statistics
RULES: versions_kit.Document[AlertRuleVersion, CompiledRules] = versions_kit.Document(
    AlertRuleVersion, compile=lambda body: compile(parse(body)), error=AlertRulesError, messages=MESSAGES,
    wrong=N_("The alert rules are wrong at {where} (line {line}): {problem}"),
    missing=N_("No alert rules version {version}."), default_text=default_text,
    default_note="the default alert rules shipped with evenhand", name_of=lambda compiled: compiled.name,
    saved_action="alerts.rules_saved")
active, validate, versions, version = RULES.active, RULES.validate, RULES.versions, RULES.version


def save(session: Session, body: str, *, author: Principal | None, note: str = "") -> AlertRuleVersion:
    """Validate, store as the next active version; the audit entry carries the diff. Live alerts of rules the
    new version drops resolve themselves at the next scan."""
    return RULES.save(session, body, author_id=author.user_id if author else None, note=note)


def history(session: Session) -> list[tuple[AlertRuleVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: the system or the CLI)."""
    RULES.active(session)
    stmt = (select(AlertRuleVersion, User.display_name).outerjoin(User, User.id == AlertRuleVersion.author_id)
            .order_by(AlertRuleVersion.version.desc()))
    return list(session.execute(stmt).tuples())


# --- judging ----------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    version: int
    full: bool = True  # every open entity judged (else only what changed or crossed a threshold)
    marked: int = 0  # entities marked changed since the last scan
    candidates: dict[str, int] = field(default_factory=dict)  # entities read in full, per entity type
    opened: int = 0
    resolved: int = 0
    woke: int = 0
    live: int = 0  # live alerts after the run
    messages: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "full": self.full, "marked": self.marked,
                "candidates": dict(self.candidates), "opened": self.opened,
                "resolved": self.resolved, "woke": self.woke, "live": self.live, "messages": self.messages,
                "seconds": round(self.seconds, 3)}


def _rules(session: Session) -> tuple[int, CompiledRules]:
    row = RULES.active(session)
    return row.version, RULES.compiled(row.body)


def scan(session: Session, *, now: datetime | None = None, full: bool = True) -> ScanResult:
    """Judge the rules. A full scan judges every rule on every open entity: SQL narrows each entity type to those
    that pass a rule's bounds (plus those with a live alert), CEL decides on their facts, each rule on its own
    candidates and live alerts. With ``full`` false the scan is incremental where it can be (docs/alerts.md): each
    steady rule looks only at the entities marked changed, those whose clock crossed one of its thresholds since
    the last scan, and those whose snooze ended, through the same narrowing; it is full when no scan ran before,
    the rules or standards changed since, the clock went back, or the last full scan is ``FULL_EVERY`` old."""
    started, now = time.perf_counter(), as_utc(now or utcnow())
    number, rules = _rules(session)
    settled = {r.id for r in rules.rules if "standard_missed" in r.reads}
    remembered = standards.active(session).version if settled else None
    state, marked = repository.scan_state(session), repository.take_marks(session)
    since = None if full else _since(state, number, remembered, now)
    result = ScanResult(number, full=since is None, marked=sum(len(ids) for ids in marked.values()))
    band = deadline_band(session) if settled else {}
    repository.roomy(session)
    for entity in ENTITIES:
        within = None if since is None else _within(session, entity, rules.of(entity), since, now, band,
                                                    marked.get(entity, set()))
        _scan_entity(session, entity, rules, number, now, result, band, remembered, within)
    if result.opened + result.resolved >= ANALYZE_AFTER:
        repository.analyze(session)
    _remember_scan(session, state, now, number, remembered, full=since is None)
    result.live = _count_live(session)
    result.seconds = time.perf_counter() - started
    return result


def _scan_entity(session: Session, entity: str, rules: CompiledRules, number: int, now: datetime,
                 result: ScanResult, band: dict[str, tuple[float, float]], remembered: int | None,
                 within: repository.Within | None) -> None:
    """One entity type: the narrowing (``within`` each rule's entities, or all), the live alerts to judge again,
    then CEL on those, each rule on its own."""
    mine = rules.of(entity)
    settled = {r.id for r in rules.rules if "standard_missed" in r.reads}
    passed = repository.candidates(session, entity, mine, now, band, remembered, within)
    by_rule = {rule: set(found) for rule, found in passed.items()}
    for rule, entity_id in repository.live_keys(session, entity, settled=settled, within=within):
        by_rule.setdefault(rule, set()).add(entity_id)
    ids = set().union(*by_rule.values())
    in_band = set().union(*(found for rule, found in by_rule.items() if rule in settled))
    implied = {r.id: passed.get(r.id, set()) for r in mine if r.implied}
    _judge(session, entity, ids, rules, number, now, result, standards_for=in_band, judged=by_rule, implied=implied)


def _since(state: AlertScanState | None, number: int, remembered: int | None, now: datetime) -> datetime | None:
    """The moment ``W`` an incremental scan starts from, or None when the scan must be full."""
    if state is None or (state.rules_version, state.standards_version) != (number, remembered):
        return None
    since = as_utc(state.scanned_at)
    return since if since <= now < as_utc(state.full_at) + FULL_EVERY else None


def _remember_scan(session: Session, state: AlertScanState | None, now: datetime, number: int,
                   remembered: int | None, *, full: bool) -> None:
    if state is None:
        state = AlertScanState(id=1, full_at=now)
        session.add(state)
    state.scanned_at, state.rules_version, state.standards_version = now, number, remembered
    if full:
        state.full_at = now
    session.flush()


def _within(session: Session, entity: str, rules: Collection[CompiledRule], since: datetime, now: datetime,
            band: dict[str, tuple[float, float]], marked: set[int]) -> repository.Within:
    """Per rule, the entities an incremental scan looks at: those marked, those whose clock crossed one of the
    rule's thresholds in (``since``, ``now``], and those whose alert of it comes back from a snooze; None (every
    entity) for a rule that is not steady."""
    woke = repository.waking(session, entity, now)
    return {rule.id: None if not rule.steady else
            marked | repository.crossed(session, entity, _windows(rule, since, now, band))
            | {i for r, i in woke if r == rule.id} for rule in rules}


def _windows(rule: CompiledRule, since: datetime, now: datetime, band: dict[str, tuple[float, float]]
             ) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per source of moments (``repository.crossed``), the windows in which a moment puts the entity's clock
    across one of the rule's thresholds between ``since`` and ``now``: the threshold's age before each end."""
    found: dict[str, list[tuple[datetime, datetime]]] = {}

    def add(sources: tuple[str, ...], age: timedelta) -> None:
        for source in sources:
            found.setdefault(source, []).append((since - age - repository.MARGIN, now - age + repository.MARGIN))

    for bound in rule.bounds:
        values = [v for _, v in bound.value] if isinstance(bound.value, tuple) else [bound.value]
        for value in values:
            if bound.fact in ("days_since_update", "days_in_stage", "first_response_minutes"):
                unit = timedelta(minutes=1) if bound.fact == "first_response_minutes" else timedelta(days=1)
                add(_CLOCKS[(rule.entity, bound.fact)], unit * float(value))
        if (rule.entity, bound.fact) == ("opportunity", "standard_missed"):
            for earliest, _ in band.values():
                add(("created", "moved"), timedelta(days=earliest))
            add(("due",), timedelta(0))
    return found


# The moments each clock runs from: a deal's last update is its creation, last move or last activity.
_CLOCKS = {("opportunity", "days_since_update"): ("created", "moved", "activity"),
           ("opportunity", "days_in_stage"): ("created", "moved"),
           ("lead", "days_since_update"): ("created", "assigned", "activity"),
           ("lead", "first_response_minutes"): ("created", "assigned")}


def evaluate_entities(session: Session, *, opportunity_ids: Iterable[int] = (), lead_ids: Iterable[int] = (),
                      rep_ids: Iterable[int] = (), now: datetime | None = None) -> ScanResult:
    """Judge every rule on these entities only (what an ingested event touched)."""
    now = as_utc(now or utcnow())
    number, rules = _rules(session)
    result = ScanResult(number)
    for entity, ids in (("opportunity", opportunity_ids), ("lead", lead_ids), ("rep", rep_ids)):
        wanted = {i for i in ids if i is not None}
        if wanted and (rules.of(entity) or repository.live(session, entity, wanted)):
            result.candidates[entity] = len(wanted)
            _judge(session, entity, wanted, rules, number, now, result)
    return result


def deadline_band(session: Session) -> dict[str, tuple[float, float]]:
    """Per stage, the days since entering it between which its standard's deadline passes: from the fewest (N
    working days are at least N calendar days) to the most a working week, the company's holidays and a roll past days
    off allow, plus ``LOOKBACK``. The scan judges a deal's stage standard (in ``standards.service``, per deal) only
    inside this band: before it no deadline has passed, after it the scans that ran then have judged it."""
    row = standards.active(session)
    compiled = standards.compiled_body(row.body)
    off = len(compiled.holidays) + 3  # a weekend and a day, besides the holidays
    return {name: (_fewest(s.within), _most(s.within) + off + LOOKBACK.days) for name, s in compiled.stages.items()}


def _fewest(within: Any) -> float:
    """N working days end at midnight after the N-th working day following the day the clock started: at least N
    calendar days after it started."""
    return float(within.amount) if within.working else within.hours / 24


def _most(within: Any) -> float:
    return float(within.amount + 2 * (within.amount // 5 + 1)) if within.working else within.hours / 24


def _judge(session: Session, entity: str, ids: set[int], rules: CompiledRules, number: int, now: datetime,
           result: ScanResult, *, standards_for: set[int] | None = None, judged: dict[str, set[int]] | None = None,
           implied: dict[str, set[int]] | None = None) -> None:
    """Judge ``ids``; with ``judged``, each rule only on the entities named for it and those with its live alert.
    A live alert of a rule in ``implied`` on an entity its SQL let through (the ids there) still holds: it is seen
    without its facts read. The stage standards are read for ``standards_for`` and the entities with a live alert
    of a rule reading them (every entity when None); elsewhere ``standard_missed`` is false and such a rule opens
    nothing."""
    mine = rules.of(entity)
    settled = {r.id for r in mine if "standard_missed" in r.reads}
    live = _judged_again(repository.live_rows(session, entity, ids), judged, settled)
    held, live = _held(live, implied or {}, now)
    if judged is not None:
        for alert in held:
            judged[alert.rule].discard(alert.entity_id)
        ids = set().union(*judged.values(), (a.entity_id for a in live))
        result.candidates[entity] = len(ids)  # the entities read in full
    wanted = None if standards_for is None else standards_for | {a.entity_id for a in live if a.rule in settled}
    facts = _facts(session, entity, ids, mine, now, wanted)
    holds = evaluate.holding(mine, facts, judged)
    plan = evaluate.plan(mine, facts, live, ids, now, holds)
    if plan.open or plan.resolve or plan.wake:
        audit.lock(session)  # writers that append queue here; the live alerts are read again behind the lock
        _, live = _held(_judged_again(repository.live_rows(session, entity, ids), judged, settled), implied or {}, now)
        plan = evaluate.plan(mine, facts, live, ids, now, holds)
    plan.seen.extend((alert, {}) for alert in held)
    alerts = repository.by_ids(session, [a.id for a, _ in plan.resolve] + [a.id for a, _ in plan.wake])
    _write(session, entity, plan, alerts, number, now, result)


def _held(live: list[evaluate.Live], implied: dict[str, set[int]], now: datetime
          ) -> tuple[list[evaluate.Live], list[evaluate.Live]]:
    """The live alerts that still hold because the SQL of their rule let their entity through (and are not snoozed
    to come back now), and the others."""
    held: list[evaluate.Live] = []
    other: list[evaluate.Live] = []
    for alert in live:
        waking = alert.snoozed_until is not None and as_utc(alert.snoozed_until) <= now
        (held if alert.entity_id in implied.get(alert.rule, ()) and not waking else other).append(alert)
    return held, other


def _judged_again(live: list[evaluate.Live], judged: dict[str, set[int]] | None, settled: set[str]
                  ) -> list[evaluate.Live]:
    """The live alerts a scan judges on its entities: every one, except those of a rule reading the stage standards
    that the scan did not name (their deal has not moved since they opened: only an event changes their fact, and
    the hook judges events). Each rule is judged again where it keeps a live alert."""
    if judged is None:
        return live
    kept = [a for a in live if a.rule not in settled or a.entity_id in judged.get(a.rule, ())]
    for alert in kept:
        judged.setdefault(alert.rule, set()).add(alert.entity_id)
    return kept


def _facts(session: Session, entity: str, ids: set[int], rules: Collection[CompiledRule], now: datetime,
           standards_for: set[int] | None = None) -> repository.Facts:
    if not ids:
        return {}
    reader = {"opportunity": repository.opportunity_facts, "lead": repository.lead_facts,
              "rep": repository.rep_facts}[entity]
    facts = reader(session, ids, now)
    if entity != "rep" and facts and any("standard_missed" in r.reads for r in rules):
        kind = "deal" if entity == "opportunity" else "lead"
        ordered = sorted(set(facts) if standards_for is None else set(facts) & standards_for)
        judged = {k: v for start in range(0, len(ordered), CHUNK) for k, v in standards.current(
            session, now=now, **{f"{entity}_ids": ordered[start:start + CHUNK]}).items()}
        for i, (_, _, known) in facts.items():
            entry = judged.get((kind, i))
            known["standard_missed"] = entry is not None and entry.result.status.value in ("overdue", "missed")
        if kind == "deal":
            _remember(session, judged.values(), now)
    return facts


def _remember(session: Session, judged: Iterable[standards.Judged], now: datetime) -> None:
    """What each deal's current standard was found to be, so the scan judges it again only once it can be overdue
    (docs/alerts.md: the remembered clocks)."""
    version = standards.active(session).version
    repository.remember_clocks(session, [
        {"opportunity_id": j.record_id, "started_at": j.result.start, "rep_id": j.rep_id, "standards_version": version,
         "status": j.result.status.value, "due_at": j.result.deadline, "judged_at": now}
        for j in judged if j.kind == "deal"])


def _write(session: Session, entity: str, plan: evaluate.Plan, alerts: dict[int, Alert], number: int,
           now: datetime, result: ScanResult) -> None:
    opened = [_open(session, entity, o, number, now) for o in plan.open]
    session.flush()
    for why_alert, why in plan.resolve:
        _resolve(session, alerts[why_alert.id], actor=None, why=why, now=now)
    woke = [_wake(session, alerts[live.id], facts, now) for live, facts in plan.wake]
    if plan.seen:  # still live: one seen without a read behind the lock may have been resolved meanwhile
        seen = repository.among(session, Alert.id, [a.id for a, _ in plan.seen])
        session.execute(update(Alert).where(seen, Alert.open_key.is_not(None)).values(last_seen_at=now),
                        execution_options={"synchronize_session": False})
    for alert in opened:
        audit.append(session, action="alerts.opened", subject_type="alerts", subject_id=alert.id, flush=False,
                     payload={"rule": alert.rule, "entity": entity, "entity_id": alert.entity_id,
                              "rep_id": alert.rep_id, "rule_version": number}, at=now)
    result.messages += _tell(session, [*opened, *woke])
    result.opened, result.resolved, result.woke = (result.opened + len(opened), result.resolved + len(plan.resolve),
                                                   result.woke + len(woke))
    session.flush()


def _open(session: Session, entity: str, opening: evaluate.Opening, number: int, now: datetime) -> Alert:
    rule = opening.rule
    evidence: dict[str, Any] = {"subject": opening.subject, "facts": opening.facts, "severity": rule.severity,
                "rule": {"label": rule.label, "when": rule.when, "params": rule.params, "tell": list(rule.tell)}}
    if "unbacked_flags" in rule.reads:
        evidence["flags"] = repository.flagged_evidence(session, entity, [opening.entity_id]).get(opening.entity_id, [])
    alert = Alert(rule=rule.id, entity_type=entity, entity_id=opening.entity_id, rep_id=opening.rep_id,
                  open_key=evaluate.key(rule.id, entity, opening.entity_id), status=AlertStatus.OPEN,
                  rule_version=number, evidence=evidence, opened_at=now, last_seen_at=now)
    session.add(alert)
    return alert


def _resolve(session: Session, alert: Alert, *, actor: Principal | None, why: str, now: datetime,
             comment: str = "") -> None:
    alert.status, alert.open_key, alert.resolved_at = AlertStatus.RESOLVED, None, now
    alert.resolved_by = actor.user_id if actor else None
    alert.snoozed_until = None
    _act(session, alert, actor, "resolved", comment=comment or ("" if actor else why), now=now,
         payload={"by_itself": actor is None, "why": why})
    _acknowledge_messages(session, alert)


def _wake(session: Session, alert: Alert, facts: dict[str, Any], now: datetime) -> Alert:
    alert.status, alert.snoozed_until, alert.last_seen_at = AlertStatus.OPEN, None, now
    alert.evidence = {**alert.evidence, "facts": facts}
    _act(session, alert, None, "returned", now=now, payload={"why": "snooze_ended"})
    return alert


def _tell(session: Session, alerts: list[Alert]) -> int:
    """One message per alert and person told, through the outbox; their ids are kept in the evidence, so handling
    the alert acknowledges them."""
    if not alerts:
        return 0
    session.flush()
    batch = [(alert, person) for alert in alerts for person in _told(session, alert)]
    for start in range(0, len(batch), MESSAGES_PER_SEND):
        _send(session, batch[start:start + MESSAGES_PER_SEND])
    return len(batch)


def _send(session: Session, batch: list[tuple[Alert, int]]) -> None:
    sent = notify.send_all(session, [notify.Message(
        person, KIND, N_("Alert: {rule}"), N_("{subject}: open the alert to acknowledge, comment, snooze or resolve "
                                              "it."), f"{LINK}/{alert.id}", None,
        f"{KIND}:{alert.id}:{person}:{len(alert.evidence.get('messages', []))}",
        {"rule": alert.evidence["rule"]["label"], "subject": alert.evidence["subject"]}) for alert, person in batch])
    for (alert, person), message in zip(batch, sent, strict=True):
        alert.evidence = {**alert.evidence, "messages": [*alert.evidence.get("messages", []), [message.id, person]]}


def _told(session: Session, alert: Alert) -> list[int]:
    tell = alert.evidence["rule"]["tell"]
    people = list(notify.supervisors_of(session, alert.rep_id)) if "supervisor" in tell and alert.rep_id else []
    if "rep" in tell and alert.rep_id and alert.rep_id not in people:
        people.append(alert.rep_id)
    return people


def _acknowledge_messages(session: Session, alert: Alert) -> None:
    """The alert was handled: its messages stop escalating."""
    for message_id, recipient_id in alert.evidence.get("messages", []):
        notify.acknowledge(session, message_id, recipient_id)


def _count_live(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert).where(Alert.open_key.is_not(None))) or 0


# --- reading ----------------------------------------------------------------------------------------------------


def visible(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = session.scalar(repository.readable(principal).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound("No alert with id {id}.", field="alert_id", id=alert_id)
    return alert


def listed(session: Session, principal: Principal, *, status: AlertStatus | None = None, scope: str = "all",
           include_snoozed: bool = False, limit: int = 200, now: datetime | None = None) -> list[Alert]:
    """The alerts the principal reads, newest first: live ones by default (snoozed ones hidden until their time),
    or those of one ``status``. ``scope`` "mine" keeps those on the principal's own records."""
    stmt = _narrowed(session, principal, status, scope, include_snoozed, now)
    return list(session.scalars(stmt.order_by(Alert.id.desc()).limit(limit)))


def counted(session: Session, principal: Principal, *, scope: str = "all", now: datetime | None = None) -> int:
    """How many alerts ``listed`` would show live (snoozed ones hidden until their time), however many."""
    stmt = _narrowed(session, principal, None, scope, False, now).with_only_columns(func.count(Alert.id))
    return session.scalar(stmt) or 0


def _narrowed(session: Session, principal: Principal, status: AlertStatus | None, scope: str, include_snoozed: bool,
              now: datetime | None) -> Select[Any]:
    stmt = repository.readable(principal)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    else:
        stmt = stmt.where(Alert.open_key.is_not(None))
        if not include_snoozed:
            stmt = stmt.where((Alert.status != AlertStatus.SNOOZED) | (Alert.snoozed_until <= (now or utcnow())))
    if scope == "mine":
        stmt = stmt.where(Alert.rep_id == principal.user_id)
    elif scope == "teams":
        stmt = stmt.where(Alert.rep_id.in_(sorted(supervised_reps(session, principal)) or [0]))
    return stmt


def actions(session: Session, principal: Principal, alert_id: int) -> list[tuple[AlertAction, str | None]]:
    visible(session, principal, alert_id)
    return repository.actions(session, alert_id)


def rep_names(session: Session, alerts: Iterable[Alert]) -> dict[int, str]:
    ids = sorted({a.rep_id for a in alerts if a.rep_id})
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())


# --- acting -----------------------------------------------------------------------------------------------------


def may_handle(session: Session, principal: Principal, alert: Alert) -> bool:
    """Snoozing and resolving by hand: the supervisor of the rep's team (as it is now), sales ops and admins."""
    if principal.manages_org:
        return True
    team = repository.team_of(session, [alert.rep_id]).get(alert.rep_id) if alert.rep_id else None
    return team is not None and team in principal.supervised_team_ids and alert.rep_id != principal.user_id


def acknowledge(session: Session, principal: Principal, alert_id: int, *, comment: str = "") -> Alert:
    """Seen and being handled: its messages stop escalating. Once; a resolved alert is not acknowledged."""
    alert = _writable(session, principal, alert_id)
    if alert.status is not AlertStatus.OPEN:
        raise Conflict("Only an open alert can be acknowledged (this one is {status}).", field="alert_id",
                       status=alert.status.value)
    alert.status = AlertStatus.ACKNOWLEDGED
    _act(session, alert, principal, "acknowledged", comment=comment)
    _acknowledge_messages(session, alert)
    return alert


def comment(session: Session, principal: Principal, alert_id: int, text: str) -> Alert:
    alert = _writable(session, principal, alert_id, resolved_ok=True)
    if not text.strip():
        raise Invalid("Write a comment.", field="comment")
    _act(session, alert, principal, "commented", comment=text)
    return alert


def snooze(session: Session, principal: Principal, alert_id: int, *, until: datetime, reason: str,
           now: datetime | None = None) -> Alert:
    """Out of sight until ``until`` (at most ``MAX_SNOOZE`` ahead), with a reason; it comes back then if its rule
    still holds, and resolves itself meanwhile if it stops holding."""
    now = as_utc(now or utcnow())
    alert = _handled(session, principal, alert_id)
    if not reason.strip():
        raise Invalid("Say why the alert is snoozed.", field="reason")
    if not now < as_utc(until) <= now + MAX_SNOOZE:
        raise Invalid("Snooze until a time in the next {days} days.", field="until", days=MAX_SNOOZE.days)
    alert.status, alert.snoozed_until = AlertStatus.SNOOZED, as_utc(until)
    _act(session, alert, principal, "snoozed", comment=reason, until=as_utc(until), now=now)
    _acknowledge_messages(session, alert)
    return alert


def resolve(session: Session, principal: Principal, alert_id: int, *, comment: str = "") -> Alert:
    """Resolved by hand; if the rule still holds at the next scan, a new alert opens."""
    alert = _handled(session, principal, alert_id)
    _resolve(session, alert, actor=principal, why="by_hand", now=utcnow(), comment=comment)
    session.flush()
    marks.mark(session, alert.entity_type, [alert.entity_id])  # the next scan judges the entity again
    return alert


def _writable(session: Session, principal: Principal, alert_id: int, *, resolved_ok: bool = False) -> Alert:
    if not principal.can_write:
        raise Forbidden("Auditors read alerts; they do not act on them.")
    alert = visible(session, principal, alert_id)
    if alert.status is AlertStatus.RESOLVED and not resolved_ok:
        raise Conflict("This alert is resolved.", field="alert_id")
    return alert


def _handled(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = _writable(session, principal, alert_id)
    if not may_handle(session, principal, alert):
        raise Forbidden("Only the supervisor of the rep's team, sales ops or an admin snooze or resolve an alert.")
    return alert


def _act(session: Session, alert: Alert, actor: Principal | None, action: str, *, comment: str = "",
         until: datetime | None = None, now: datetime | None = None, payload: dict[str, Any] | None = None) -> None:
    require_clean(comment, field="comment")
    at = as_utc(now or utcnow())
    session.add(AlertAction(alert_id=alert.id, actor_id=actor.user_id if actor else None, action=action,
                            comment=comment[:2000], until=until, at=at))
    audit.append(session, action=f"alerts.{action}", subject_type="alerts", subject_id=alert.id,
                 actor_id=actor.user_id if actor else None, at=at, flush=False,
                 payload={"rule": alert.rule, "entity": alert.entity_type, "entity_id": alert.entity_id,
                          "comment": comment[:2000], "until": until.isoformat() if until else None, **(payload or {})})


def supervised_reps(session: Session, principal: Principal) -> set[int]:
    """The members of the teams the principal supervises (the inbox's "my teams")."""
    if not principal.supervised_team_ids:
        return set()
    return set(session.scalars(select(User.id).where(User.team_id.in_(principal.supervised_team_ids))))


# --- counting for the home page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamAlerts:
    """The live alerts of one team's records (``team_id`` None: a rep without a team), per rule."""

    team_id: int | None
    team: str | None
    by_rule: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())


@dataclass(frozen=True)
class AlertCounts:
    teams: list[TeamAlerts]  # most alerts first
    labels: dict[str, str]  # rule id → its label in the active rules (the id, for a rule no longer there)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.teams)


def counts_by_team(session: Session, principal: Principal, *, now: datetime | None = None) -> AlertCounts:
    """The live alerts the principal reads, counted per team of the alert's rep and per rule (as the inbox shows
    them: snoozed ones only once their time is up)."""
    found: dict[int | None, dict[str, int]] = {}
    for team_id, rule, count in repository.live_counts(session, principal, as_utc(now or utcnow())):
        found.setdefault(team_id, {})[rule] = count
    names = org_service.team_names(session)
    teams = [TeamAlerts(t, names.get(t) if t is not None else None, dict(sorted(rules.items())))
             for t, rules in found.items()]
    rules = sorted({rule for t in teams for rule in t.by_rule})
    compiled = _rules(session)[1] if rules else None  # no alert without a rules version: nothing to install
    labels = {rule: (r.label if compiled and (r := compiled.rule(rule)) else rule) for rule in rules}
    return AlertCounts(sorted(teams, key=lambda t: (-t.total, t.team or "")), labels)
