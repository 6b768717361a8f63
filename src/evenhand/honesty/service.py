"""Honesty checks on CRM notes (R2: "some reps fabricate follow-up records"): scan notes for claims nothing
captured backs and for boilerplate copied across customers, send the flags to each rep's supervisor, and record
their decisions. Callers commit.

Rules:

- A scan covers the notes written in ``since``..``until`` and is idempotent: a note gets at most one flag per kind
  (the table's unique key), so scanning again raises nothing new. An *open* flag whose note a later scan no longer
  doubts (the contact was captured after all, say a call-centre file imported late) is closed by the scan: it
  becomes dismissed with no one as decider and the reason in its evidence (``closed``). Flags a person decided
  are never reopened or changed by a scan.
- New flags go to the supervisor of the rep's team (sales ops, else admins, for a rep without one or for a
  supervisor's own notes): one digest per person per scan, not one message per flag.
- Only the supervisor of the rep's team (as it is when deciding), ops or admin confirm or dismiss an open flag,
  never on their own notes; each decision is audited. Everyone reads the flags on their own notes.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import Settings, get_settings
from evenhand.errors import Conflict, Forbidden, NotFound
from evenhand.honesty import detect, repository
from evenhand.honesty.schemas import FlagDetail, FlagRead
from evenhand.i18n import N_, plural
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import Activity, FlagKind, FlagStatus, HonestyFlag
from evenhand.notify import service as notify

LINK = "/process/honesty"
KIND = "honesty_flags"
MARGIN = timedelta(days=1)  # contacts that started this long before a window may still run into it
Decision = Literal["confirm", "dismiss"]
DECIDED: dict[str, FlagStatus] = {"confirm": FlagStatus.CONFIRMED, "dismiss": FlagStatus.DISMISSED}


@dataclass(frozen=True)
class ScanResult:
    since: datetime
    until: datetime
    notes: int  # notes written in the range
    new: dict[str, int] = field(default_factory=dict)  # flags raised by this scan, per kind
    open: dict[str, int] = field(default_factory=dict)  # flags open on the range's notes after it, per kind
    closed: dict[str, int] = field(default_factory=dict)  # open flags this scan closed, per kind
    digests: int = 0  # messages sent to supervisors
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "notes": self.notes,
                "new": self.new, "open": self.open, "closed": self.closed, "digests": self.digests,
                "seconds": round(self.seconds, 3)}


def rules(settings: Settings | None = None) -> detect.Rules:
    """The detector's rules from the settings: the window, extra claim patterns added to the built-in ones, the
    near-duplicate thresholds."""
    s = settings or get_settings()
    extra: dict[str, list[str]] = {str(k): v for k, v in s.honesty_claim_patterns.items()}
    patterns = {k: (*detect.CLAIM_PATTERNS.get(k, ()), *extra.get(k, [])) for k in {*detect.CLAIM_PATTERNS, *extra}}
    return detect.Rules(before=int(s.honesty_window_before_hours * 3600),
                        after=int(s.honesty_window_after_hours * 3600), patterns=patterns,
                        min_chars=s.honesty_duplicate_min_chars, threshold=s.honesty_duplicate_threshold)


# --- scanning ---------------------------------------------------------------------------------------------------


@dataclass
class _Found:
    """What the detector says about the range's notes: (note, kind) -> evidence."""

    evidence: dict[tuple[int, FlagKind], dict[str, Any]] = field(default_factory=dict)
    rep: dict[int, int] = field(default_factory=dict)


def scan(session: Session, *, since: datetime | None = None, until: datetime | None = None,
         now: datetime | None = None, settings: Settings | None = None) -> ScanResult:
    """Check the notes written in ``since``..``until`` (default: the last ``honesty_scan_days`` days up to now)."""
    started, s = time.perf_counter(), settings or get_settings()
    at = as_utc(now or utcnow())
    end = as_utc(until) if until else at
    start = as_utc(since) if since else end - timedelta(days=s.honesty_scan_days)
    found, count = _detect(session, start, end, rules(s), timedelta(days=s.honesty_duplicate_lookback_days))
    existing = repository.flags_of(session, {note for note, _ in found.evidence})
    new = _raise(session, found, existing, at)
    closed = _close(session, found, start, end, at)
    digests = _tell(session, new)
    still = repository.open_flags_between(session, start, end)
    result = ScanResult(start, end, count, _by_kind(new), _by_kind(still), _by_kind(closed), digests,
                        time.perf_counter() - started)
    if new or closed:  # a scan that changed nothing writes nothing
        audit.append(session, action="honesty.scanned", subject_type="honesty_flags",
                     payload={**result.as_dict(), "seconds": None, "raised": sorted(f.id for f in new),
                              "closed_ids": sorted(f.id for f in closed)})
    return result


