"""Typed FastAPI dependencies: the request's database session and who is asking."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Credentials:
    """What a request carries to say who sends it: read from the request at once, checked later in a transaction
    (``authenticate``), so a handler that hands its write to a group commit is signed in by the group's own."""

    bearer: str | None
    cookie: str | None
    csrf_sent: str
    method: str

    @classmethod
    def of(cls, request: Request) -> Credentials:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
        return cls(bearer, request.cookies.get(SESSION_COOKIE), request.headers.get(CSRF_HEADER, ""), request.method)

    @property
    def carried(self) -> bool:
        """Whether the request carries anything to sign in with: a bearer token or a session cookie."""
        return self.bearer is not None or self.cookie is not None


async def credentials(request: Request) -> Credentials:
    """Asynchronous (it only reads the request's headers). A request that carries none is refused here, before its
    body is validated; what it carries is checked later, in a transaction (``authenticate``)."""
    sent = Credentials.of(request)
    if not sent.carried:
        raise Unauthorized("Sign in first.")
    return sent


def current_principal(request: Request, session: DbSession) -> Principal:
    return authenticate(session, Credentials.of(request))


def authenticate(session: Session | Connection, sent: Credentials) -> Principal:
    """Who sent these credentials, read in ``session``: a bearer API token, else the browser session's cookie,
    whose writes must echo its CSRF token."""
    if sent.bearer is not None:
        principal = auth_service.from_api_token(session, sent.bearer)
        if principal is None:
            raise Unauthorized("The API token is invalid or revoked.")
    else:
        principal = auth_service.from_session_token(session, sent.cookie) if sent.cookie else None
        if principal is None:
            raise Unauthorized("Sign in first.")
        _check_csrf(sent, principal)
    return principal


def _check_csrf(sent: Credentials, principal: Principal) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token; bearer tokens are not ambient."""
    if sent.method in SAFE_METHODS:
        return
    if not principal.csrf_token or not hmac.compare_digest(sent.csrf_sent, principal.csrf_token):
        raise Forbidden("Missing or wrong CSRF token.", field=CSRF_HEADER)


def writer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return may_write(principal)


def may_write(principal: Principal) -> Principal:
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
    handlers that work long before they write, holding neither a write lock nor a pooled connection meanwhile. A
    handler that hands its write to a group commit takes ``Sent`` instead, checked in the group's transaction."""
    with _reading(request.app.state.engine) as conn:
        return may_write(authenticate(conn, Credentials.of(request)))


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
        principal = authenticate(conn, Credentials.of(request))
    if not principal.sees_team_figures:
        raise Forbidden("Only sales operations, supervisors and auditors may run a what-if replay.")
    return principal


Reader = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(writer)]
Sent = Annotated[Credentials, Depends(credentials)]
OrgManager = Annotated[Principal, Depends(org_manager)]
# Configuration documents: everyone signed in reads the active versions (a rep may see what scored and routed
# their leads); admin and ops check, preview and save them; what-if replays also for auditors and supervisors.
DocumentReader = Reader
DocumentEditor = Annotated[Principal, Depends(document_editor)]
DocumentReviewer = Annotated[Principal, Depends(document_reviewer)]
