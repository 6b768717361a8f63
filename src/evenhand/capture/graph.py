"""Microsoft Graph (Outlook mail and calendar): change notifications at ``POST /api/v1/capture/graph``, worked by the
worker from a queue, and the subscriptions that make Graph send them.

**The webhook** answers at once and never calls Graph:

- ``?validationToken=…`` (Graph checking the URL when a subscription is created): the token, decoded, as
  ``text/plain`` with 200.
- otherwise a notification collection ``{"value": [...]}``. Every item must name a subscription evenhand created
  (``GraphSubscription``) and carry its ``clientState`` (compared in constant time); one that does not refuses the
  whole request (401), counted as the connector's error, and nothing is queued. The items are queued
  (``CaptureQueueItem``, connector ``outlook``) and the answer is 202. A change notification whose resource and
  ``@odata.etag`` were queued before (Graph delivering it again) is not queued twice. A test item (subscription id
  ``evenhand-test-…``, signed with the test client state derived from the app's secret) is answered and counted,
  and queues nothing.

**The worker** (``capture.tasks``) fetches each changed message or event and captures it through
``activities.service.capture_many`` (source ``outlook``, external id the Graph id; ids longer than 120 characters
as ``sha256:`` and 64 hex digits of the id): a message is an ``email`` (outbound when the mailbox owner sent it),
with its subject, ``attachment_count`` (attachments that are not inline) and ``replied`` (the message answers
another: an ``In-Reply-To`` header, or a conversation index longer than its 22-byte header); an event is a
``meeting`` with its duration and subject (outbound when the owner organised it; cancelled events are skipped).
The rep is the mailbox's owner (matched by e-mail); the lead is the first counterpart (recipients, sender,
attendees) whose e-mail names one, else the first counterpart, and the activity waits in the reconciliation list.
A fetch that fails is tried again after 1, 3, 7, 15 and 31 minutes; after ``MAX_ATTEMPTS`` the item is given up,
its error kept on it and counted as the connector's error. A resource Graph no longer has (404, 410) is given up
at once.

**Lifecycle notifications** are queued the same way: ``reauthorizationRequired`` renews the subscription,
``subscriptionRemoved`` creates it again, and both, like ``missed``, pull the mailbox's messages or events of the
last day by delta query, so nothing is lost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.activities.schemas import ActivityCreate
from evenhand.activities.service import Tally, capture_many
from evenhand.capture import service
from evenhand.capture.graph_client import UNSET, GraphClient, GraphError, NotConfigured
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.deps import AppSettings, DbSession
from evenhand.errors import Invalid, Unauthorized
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.kit.once import first_writer_wins
from evenhand.leads import repository as lead_repository
from evenhand.models import ActivityType, CaptureQueueItem, Direction, GraphSubscription, SourceSystem

router = APIRouter(tags=["capture"])
CONNECTOR = "outlook"
PATH = "/capture/graph"
MAX_BODY = 1 << 20
MAX_TOKEN = 4096
KINDS = ("messages", "events")
LIFETIME = timedelta(minutes=10_000)  # Outlook subscriptions live at most 10,080 minutes (under 7 days)
RENEW_MARGIN = timedelta(days=1)  # renewed when they expire within this, by an hourly job
MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)  # the n-th retry waits 2^n - 1 minutes after the notification came
BATCH = 200
LOOKBACK = timedelta(days=1)  # what a lifecycle notification pulls again
LONGEST = timedelta(days=7)  # a meeting longer than this is a calendar block, kept without a duration
TEST_SUBSCRIPTION = f"{service.TEST_PREFIX}subscription"
NOT_A_COLLECTION = N_("The body must be a JSON notification collection, its items in a list named value.")
UNKNOWN = N_("The notification names no subscription evenhand created.")
MISMATCH = N_("The notification's clientState does not match its subscription's.")


# --- the webhook --------------------------------------------------------------------------------------------

async def _body(request: Request) -> bytes:
    return await request.body()


@router.post(PATH, include_in_schema=False, dependencies=[Depends(service.watch(CONNECTOR), scope="function")])
def notifications(session: DbSession, settings: AppSettings, body: Annotated[bytes, Depends(_body)],
                  token: Annotated[str | None, Query(alias="validationToken", max_length=MAX_TOKEN)] = None
                  ) -> Response:
    """Graph's URL check (the token back, plain text) or a batch of notifications (queued, 202)."""
    if token is not None:
        return PlainTextResponse(token)
    accept(session, settings, body)
    return Response(status_code=202)