def _detect(session: Session, start: datetime, end: datetime, rule: detect.Rules,
            lookback: timedelta) -> tuple[_Found, int]:
    conn = session.connection()
    pool = repository.notes(conn, start - lookback, end)
    inside = pool.notes.at >= int(start.timestamp())
    notes = _subset(pool.notes, inside)
    window = timedelta(seconds=rule.before) + MARGIN, timedelta(seconds=rule.after)
    contacts = repository.contacts(conn, start - window[0], end + window[1])
    found = _Found(rep=dict(zip(pool.notes.id.tolist(), pool.rep.tolist(), strict=True)))
    for u in detect.unbacked(notes, contacts, rule):
        found.evidence[(u.note_id, FlagKind.UNBACKED)] = _unbacked_evidence(u, rule)
    similar = detect.duplicates(pool.notes.id, pool.notes.customer, pool.notes.text, rule,
                                checked=notes.id.tolist())
    for d in similar:
        found.evidence[(d.note_id, FlagKind.DUPLICATE)] = _duplicate_evidence(d, rule)
    return found, len(notes.id)


def _subset(notes: detect.Notes, mask: np.ndarray) -> detect.Notes:
    picked = np.flatnonzero(mask).tolist()
    return detect.Notes(notes.id[mask], notes.customer[mask], notes.at[mask], [notes.text[i] for i in picked],
                        [notes.declared[i] for i in picked])


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _unbacked_evidence(u: detect.Unbacked, rule: detect.Rules) -> dict[str, Any]:
    def shown(c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "start": _iso(c["start"]), "end": _iso(c["end"])}

    return {"claims": list(u.claims),
            "window": {"from": _iso(u.window[0]), "to": _iso(u.window[1]), "before_hours": rule.before / 3600,
                       "after_hours": rule.after / 3600},
            "nearest_before": [shown(c) for c in u.before], "nearest_after": [shown(c) for c in u.after]}


def _duplicate_evidence(d: detect.Similar, rule: detect.Rules) -> dict[str, Any]:
    return {"min_chars": rule.min_chars, "shingle": rule.shingle, "threshold": rule.threshold,
            "similar": [{"id": note, "similarity": score} for note, score in d.similar]}


def _raise(session: Session, found: _Found, existing: dict[tuple[int, FlagKind], HonestyFlag],
           at: datetime) -> list[HonestyFlag]:
    """A flag for every (note, kind) the detector doubts that has none yet, the note's facts in its evidence."""
    fresh = [key for key in found.evidence if key not in existing]
    notes = repository.activities(session, {note for note, _ in fresh} | _similar_ids(found, fresh))
    flags = [HonestyFlag(activity_id=note, kind=kind, rep_id=notes[note].rep_id, status=FlagStatus.OPEN,
                         created_at=at, evidence=_with_facts(found.evidence[(note, kind)], notes[note], notes))
             for note, kind in sorted(fresh)]
    session.add_all(flags)
    session.flush()
    return flags


def _similar_ids(found: _Found, keys: Iterable[tuple[int, FlagKind]]) -> set[int]:
    return {s["id"] for key in keys for s in found.evidence[key].get("similar", [])}


def _with_facts(evidence: dict[str, Any], note: Activity, notes: dict[int, Activity]) -> dict[str, Any]:
    out = {"note": note_facts(note), **evidence}
    if "similar" in out:
        out["similar"] = [{**s, **_brief(notes[s["id"]])} for s in out["similar"]]
    return out


def note_facts(note: Activity) -> dict[str, Any]:
    return {**_brief(note), "id": note.id, "text": note.body or note.subject or "",
            "declared_type": note.declared_type.value if note.declared_type else None}


def _brief(note: Activity) -> dict[str, Any]:
    return {"at": as_utc(note.occurred_at).isoformat(), "rep_id": note.rep_id, "lead_id": note.lead_id,
            "opportunity_id": note.opportunity_id}


def _close(session: Session, found: _Found, start: datetime, end: datetime, at: datetime) -> list[HonestyFlag]:
    """Open flags on the range's notes that the detector no longer raises: closed by the scan."""
    stale = [f for f in repository.open_flags_between(session, start, end)
             if (f.activity_id, f.kind) not in found.evidence]
    reason = {FlagKind.UNBACKED: "backed", FlagKind.DUPLICATE: "not_similar"}
    for flag in stale:
        flag.status, flag.decided_at = FlagStatus.DISMISSED, at
        flag.evidence = {**flag.evidence, "closed": {"at": at.isoformat(), "reason": reason[flag.kind]}}
    session.flush()
    return stale


def _by_kind(flags: Sequence[HonestyFlag]) -> dict[str, int]:
    counts = Counter(f.kind.value for f in flags)
    return {k.value: counts.get(k.value, 0) for k in FlagKind}


# --- telling supervisors ------------------------------------------------------------------------------------------

DIGEST_TITLE_ONE = N_("{count} CRM note to review")
DIGEST_TITLE = N_("{count} CRM notes to review")
DIGEST_BODY = N_("The honesty checks doubt {count} notes of your team: {unbacked} claim a contact nothing captured "
                 "backs, {duplicate} are near-copies of notes about other customers. Confirm or dismiss each.")


