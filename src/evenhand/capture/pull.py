"""Backfill pulls: what WeCom and DingTalk hold from before their webhooks were set up (or while they were down),
read over a window and captured through the one ingest door (``activities.service.capture_many``).

- **WeCom**: the public-phone call records (公费电话, ``dial/get_dial_record``), a day at a time, as **calls**: one
  activity per callee outside the company (a member called is no customer), outbound, answered (WeCom lists only calls
  that connected), the callee's talk time (WeCom gives minutes). The rep is the caller's userid (a rep's external id or
  username). Before the calls, every follow user's external contacts are read (``batch/get_by_user``): a callee whose
  number a rep noted on a contact (``remark_mobiles``) is linked by that contact's ``external_userid`` — the lead's
  external id, as the webhook links — and otherwise by the number itself.
- **DingTalk**: the follow records of DingTalk's CRM (跟进记录), as **notes** (what the rep wrote, checked by the
  honesty checks): the text, the way of following up (跟进方式: 当面拜访, 电话 …) as the declared type, linked by the
  CRM customer's (else contact's) instance id as the lead's external id. DingTalk's query takes no time range that
  its documentation defines, so every record is read and those created in the window kept.

Each page is captured in a transaction of its own, so a pull that stops keeps what it stored, and a pull run again
stores nothing twice: the key is (source system, external id) — ``dial:<time>:<caller>:<number>`` for a call,
``followrecord:<instance id>`` for a follow record. Every pull, finished or failed, leaves one audit entry
``capture.pull`` (subject: the connector) with its window and counts, which the connectors page shows; a failure is
counted as the connector's error with the platform's errcode and errmsg.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.activities.schemas import ActivityCreate
from evenhand.activities.service import Tally, capture_many
from evenhand.capture import service
from evenhand.capture.dingtalk_client import DingTalkClient
from evenhand.capture.platform import PlatformError
from evenhand.capture.wecom_client import WeComClient
from evenhand.db import session_scope
from evenhand.kit import audit
from evenhand.kit.once import first_writer_wins
from evenhand.leads.keys import phone_key
from evenhand.models import ActivityType, AuditEntry, Direction, SourceSystem

BEIJING = ZoneInfo("Asia/Shanghai")  # DingTalk writes its times in Beijing time, without a zone
DAY = timedelta(days=1)
LONGEST_KEY = 120  # an activity's external id
PULL = "capture.pull"
Progress = Callable[[int, int | None], None]  # steps done, of how many (None: not known ahead)
# The way of following up (跟进方式) as the declared type: the first word found in a select field wins.
DECLARED = (("拜访", ActivityType.VISIT), ("上门", ActivityType.VISIT), ("面访", ActivityType.VISIT),
            ("visit", ActivityType.VISIT), ("会议", ActivityType.MEETING), ("面谈", ActivityType.MEETING),
            ("meeting", ActivityType.MEETING), ("电话", ActivityType.CALL), ("通话", ActivityType.CALL),
            ("call", ActivityType.CALL), ("微信", ActivityType.MESSAGE), ("短信", ActivityType.MESSAGE),
            ("消息", ActivityType.MESSAGE), ("message", ActivityType.MESSAGE), ("邮件", ActivityType.EMAIL),
            ("email", ActivityType.EMAIL))


@dataclass
class Counts:
    """What a pull did: records fetched from the platform; activities stored (new or changed), already had
    (unchanged), unmatched (waiting in the reconciliation list: no known rep, or no lead); records skipped (no
    customer in them, or a value an activity refuses); rate-limit answers waited out."""

    fetched: int = 0
    stored: int = 0
    already_had: int = 0
    unmatched: int = 0
    skipped: int = 0
    waits: int = 0

    def add(self, tally: Tally) -> None:
        self.stored += tally.created + tally.updated
        self.already_had += tally.unchanged
        self.unmatched += sum(tally.waiting.values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _quiet(done: int, total: int | None) -> None:
    pass


def _key(text: str) -> str:
    return text if len(text) <= LONGEST_KEY else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --- WeCom -------------------------------------------------------------------------------------------------

def contact_index(contacts: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Phone (normalised) → the external contact's ``external_userid``, from the numbers reps noted on their contacts
    (``follow_info.remark_mobiles``); the first contact carrying a number keeps it."""
    found: dict[str, str] = {}
    for item in contacts:
        contact, follow = item.get("external_contact") or {}, item.get("follow_info") or {}
        external = contact.get("external_userid") if isinstance(contact, dict) else None
        mobiles = follow.get("remark_mobiles") if isinstance(follow, dict) else None
        for mobile in mobiles or [] if external else []:
            if (key := phone_key(str(mobile))) is not None:
                found.setdefault(key, str(external))
    return found


