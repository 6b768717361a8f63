"""Lead intake over the API: one lead (answered with its assignment), or a batch. Both go through the one
intake door (``intake.flows.take_in``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from evenhand.config import Settings
from evenhand.deps import AppSettings, Credentials, DbSession, Sent, Writer
from evenhand.intake import flows
from evenhand.intake.arrivals import arrivals_for
from evenhand.kit import rows as rows_kit
from evenhand.leads.schemas import (
    AssignmentRead,
    BatchItem,
    BatchResult,
    LeadBatch,
    LeadCreate,
    LeadIntakeRead,
    LeadRead,
    RowProblem,
)
from evenhand.models import RoutingDecision


class _Door(APIRoute):
    """``POST /leads`` as declared below (its OpenAPI, its refusals), with a lean handler for the lead that is
    well formed and signed: FastAPI's handler spends about 50 µs a request solving the parameters of any endpoint
    (the body read through a content-type parser, each parameter validated through its own adapter), more than a
    third of what the app does for a lead on the event loop (bench/bench_intake_door.py). Anything else (no
    credentials, a body that is not JSON or not a valid lead, another method) goes to FastAPI's own handler, the
    body already read, so every refusal is FastAPI's: the same status, error and order of checks."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":  # a partial match: FastAPI answers 405
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive)
        body = await request.body()
        sent = Credentials.of(request)
        data = _lead(request, body) if sent.carried else None
        if data is None:
            await super().handle(scope, _replay(body, receive), send)
            return
        response = await create_lead(data, request, sent)
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body, read already, for FastAPI's handler to read again; then what the server sends."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again


def _lead(request: Request, body: bytes) -> LeadCreate | None:
    """The body as a lead, as FastAPI would read it (JSON parsed by the standard library, then validated), or None
    where FastAPI might answer otherwise."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":  # FastAPI refuses a body without a content type
        return None
    try:
        return LeadCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


router = APIRouter(tags=["leads"])
_EXISTED: dict[int | str, dict[str, Any]] = {
    200: {"model": LeadRead, "description": "The lead already existed (same source and external id)"}}


async def create_lead(data: LeadCreate, request: Request, sent: Sent) -> Response:
    """Takes the lead in, scores it and routes it before answering; ``assignment`` says to whom and why.

    Leads posted at the same moment are committed together (``intake.arrivals``); each still has its
    own decision and evidence."""
    # Served on the event loop: the request waits for its group there; a lone lead on SQLite is written there too when
    # the write lock is free, else a writer thread writes its group (kit.groupcommit).
    # The sender is signed in within the group's transaction, and the answer, built from the committed lead, is
    # sent as it is: it was made by the response model, so nothing would be gained by validating it again.
    # The settings are read off the app, not through a dependency: each dependency FastAPI solves costs about 10 µs.
    settings: Settings = request.app.state.settings
    arrivals = arrivals_for(request.app.state.engine)
    result, decision = await arrivals.take_async(data, sent=sent, dedup=settings.dedup_keys)
    out = LeadIntakeRead.model_validate(result.lead)
    out.assignment = _assignment(decision)
    return Response(out.model_dump_json(), status_code=201 if result.created else 200,
                    media_type="application/json")


router.add_api_route("/leads", create_lead, methods=["POST"], response_model=LeadIntakeRead, status_code=201,
                     responses=_EXISTED, route_class_override=_Door)


def _assignment(decision: RoutingDecision | None) -> AssignmentRead | None:
    if decision is None:
        return None
    return AssignmentRead(decision_id=decision.id, outcome=decision.outcome, rep_id=decision.rep_id,
                          track=decision.track, pool_id=decision.pool_id)


@router.post("/leads/batch", response_model=BatchResult)
def create_leads(batch: LeadBatch, session: DbSession, actor: Writer, settings: AppSettings) -> BatchResult:
    """All or nothing by default: one bad row rejects the batch and names every problem by row.

    Rows are numbered from 1 in messages and ``row``; ``field`` is the JSON path (``leads.0.email``).
    """
    parsed, errors = flows.validated(session, batch.leads, first_row=1)
    if errors and not batch.skip_invalid:
        raise rows_kit.reject(errors, path=lambda e: f"leads.{e.row - 1}.{e.field}")
    rows = [(i + 1, data) for i, data in enumerate(parsed) if data is not None]
    results = flows.take_in(session, [data for _, data in rows], actor=actor, dedup=settings.dedup_keys)
    items = [BatchItem(row=row, id=r.lead.id, created=r.created, duplicate_of_id=r.lead.duplicate_of_id,
                       score=r.lead.score, assignment=_assignment(decision))
             for (row, _), (r, decision) in zip(rows, results, strict=True)]
    created = sum(1 for item in items if item.created)
    return BatchResult(created=created, existing=len(items) - created, items=items,
                       rejected=[RowProblem(row=e.row, field=e.field, message=e.message) for e in errors])