def recipients(session: Session, rep_ids: Iterable[int]) -> dict[int, list[int]]:
    """Who reviews each rep's flags: their team's supervisor, else sales ops (else admins)."""
    bosses = repository.supervisors(session, set(rep_ids))
    fallback: list[int] | None = None
    out: dict[int, list[int]] = {}
    for rep, boss in bosses.items():
        if boss is None:
            fallback = fallback if fallback is not None else notify.ops_ids(session)
        out[rep] = [boss] if boss is not None else [r for r in fallback or [] if r != rep]
    return out


def _tell(session: Session, flags: Sequence[HonestyFlag]) -> int:
    """One digest per reviewer for this scan's new flags."""
    reviewers = recipients(session, {f.rep_id for f in flags})
    mine: dict[int, list[HonestyFlag]] = defaultdict(list)
    for flag in flags:
        for person in reviewers.get(flag.rep_id, []):
            mine[person].append(flag)
    messages = [_digest(person, got) for person, got in sorted(mine.items())]
    notify.send_all(session, messages)
    return len(messages)


def _digest(person: int, flags: list[HonestyFlag]) -> notify.Message:
    kinds = Counter(f.kind for f in flags)
    return notify.Message(person, KIND, plural(len(flags), DIGEST_TITLE_ONE, DIGEST_TITLE), DIGEST_BODY, LINK,
                          key=f"honesty:{min(f.id for f in flags)}:{person}",
                          params={"count": len(flags), "unbacked": kinds[FlagKind.UNBACKED],
                                  "duplicate": kinds[FlagKind.DUPLICATE]})


# --- reading and deciding -------------------------------------------------------------------------------------------


def visible(session: Session, principal: Principal, flag_id: int, *, lock: bool = False) -> HonestyFlag:
    stmt = repository.readable(principal).where(HonestyFlag.id == flag_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        audit.lock(session)
        stmt = stmt.with_for_update()
    flag = session.scalar(stmt)
    if flag is None:
        raise NotFound("No honesty flag with id {id}.", field="flag_id", id=flag_id)
    return flag


def may_decide(session: Session, principal: Principal, flag: HonestyFlag) -> bool:
    """Sales ops and admin, or the supervisor of the rep's team; never on one's own notes."""
    return _may(principal, flag, repository.team_of(session, flag.rep_id))


def decide(session: Session, flag_id: int, decision: Decision, *, note: str, actor: Principal,
           now: datetime | None = None) -> HonestyFlag:
    """Confirm (the note is what the checks say) or dismiss (it is not) an open flag, once; audited."""
    flag = visible(session, actor, flag_id, lock=True)
    if not may_decide(session, actor, flag):
        raise Forbidden("Only the supervisor of the rep's team, sales ops or an admin decide on this flag.",
                        field="flag_id")
    if flag.status is not FlagStatus.OPEN:
        raise Conflict("This flag was decided already ({status}).", field="flag_id", status=flag.status.value)
    at = as_utc(now or utcnow())
    flag.status, flag.decided_by, flag.decided_at, flag.decision_note = DECIDED[decision], actor.user_id, \
        at, note
    session.flush()
    audit.append(session, action=f"honesty.{flag.status.value}", subject_type="honesty_flags", subject_id=flag.id,
                 actor_id=actor.user_id, at=at,
                 payload={"activity_id": flag.activity_id, "kind": flag.kind.value, "rep_id": flag.rep_id,
                          "note": note})
    return flag


def listed(session: Session, principal: Principal, *, status: FlagStatus | None = None, kind: FlagKind | None = None,
           limit: int = 200) -> list[HonestyFlag]:
    return list(session.scalars(repository.listed(principal, status=status, kind=kind, limit=limit)))



def detail(session: Session, principal: Principal, flag_id: int) -> FlagDetail:
    flag = visible(session, principal, flag_id)
    name = repository.names(session, {flag.rep_id}).get(flag.rep_id, "")
    return FlagDetail.model_validate({**FlagRead.model_validate(flag).model_dump(), "evidence": flag.evidence,
                                      "rep_name": name, "may_decide": may_decide(session, principal, flag)})


def reviewed(session: Session, principal: Principal, *, status: FlagStatus | None, limit: int = 100,
             mine: bool = False) -> list[FlagDetail]:
    """Flags with their evidence, the rep's name and whether the reader may decide them (what a page lays out);
    ``mine``: only the reader's own."""
    flags = list(session.scalars(repository.listed(principal, status=status, limit=limit,
                                                   rep_id=principal.user_id if mine else None)))
    reps = {f.rep_id for f in flags}
    names, teams = repository.names(session, reps), repository.teams(session, reps)
    return [FlagDetail.model_validate({**FlagRead.model_validate(f).model_dump(), "evidence": f.evidence,
                                       "rep_name": names.get(f.rep_id, ""),
                                       "may_decide": _may(principal, f, teams.get(f.rep_id))}) for f in flags]


def _may(principal: Principal, flag: HonestyFlag, team_id: int | None) -> bool:
    if not principal.can_write or flag.rep_id == principal.user_id:
        return False
    return principal.manages_org or team_id in principal.supervised_team_ids
