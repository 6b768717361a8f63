"""Typed FastAPI dependencies: the request's database session and who is asking."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from evenhand.auth import service as auth_service
from evenhand.auth.principal import Principal
from evenhand.config import Settings
from evenhand.db import session_scope
from evenhand.errors import Forbidden, Unauthorized

SESSION_COOKIE = "evenhand_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_settings_dep(request: Request) -> Settings:
    """Asynchronous (it only reads an attribute): a synchronous dependency costs each request a worker thread."""
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """The request is the unit of work: one commit after the handler returns, before the response."""
    with session_scope(request.app.state.engine, readonly=request.method in SAFE_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]

AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_principal(request: Request, session: DbSession) -> Principal:
    return _principal(request, session)


def _principal(request: Request, session: Session | Connection) -> Principal:
    token = _bearer(request)
    if token is not None:
        principal = auth_service.from_api_token(session, token)
        if principal is None:
            raise Unauthorized("The API token is invalid or revoked.")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = auth_service.from_session_token(session, cookie) if cookie else None
        if principal is None:
            raise Unauthorized("Sign in first.")
        _check_csrf(request, principal)
    return principal


def _check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token; bearer tokens are not ambient."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise Forbidden("Missing or wrong CSRF token.", field=CSRF_HEADER)


def writer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.can_write:
        raise Forbidden("Your role can read but not change anything.")
    return principal


def org_manager(principal: Annotated[Principal, Depends(writer)]) -> Principal:
    if not principal.manages_org:
        raise Forbidden("Only admin and ops can change the organisation.")
    return principal


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction on a pooled connection, without an ORM session (which costs more than the lookup
    it would carry): on SQLite a deferred ``BEGIN``, so it never queues behind a writer. Rolled back on close."""
    with engine.connect() as conn:
        yield conn.execution_options(evenhand_readonly=True)


def read_writer(request: Request) -> Principal:
    """``writer``, authenticated in a short read-only transaction that has ended before the handler runs: for
    handlers that hand their write to a group commit (``intake.arrivals``) and wait for it, holding
    neither a write lock nor a pooled connection meanwhile."""
    with _reading(request.app.state.engine) as conn:
        return writer(_principal(request, conn))


def document_editor(request: Request) -> Principal:
    """Configuration documents (the scoring model, the routing policy and the YAML documents after them) are
    checked, previewed and saved by admin and ops only. Signed in like ``read_writer``: reading a document is
    CPU work, done without holding a write lock or a pooled connection."""
    principal = read_writer(request)
    if not principal.manages_org:
        raise Forbidden("Only admin and ops can check or change scoring models and routing policies.")
    return principal


def document_reviewer(request: Request) -> Principal:
    """Who may replay a candidate routing policy over past leads without saving it (what-if): whoever sees
    colleagues' figures side by side, checked here before the document is read."""
    with _reading(request.app.state.engine) as conn:
        principal = _principal(request, conn)
    if not principal.sees_team_figures:
        raise Forbidden("Only sales operations, supervisors and auditors may run a what-if replay.")
    return principal


Reader = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(writer)]
ReadWriter = Annotated[Principal, Depends(read_writer)]
OrgManager = Annotated[Principal, Depends(org_manager)]
# Configuration documents: everyone signed in reads the active versions (a rep may see what scored and routed
# their leads); admin and ops check, preview and save them; what-if replays also for auditors and supervisors.
DocumentReader = Reader
DocumentEditor = Annotated[Principal, Depends(document_editor)]
DocumentReviewer = Annotated[Principal, Depends(document_reviewer)]