def accept(session: Session, settings: Settings, body: bytes) -> int:
    """Check every item of a notification collection and queue the real ones; how many were queued."""
    items = collection(body)
    known = subscriptions(session, {str(i.get("subscriptionId")) for i in items})
    for item in items:
        sub_id, given = str(item.get("subscriptionId") or ""), str(item.get("clientState") or "")
        expected = test_client_state(settings) if sub_id == TEST_SUBSCRIPTION else (
            known[sub_id].client_state if sub_id in known else None)
        if expected is None:
            raise Unauthorized(UNKNOWN, field="subscriptionId")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise Unauthorized(MISMATCH, field="clientState")
    queued = [queue_payload(item, known[str(item["subscriptionId"])]) for item in items
              if item.get("subscriptionId") != TEST_SUBSCRIPTION]
    fresh = [p for p in queued if "lifecycle" in p or not p.get("etag")
             or service.first_time(session, CONNECTOR, f"{p['subscription']}:{p['id']}:{p['etag']}")]
    session.add_all(CaptureQueueItem(connector=CONNECTOR, payload=p) for p in fresh)
    service.took(session, CONNECTOR, len(items))
    return len(fresh)


def collection(body: bytes) -> list[dict[str, Any]]:
    """The items of ``{"value": [...]}``; ``Invalid`` for anything else."""
    if len(body) > MAX_BODY:
        raise Invalid(NOT_A_COLLECTION, field="value")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise Invalid(NOT_A_COLLECTION, field="value") from None
    items = parsed.get("value") if isinstance(parsed, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise Invalid(NOT_A_COLLECTION, field="value")
    return items


def subscriptions(session: Session, ids: Iterable[str]) -> dict[str, GraphSubscription]:
    wanted = [i for i in ids if i and len(i) <= 120]
    if not wanted:
        return {}
    return {s.subscription_id: s for s in session.scalars(
        select(GraphSubscription).where(GraphSubscription.subscription_id.in_(wanted)))}


def queue_payload(item: dict[str, Any], subscription: GraphSubscription) -> dict[str, Any]:
    """What the worker needs of a notification: the subscription, its mailbox and kind, and the resource's id and
    version (or the lifecycle event)."""
    mailbox, kind = split_resource(subscription.resource)
    payload: dict[str, Any] = {"subscription": subscription.subscription_id, "mailbox": mailbox, "kind": kind}
    if item.get("lifecycleEvent"):
        return {**payload, "lifecycle": str(item["lifecycleEvent"])[:40]}
    data = item["resourceData"] if isinstance(item.get("resourceData"), dict) else {}
    resource_id = data.get("id") or str(item.get("resource") or "").rstrip("/").rpartition("/")[2]
    return {**payload, "change": str(item.get("changeType") or "")[:40], "id": str(resource_id)[:400],
            "etag": str(data.get("@odata.etag") or "")[:100]}


def split_resource(resource: str) -> tuple[str, str]:
    """``users/{mailbox}/messages`` → (mailbox, ``messages``)."""
    parts = resource.strip("/").split("/")
    return (parts[1] if len(parts) > 1 else "", parts[-1].lower())


def test_client_state(settings: Settings) -> str:
    """The client state of test notifications: derived from the app's secret, so only the app can sign one."""
    return hmac.new(settings.secret().encode(), b"evenhand graph test notification", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Sample:
    """A request as Graph would send it: to pass to the app (the connectors page's "send test event")."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


def sample_request(settings: Settings) -> Sample:
    """A valid test notification: a message created, under the test subscription; it stores nothing."""
    event_id = f"{service.TEST_PREFIX}{secrets.token_hex(8)}"
    item = {"subscriptionId": TEST_SUBSCRIPTION, "clientState": test_client_state(settings), "changeType": "created",
            "subscriptionExpirationDateTime": (utcnow() + LIFETIME).isoformat(),
            "resource": f"Users/{service.TEST_PREFIX}mailbox/Messages/{event_id}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": event_id},
            "tenantId": settings.graph_tenant_id or ""}
    return Sample("POST", f"/api/v1{PATH}", {}, {"Content-Type": "application/json"},
                  json.dumps({"value": [item]}).encode())


# --- messages and events as activities ------------------------------------------------------------------

@dataclass
class Draft:
    """An activity but for its lead: the counterparts' e-mails, the first naming a lead to be chosen."""

    fields: dict[str, Any]
    counterparts: list[str]


def external_key(graph_id: str) -> str:
    """The Graph id, or its SHA-256 when longer than an activity's external id may be."""
    return graph_id if len(graph_id) <= 120 else "sha256:" + hashlib.sha256(graph_id.encode()).hexdigest()


def moment(value: Any, zone: str | None = None) -> datetime | None:
    """An ISO time from Graph (``…Z``, or a ``dateTimeTimeZone``'s local time with its zone; seven decimals)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.rstrip("Z")
    head, dot, fraction = text.partition(".")
    try:
        at = datetime.fromisoformat(head + (dot + fraction[:6] if dot else ""))
    except ValueError:
        return None
    return at.replace(tzinfo=_zone(zone)) if at.tzinfo is None else at


def _zone(name: str | None) -> Any:
    if not name or name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return UTC  # a Windows zone name: the requests ask for UTC, so this is rare


def _address(holder: Any) -> str:
    found = holder.get("emailAddress", {}).get("address") if isinstance(holder, dict) else None
    return str(found).strip() if found else ""


def _others(addresses: Iterable[str], owner: str) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        if address and address.casefold() != owner.casefold():
            seen.setdefault(address.casefold(), address)
    return list(seen.values())


def is_reply(message: dict[str, Any]) -> bool:
    """Whether the message answers another: an ``In-Reply-To`` header, or a conversation index past its 22-byte
    header (each reply adds 5 bytes)."""
    headers = message.get("internetMessageHeaders") or []
    if any(isinstance(h, dict) and str(h.get("name", "")).lower() == "in-reply-to" for h in headers):
        return True
    try:
        return len(base64.b64decode(message.get("conversationIndex") or "", validate=True)) > 22
    except (binascii.Error, ValueError):
        return False


def attachments(message: dict[str, Any]) -> int:
    """Attachments that are not inline (pictures in a signature are not a proposal); else 1 for ``hasAttachments``."""
    listed = message.get("attachments")
    if isinstance(listed, list):
        return sum(1 for a in listed if isinstance(a, dict) and not a.get("isInline"))
    return 1 if message.get("hasAttachments") else 0


def mail_draft(message: dict[str, Any], owner: str) -> Draft | None:
    """A message of ``owner``'s mailbox as an e-mail activity; None for a draft."""
    if message.get("isDraft") or not message.get("id"):
        return None
    sender = _address(message.get("from")) or _address(message.get("sender"))
    outbound = sender.casefold() == owner.casefold()
    recipients = [_address(r) for r in (message.get("toRecipients") or []) + (message.get("ccRecipients") or [])]
    when = message.get("sentDateTime") if outbound else message.get("receivedDateTime")
    return Draft({"source_system": SourceSystem.OUTLOOK, "external_id": external_key(str(message["id"])),
                  "type": ActivityType.EMAIL, "direction": Direction.OUTBOUND if outbound else Direction.INBOUND,
                  "occurred_at": moment(when) or moment(message.get("createdDateTime")), "rep": owner,
                  "subject": (message.get("subject") or "")[:300] or None, "attachment_count": attachments(message),
                  "replied": is_reply(message)},
                 _others(recipients if outbound else [sender], owner))


def meeting_draft(event: dict[str, Any], owner: str) -> Draft | None:
    """An event of ``owner``'s calendar as a meeting; None when cancelled."""
    if event.get("isCancelled") or not event.get("id"):
        return None
    start, end = (moment(event.get(k, {}).get("dateTime"), event.get(k, {}).get("timeZone")) for k in ("start", "end"))
    organizer = _address(event.get("organizer"))
    duration = end - start if start and end else None
    attendees = [_address(a) for a in event.get("attendees") or []]
    return Draft({"source_system": SourceSystem.OUTLOOK, "external_id": external_key(str(event["id"])),
                  "type": ActivityType.MEETING,
                  "direction": Direction.OUTBOUND if organizer.casefold() == owner.casefold() else Direction.INBOUND,
                  "occurred_at": start, "rep": owner, "subject": (event.get("subject") or "")[:300] or None,
                  "duration_seconds": int(duration.total_seconds()) if duration and timedelta(0) <= duration <= LONGEST
                  else None},
                 _others([organizer, *attendees], owner))


def activity_rows(session: Session, drafts: Sequence[Draft]) -> tuple[list[ActivityCreate], list[str]]:
    """The drafts as activities, each linked by the first counterpart whose e-mail names a lead (else the first);
    and the problems of those an activity refuses."""
    emails = {e for d in drafts for e in d.counterparts}
    _, by_email, _ = lead_repository.lead_ids_by_key(session, emails=emails) if emails else ({}, {}, {})
    rows, problems = [], []
    for draft in drafts:
        email = next((e for e in draft.counterparts if e in by_email), draft.counterparts[0] if draft.counterparts
                     else None)
        try:
            rows.append(ActivityCreate.model_validate({**{k: v for k, v in draft.fields.items() if v is not None},
                                                       "email": email} if email else draft.fields))
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append(f"{draft.fields.get('external_id')}: {'.'.join(map(str, first['loc']))}: {first['msg']}")
    return rows, problems


def capture(session: Session, drafts: Sequence[Draft]) -> tuple[Tally, list[str]]:
    """Capture the drafts through the one ingest door (an activity captured before is updated if Graph changed it,
    and otherwise left as it is); audited when something changed."""
    rows, problems = activity_rows(session, drafts)
    tally = Tally()
    if rows:
        first_writer_wins(session, lambda: capture_many(session, rows, update=True, tally=tally))
    if tally.changed():
        audit.append(session, action="capture.outlook", subject_type="activities",
                     payload={"source_system": CONNECTOR, **tally.as_dict(), "refused": len(problems)})
    return tally, problems


# --- the queue ------------------------------------------------------------------------------------------------

@dataclass
class Drained:
    """What a run of the queue did: items done, tried again later, given up; activities created or updated."""

    done: int = 0
    retried: int = 0
    given_up: int = 0
    tally: Tally = field(default_factory=Tally)
    failures: list[str] = field(default_factory=list)  # why each item given up was


def due(attempts: int, received_at: datetime, now: datetime) -> bool:
    """An item is tried at once, then 1, 3, 7, 15, 31 minutes after it came, then no more."""
    return attempts < MAX_ATTEMPTS and now >= _aware(received_at) + RETRY_BASE * (2 ** attempts - 1)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def pending(engine: Engine, now: datetime, limit: int = BATCH) -> list[tuple[int, dict[str, Any], int]]:
    """Items due now, oldest first: (id, payload, attempts)."""
    with session_scope(engine, readonly=True) as session:
        rows = session.execute(select(CaptureQueueItem.id, CaptureQueueItem.payload, CaptureQueueItem.attempts,
                                      CaptureQueueItem.received_at)
                               .where(CaptureQueueItem.connector == CONNECTOR, CaptureQueueItem.done_at.is_(None),
                                      CaptureQueueItem.attempts < MAX_ATTEMPTS)
                               .order_by(CaptureQueueItem.id).limit(limit * 4)).tuples().all()
    return [(i, p, a) for i, p, a, at in rows if due(a, at, now)][:limit]


class Owners:
    """Each mailbox's e-mail address, asked of Graph once per run."""

    def __init__(self, client: GraphClient) -> None:
        self.client, self.known = client, dict[str, str]()

    def __call__(self, mailbox: str) -> str:
        if mailbox not in self.known:
            self.known[mailbox] = self.client.address(mailbox)
        return self.known[mailbox]


def fetch(client: GraphClient, owners: Callable[[str], str], payload: dict[str, Any]) -> list[Draft]:
    """The activity a change notification stands for (none for a deletion, a draft or a cancelled event)."""
    if payload.get("change") == "deleted" or not payload.get("id"):
        return []
    owner = owners(payload["mailbox"])
    if payload["kind"] == "events":
        draft = meeting_draft(client.event(payload["mailbox"], payload["id"]), owner)
    else:
        draft = mail_draft(client.message(payload["mailbox"], payload["id"]), owner)
    return [draft] if draft else []


def drain(engine: Engine, settings: Settings, *, now: datetime, client: GraphClient | None = None) -> Drained:
    """Work the due items: fetch outside any transaction (Graph may be slow; SQLite's write lock is not held
    meanwhile), then capture and record every item's outcome in one."""
    items = pending(engine, now)
    if not items:
        return Drained()
    own = client is None
    client = client or GraphClient(settings)
    try:
        return _work(engine, settings, client, items, now)
    finally:
        if own:
            client.close()


def _work(engine: Engine, settings: Settings, client: GraphClient, items: list[tuple[int, dict[str, Any], int]],
          now: datetime) -> Drained:
    owners, drafts, errors = Owners(client), list[Draft](), dict[int, GraphError]()
    for item_id, payload, _ in items:
        try:
            if "lifecycle" in payload:
                drafts += lifecycle(engine, settings, client, owners, payload, now=now)
            else:
                drafts += fetch(client, owners, payload)
        except GraphError as failed:
            errors[item_id] = failed
        except NotConfigured as unset:  # a lifecycle step needs the notification URL: kept, and tried again
            errors[item_id] = GraphError(unset.message.format(**unset.params))
    with session_scope(engine) as session:
        tally, problems = capture(session, drafts)
        result = _record(session, items, errors, now)
    result.tally = tally
    for problem in [f"activity refused: {p}" for p in problems] + result.failures:
        service.refused(engine, CONNECTOR, problem)  # after the commit: on SQLite the write lock is free again
    return result


def _record(session: Session, items: list[tuple[int, dict[str, Any], int]], errors: dict[int, GraphError],
            now: datetime) -> Drained:
    result = Drained()
    for item_id, _, attempts in items:
        row = session.get(CaptureQueueItem, item_id)
        if row is None:
            continue
        row.attempts = attempts + 1
        exc = errors.get(item_id)
        if exc is None:
            row.done_at, row.error = now, None
            result.done += 1
        elif exc.permanent or row.attempts >= MAX_ATTEMPTS:
            row.attempts, row.error = MAX_ATTEMPTS, str(exc)[:4000]
            result.given_up += 1
            result.failures.append(f"queue item {item_id} given up after {attempts + 1} attempts: {exc}")
        else:
            row.error = str(exc)[:4000]
            result.retried += 1
    return result


# --- subscriptions ----------------------------------------------------------------------------------------

def resources(settings: Settings) -> list[str]:
    """What is subscribed to: each mailbox's messages and its calendar's events."""
    return [f"users/{mailbox}/{kind}" for mailbox in settings.graph_mailboxes for kind in KINDS]


def active(engine: Engine) -> list[GraphSubscription]:
    with session_scope(engine, readonly=True) as session:
        rows = list(session.scalars(select(GraphSubscription).where(GraphSubscription.active.is_(True))
                                    .order_by(GraphSubscription.id)))
        session.expunge_all()
    return rows


def notification_url(settings: Settings) -> str:
    if not settings.graph_notification_url:
        raise NotConfigured(UNSET, field="graph_notification_url", setting="graph_notification_url")
    return settings.graph_notification_url


def create(engine: Engine, settings: Settings, client: GraphClient, resource: str, *, now: datetime) -> str:
    """A new subscription to ``resource`` with a fresh client state, stored once Graph created it (Graph checks the
    URL first, which the webhook answers without the database)."""
    state = secrets.token_urlsafe(48)
    made = client.subscribe(resource, notification_url=notification_url(settings), expires=now + LIFETIME,
                            client_state=state)
    with session_scope(engine) as session:
        session.add(GraphSubscription(subscription_id=str(made["id"]), resource=resource, client_state=state,
                                      expires_at=moment(made.get("expirationDateTime")) or now + LIFETIME,
                                      created_at=now, active=True))
        audit.append(session, action="capture.graph_subscribed", subject_type="graph_subscriptions",
                     subject_id=str(made["id"])[:60], payload={"resource": resource})
    return str(made["id"])


def subscribe(engine: Engine, settings: Settings, client: GraphClient, *, now: datetime) -> list[str]:
    """Create the subscriptions the mailboxes lack (none active, or the active one expired); their ids."""
    held = {s.resource for s in active(engine) if _aware(s.expires_at) > now}
    return [create(engine, settings, client, r, now=now) for r in resources(settings) if r not in held]


def renew(engine: Engine, settings: Settings, client: GraphClient, *, now: datetime,
          margin: timedelta = RENEW_MARGIN) -> list[str]:
    """Extend every active subscription expiring within ``margin`` by ``LIFETIME``; one Graph no longer knows (or
    that expired) is replaced by a new one. The ids renewed or created."""
    done = []
    for sub in active(engine):
        if _aware(sub.expires_at) > now + margin:
            continue
        done.append(renew_one(engine, settings, client, sub, now=now))
    return done


def renew_one(engine: Engine, settings: Settings, client: GraphClient, sub: GraphSubscription, *,
              now: datetime) -> str:
    try:
        answer = client.renew(sub.subscription_id, now + LIFETIME)
    except GraphError as exc:
        if exc.status not in (404, 410) and _aware(sub.expires_at) > now:
            raise
        retire(engine, sub.subscription_id)
        return create(engine, settings, client, sub.resource, now=now)
    with session_scope(engine) as session:
        row = session.scalar(select(GraphSubscription).where(GraphSubscription.subscription_id == sub.subscription_id))
        if row is not None:
            row.expires_at = moment(answer.get("expirationDateTime")) or now + LIFETIME
            row.renewed_at = now
    return sub.subscription_id


def retire(engine: Engine, subscription_id: str) -> None:
    """Mark a subscription gone; notifications still signed with its client state are accepted."""
    with session_scope(engine) as session:
        row = session.scalar(select(GraphSubscription).where(GraphSubscription.subscription_id == subscription_id))
        if row is not None:
            row.active = False


def lifecycle(engine: Engine, settings: Settings, client: GraphClient, owners: Callable[[str], str],
              payload: dict[str, Any], *, now: datetime) -> list[Draft]:
    """Act on a lifecycle notification (renew the subscription, or create it again), then pull the last day of its
    mailbox's messages or events: notifications may have been lost meanwhile."""
    sub = next((s for s in active(engine) if s.subscription_id == payload["subscription"]), None)
    if payload["lifecycle"] == "reauthorizationRequired" and sub is not None:
        renew_one(engine, settings, client, sub, now=now)
    elif payload["lifecycle"] == "subscriptionRemoved":
        retire(engine, payload["subscription"])
        resource = f"users/{payload['mailbox']}/{payload['kind']}"
        if resource in resources(settings):  # a mailbox no longer configured is not subscribed to again
            create(engine, settings, client, resource, now=now)
    return delta(client, owners, payload["mailbox"], payload["kind"], since=now - LOOKBACK, now=now)


# --- backfill ------------------------------------------------------------------------------------------------

def delta(client: GraphClient, owners: Callable[[str], str], mailbox: str, kind: str, *, since: datetime,
          now: datetime) -> list[Draft]:
    """The mailbox's messages (received or sent) or meetings since then, by delta query."""
    owner = owners(mailbox)
    if kind == "events":
        found = (meeting_draft(e, owner) for e in client.events_between(mailbox, since, now))
    else:
        found = (mail_draft(m, owner) for m in client.messages_since(mailbox, since))
    return [d for d in found if d is not None]


def pull(engine: Engine, settings: Settings, client: GraphClient, *, since: datetime, now: datetime) -> Tally:
    """Backfill: every configured mailbox's mail and meetings since then, through the same normalisation, one
    transaction per mailbox (replays change nothing)."""
    owners, total = Owners(client), Tally()
    for mailbox in settings.graph_mailboxes:
        drafts = [d for kind in KINDS for d in delta(client, owners, mailbox, kind, since=since, now=now)]
        with session_scope(engine) as session:
            tally, problems = capture(session, drafts)
        for problem in problems:
            service.refused(engine, CONNECTOR, f"activity refused: {problem}")
        total.created, total.updated, total.unchanged = (total.created + tally.created, total.updated + tally.updated,
                                                         total.unchanged + tally.unchanged)
        for reason, count in tally.waiting.items():
            total.waiting[reason] += count
    return total


@dataclass(frozen=True)
class Status:
    """The subscriptions and the queue, for ``evenhand capture graph status``."""

    subscriptions: list[GraphSubscription]
    queued: int
    given_up: int
    last_error: str | None


def status(engine: Engine) -> Status:
    with session_scope(engine, readonly=True) as session:
        items = session.execute(select(CaptureQueueItem.attempts, CaptureQueueItem.error).where(
            CaptureQueueItem.connector == CONNECTOR, CaptureQueueItem.done_at.is_(None))).tuples().all()
    open_items = [a for a, _ in items if a < MAX_ATTEMPTS]
    errors = [e for _, e in items if e]
    return Status(active(engine), len(open_items), len(items) - len(open_items), errors[-1] if errors else None)