def dial_rows(record: dict[str, Any], contacts: dict[str, str]) -> list[dict[str, Any]]:
    """A call record's activities: one per callee outside the company (members called have no ``phone``)."""
    caller, at = record.get("caller") or {}, record.get("call_time")
    if not isinstance(caller, dict) or not isinstance(at, int | str) or not str(at).isdigit():
        return []
    rows = []
    for callee in record.get("callee") or []:
        phone = str(callee.get("phone") or "") if isinstance(callee, dict) else ""
        if not phone:
            continue
        minutes = callee.get("duration")
        rows.append({"source_system": SourceSystem.WECOM, "type": ActivityType.CALL, "direction": Direction.OUTBOUND,
                     "external_id": _key(f"dial:{at}:{caller.get('userid')}:{phone}"), "rep": caller.get("userid"),
                     "occurred_at": datetime.fromtimestamp(int(at), BEIJING), "phone": phone,
                     "lead": contacts.get(phone_key(phone) or ""), "answered": True,
                     "duration_seconds": int(minutes) * 60 if isinstance(minutes, int) else None})
    return rows


def days(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The window as days: (first second, last second), both included as WeCom reads them."""
    spans, start = [], since
    while start < until:
        end = min(start + DAY, until)
        spans.append((start, end - timedelta(seconds=1)))
        start = end
    return spans


def pull_wecom(engine: Engine, client: WeComClient, *, since: datetime, until: datetime,
               progress: Progress = _quiet) -> Counts:
    """Backfill WeCom's call records of the window [since, until), linked by the contacts read first."""
    def work(counts: Counts) -> None:
        contacts = contact_index(client.contacts(client.follow_users()))
        spans = days(since, until)
        for done, (start, end) in enumerate(spans, 1):
            for page in client.dial_records(start, end):
                _take(engine, SourceSystem.WECOM, page, [dial_rows(r, contacts) for r in page], counts)
            progress(done, len(spans))

    return _run(engine, client, SourceSystem.WECOM, since, until, work)


# --- DingTalk ------------------------------------------------------------------------------------------------

def _fields(record: dict[str, Any]) -> dict[str, Any]:
    data = record.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str:
    """A field's shown value: the value itself, or ``value`` of a ``{"value", "extendValue"}`` pair."""
    if isinstance(value, dict):
        value = value.get("value")
    return value.strip() if isinstance(value, str) else ""


def _instance(value: Any) -> str | None:
    """The first instance id a related-object field quotes (``extendValue``: ``{"list": [{"instanceId"}]}``)."""
    extend = value.get("extendValue") if isinstance(value, dict) else None
    try:
        quoted = json.loads(extend) if isinstance(extend, str) else extend
    except ValueError:
        return None
    listed = quoted.get("list") if isinstance(quoted, dict) else None
    first = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else {}
    return str(first["instanceId"]) if first.get("instanceId") else None


def declared(labels: Iterable[str]) -> ActivityType | None:
    """The activity a way of following up names (当面拜访 → visit, 电话 → call …), or None."""
    for label in labels:
        for word, kind in DECLARED:
            if word in label.lower():
                return kind
    return None


def created_at(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(record.get("gmt_create") or ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def follow_row(record: dict[str, Any]) -> dict[str, Any] | None:
    """A follow record as a note: its text, its way of following up as the declared type, its customer."""
    fields, at = _fields(record), created_at(record)
    if not record.get("instance_id") or at is None:
        return None
    labels = [_text(v) for k, v in fields.items() if k.startswith("DDSelectField") and _text(v)]
    text = "\n".join(_text(v) for k, v in fields.items() if k.startswith(("TextareaField", "TextField")) and _text(v))
    owners = (record.get("permission") or {}).get("owner_userid_list") or [None]
    return {"source_system": SourceSystem.DINGTALK, "type": ActivityType.NOTE, "direction": Direction.OUTBOUND,
            "external_id": _key(f"followrecord:{record['instance_id']}"), "occurred_at": at,
            "rep": record.get("creator_userid") or owners[0], "body": text[:20_000] or None,
            "subject": " · ".join(labels)[:300] or None, "declared_type": declared(labels),
            "lead": _instance(fields.get("follow_record_related_customer"))
            or _instance(fields.get("follow_record_related_contact"))}


def pull_dingtalk(engine: Engine, client: DingTalkClient, *, since: datetime, until: datetime,
                  progress: Progress = _quiet) -> Counts:
    """Backfill DingTalk's CRM follow records created in the window [since, until)."""
    def work(counts: Counts) -> None:
        for done, page in enumerate(client.follow_records(), 1):
            kept = [r for r in page if (at := created_at(r)) is not None and since <= at < until]
            _take(engine, SourceSystem.DINGTALK, kept, [[row] if (row := follow_row(r)) else [] for r in kept], counts)
            progress(done, None)

    return _run(engine, client, SourceSystem.DINGTALK, since, until, work)


# --- storing -------------------------------------------------------------------------------------------------

def _take(engine: Engine, source: SourceSystem, records: list[dict[str, Any]], drafts: list[list[dict[str, Any]]],
          counts: Counts) -> None:
    """Capture one page's activities in a transaction of its own; audited when something changed. Rows an
    activity refuses are skipped and counted as one error of the connector, naming the first."""
    counts.fetched += len(records)
    counts.skipped += sum(1 for rows in drafts if not rows)
    valid, problems = _valid([row for rows in drafts for row in rows])
    counts.skipped += len(problems)
    if valid:
        tally = Tally()
        with session_scope(engine) as session:
            first_writer_wins(session, lambda: capture_many(session, valid, update=True, tally=tally))
            if tally.changed():
                audit.append(session, action=f"capture.{source.value}", subject_type="activities",
                             payload={"source_system": source.value, "pull": True, **tally.as_dict()})
            service.took(session, source.value, tally.created + tally.updated)
        counts.add(tally)
    if problems:  # after the commit: on SQLite the write lock is free again
        service.refused(engine, source.value, f"pull: {len(problems)} records refused, first {problems[0]}")


def _valid(rows: list[dict[str, Any]]) -> tuple[list[ActivityCreate], list[str]]:
    valid, problems = [], []
    for row in rows:
        try:
            valid.append(ActivityCreate.model_validate({k: v for k, v in row.items() if v is not None}))
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append(f"{row.get('external_id')}: {'.'.join(map(str, first['loc']))}: {first['msg']}")
    return valid, problems


def _run(engine: Engine, client: WeComClient | DingTalkClient, source: SourceSystem, since: datetime,
         until: datetime, work: Callable[[Counts], None]) -> Counts:
    """Do the work and record the pull (window, counts, and the error it stopped on) in the audit log; a platform
    error is counted as the connector's error and raised again."""
    counts = Counts()
    try:
        work(counts)
    except PlatformError as exc:
        counts.waits = client.waits
        record(engine, source.value, since, until, counts, error=str(exc))
        service.refused(engine, source.value, f"pull: {exc}")
        raise
    counts.waits = client.waits
    record(engine, source.value, since, until, counts)
    return counts


def record(engine: Engine, connector: str, since: datetime, until: datetime, counts: Counts, *,
           error: str | None = None) -> None:
    with session_scope(engine) as session:
        audit.append(session, action=PULL, subject_type="connectors", subject_id=connector,
                     payload={"since": since.isoformat(), "until": until.isoformat(), **counts.as_dict(),
                              "error": error[:500] if error else None})


@dataclass(frozen=True)
class LastPull:
    """A connector's last pull as the connectors page shows it."""

    at: datetime
    since: str
    until: str
    counts: dict[str, int]
    error: str | None


def last_pulls(session: Session, connectors: Iterable[str]) -> dict[str, LastPull]:
    """Each connector's last pull (from the audit log), for those that ever pulled."""
    found = {}
    for connector in connectors:
        row = session.execute(select(AuditEntry.at, AuditEntry.payload).where(
            AuditEntry.action == PULL, AuditEntry.subject_id == connector).order_by(AuditEntry.seq.desc()).limit(1)
        ).tuples().first()
        if row is not None:
            at, payload = row
            found[connector] = LastPull(at, str(payload.get("since")), str(payload.get("until")),
                                        {k: int(payload.get(k) or 0) for k in Counts().as_dict()},
                                        payload.get("error"))
    return found
