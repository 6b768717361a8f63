"""The telephony / call-detail-record webhook: ``POST /api/v1/capture/telephony`` (docs/capture.md).

A call centre posts JSON, either one call or ``{"calls": [...]}`` (up to ``MAX_CALLS``), signed with HMAC-SHA256
under ``telephony_hmac_secret`` over ``timestamp + "." + body`` (the raw bytes):

- ``X-Evenhand-Timestamp``: the moment of sending, epoch seconds;
- ``X-Evenhand-Signature``: ``sha256=`` and the hex digest.

A missing or wrong signature is 401 and stores nothing; a body over ``MAX_BODY`` is 413. A timestamp more than
``capture_replay_window_seconds`` away from now is acknowledged (200) and stores nothing, and so is a call whose id
was taken before (its receipt). The calls are checked all or nothing (422 naming ``calls.<i>.<field>``), then
become activities (source system ``telephony``, type call) through ``activities.service.capture_many``, linked to
a lead by the customer's phone; a rep nobody knows parks the call in the reconciliation list. A call whose id
starts with ``evenhand-test-`` is counted and stores no activity. Nothing here calls out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, StringConstraints, TypeAdapter, model_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.activities.schemas import ActivityCreate, Key, Note, Person, Seconds
from evenhand.activities.service import Tally, capture_many
from evenhand.capture import service as capture
from evenhand.config import Settings
from evenhand.deps import AppSettings
from evenhand.errors import DomainError, Invalid, Unauthorized
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit
from evenhand.kit.clock import utcnow
from evenhand.kit.groupcommit import GroupCommit, PerEngine
from evenhand.kit.once import first_writer_wins
from evenhand.kit.schema import Moment, Strict
from evenhand.models import ActivityType, Direction, SourceSystem

CONNECTOR = "telephony"
PATH = "/capture/telephony"
TIMESTAMP = "X-Evenhand-Timestamp"
SIGNATURE = "X-Evenhand-Signature"
MAX_BODY = 1 << 20  # 1 MiB: a thousand calls with room to spare
PARSE_ON_LOOP = 16 << 10  # a body up to 16 KiB (a few dozen calls) is parsed on the event loop
MAX_CALLS = 1000
NOT_CONFIGURED = N_("Telephony capture is not configured: set {setting}.")
TOO_LARGE = N_("The request is larger than {limit} bytes.")
NO_REP_KEY = N_("Name the rep by rep_external_id, rep_email or rep_extension.")

router = APIRouter(tags=["capture"])


class NotConfigured(DomainError):
    status, code = 503, "not_configured"


class TooLarge(DomainError):
    status, code = 413, "too_large"


class Call(Strict):
    """One call as the call centre records it."""

    call_id: Key
    rep_external_id: Person | None = None
    rep_email: Person | None = None
    rep_extension: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    customer_phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    started_at: Moment
    duration_seconds: Seconds = 0
    answered: bool | None = None
    direction: Direction = Direction.OUTBOUND
    recording_ref: Note | None = None

    @model_validator(mode="after")
    def _names_a_rep(self) -> Call:
        if not (self.rep_external_id or self.rep_email or self.rep_extension):
            raise ValueError(NO_REP_KEY)
        return self


class Taken(BaseModel):
    """The answer: calls received, taken now (new), and ignored (replayed, or all of them when stale)."""

    received: int
    taken: int
    replayed: int
    stale: bool = False


_CALLS = TypeAdapter(Call)


# --- signing ---------------------------------------------------------------------------------------------------

def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp + "." + body`` under the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_signature(settings: Settings, timestamp: str, body: bytes, given: str) -> None:
    """401 unless ``given`` is the request's signature (compared in constant time)."""
    secret = settings.telephony_hmac_secret
    if secret is None or not secret.get_secret_value():
        raise NotConfigured(NOT_CONFIGURED, field="telephony_hmac_secret", setting="telephony_hmac_secret")
    if not timestamp or not given:
        missing = TIMESTAMP if not timestamp else SIGNATURE
        raise Unauthorized("The request is not signed: {header} is missing.", field=missing, header=missing)
    expected = signature(secret.get_secret_value(), timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise Unauthorized("The telephony signature does not match.", field=SIGNATURE)


def stale(settings: Settings, timestamp: str) -> bool:
    """Whether the signed timestamp lies outside the replay window around now."""
    if not timestamp.strip().isdigit():
        raise Invalid("Must be whole seconds since 1970.", field=TIMESTAMP)
    return abs(utcnow().timestamp() - int(timestamp)) > settings.capture_replay_window_seconds


# --- reading the calls -----------------------------------------------------------------------------------------

def parse(body: bytes) -> list[Call]:
    """The calls of a body, all or nothing: 422 naming every problem by its path (``calls.0.started_at``)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The body is not JSON.", field="body") from None
    items = data.get("calls") if isinstance(data, dict) and "calls" in data else [data]
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise Invalid("Send one call as a JSON object, or an object whose calls list holds at least one.",
                      field="calls")
    if len(items) > MAX_CALLS:
        raise Invalid("At most {limit} calls in one request.", field="calls", limit=MAX_CALLS)
    parsed, errors = rows_kit.validate_rows(_CALLS, items)
    if errors:
        raise rows_kit.reject(errors, path=_path)
    return [call for call in parsed if call is not None]


def _path(error: rows_kit.RowError) -> str:
    """``calls.<i>.<field>``, or ``calls.<i>`` for a problem with the call as a whole."""
    return f"calls.{error.row - 1}" + ("" if error.field == "row" else f".{error.field}")


def activity(call: Call, extensions: dict[str, str]) -> ActivityCreate:
    """A call as an activity; a rep named by extension is the person whose phone in evenhand is that extension
    (else the extension itself, which parks the call unless it is someone's external id or username)."""
    rep = call.rep_external_id or call.rep_email or extensions.get(call.rep_extension or "", call.rep_extension)
    answered = call.answered if call.answered is not None else call.duration_seconds > 0
    return ActivityCreate(source_system=SourceSystem.TELEPHONY, external_id=call.call_id, type=ActivityType.CALL,
                          direction=call.direction, occurred_at=call.started_at, rep=rep, phone=call.customer_phone,
                          duration_seconds=call.duration_seconds, answered=answered, recording_ref=call.recording_ref)


# --- taking them -------------------------------------------------------------------------------------------------

def take(session: Session, requests: Sequence[Sequence[Call]]) -> list[Taken]:
    """Take the calls of one or several requests in the caller's transaction, each call once (the first request
    naming it, unless it was taken before): receipts, the connector's count, the activities (test calls store
    none) and one audit entry when anything was stored. One ``Taken`` per request."""
    first = capture.first_times(session, CONNECTOR, [call.call_id for calls in requests for call in calls])
    answers, fresh = [], []
    for calls in requests:
        mine = _claim(calls, first)
        fresh += mine
        answers.append(Taken(received=len(calls), taken=len(mine), replayed=len(calls) - len(mine)))
    capture.took(session, CONNECTOR, len(fresh))
    real = [call for call in fresh if not capture.is_test(call.call_id)]
    if real:
        _store(session, real)
    return answers


def _claim(calls: Sequence[Call], first: set[str]) -> list[Call]:
    """The calls taken now: each id by its first occurrence only, out of the ids taken for the first time."""
    mine = []
    for call in calls:
        if call.call_id in first:
            first.remove(call.call_id)
            mine.append(call)
    return mine


def _store(session: Session, calls: Sequence[Call]) -> None:
    extensions = capture.reps_by_extension(session, {c.rep_extension for c in calls if c.rep_extension})
    rows = [activity(call, extensions) for call in calls]
    tally = Tally()
    first_writer_wins(session, lambda: capture_many(session, rows, update=False, tally=tally))
    if tally.created or tally.parked:
        audit.append(session, action="capture.telephony", subject_type="telephony_calls",
                     subject_id=rows[0].external_id, payload={"created": tally.created, "waiting": tally.parked,
                                                              "external_ids": [row.external_id for row in rows]})


# --- group commit ----------------------------------------------------------------------------------------------

class Arrivals(GroupCommit[list[Call], Taken]):
    """Requests posted at the same moment are taken in one transaction (``kit.groupcommit``), each answered after
    the commit that carries its calls; a request that cannot be taken fails alone with its own error."""

    def __init__(self, engine: Engine, *, max_group: int = 100, gather_ms: float = 2.0) -> None:
        super().__init__(engine, lambda session, requests: take(session, requests), max_group=max_group,
                         gather_ms=gather_ms)

    def take(self, calls: list[Call]) -> Taken:
        return self.submit(calls)


arrivals_for = PerEngine(Arrivals)


async def raw_body(request: Request) -> bytes:
    """The body as sent (the signature covers its bytes), read no further than ``MAX_BODY``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(TOO_LARGE, field="body", limit=MAX_BODY)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(TOO_LARGE, field="body", limit=MAX_BODY)
    return bytes(body)


Stamp = Annotated[str, Header(alias=TIMESTAMP, max_length=20)]
Signed = Annotated[str, Header(alias=SIGNATURE, max_length=100)]


@router.post(PATH, response_model=Taken, include_in_schema=False,
             dependencies=[Depends(capture.watch(CONNECTOR), scope="function")])
async def telephony_callback(request: Request, settings: AppSettings, body: Annotated[bytes, Depends(raw_body)],
                             timestamp: Stamp = "", sig: Signed = "") -> Taken:
    """Calls from a call centre, signed (docs/capture.md): new calls become activities linked by the customer's
    phone; replayed calls and stale requests are acknowledged and store nothing. The handler holds no database
    session and waits on the event loop, not in a thread: its calls are written by the group that carries them
    (``Arrivals``). A large batch is parsed on a worker thread, so it does not hold up other requests."""
    check_signature(settings, timestamp, body, sig)
    if stale(settings, timestamp):
        return Taken(received=0, taken=0, replayed=0, stale=True)
    calls = parse(body) if len(body) <= PARSE_ON_LOOP else await anyio.to_thread.run_sync(parse, body)
    return await arrivals_for(request.app.state.engine).submit_async(calls)
