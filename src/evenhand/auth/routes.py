"""Sign-in for browsers (form post → HttpOnly session cookie) and ``/api/v1/me`` for everyone."""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from evenhand.auth import service
from evenhand.auth.addresses import UNKNOWN, client_address
from evenhand.config import Settings
from evenhand.deps import SESSION_COOKIE, AppSettings, DbSession, Reader
from evenhand.errors import Forbidden, TooManyRequests
from evenhand.i18n import LOCALE_COOKIE, normalise, t
from evenhand.models import Role

web = APIRouter(include_in_schema=False)
api = APIRouter(tags=["auth"])


def same_origin(request: Request) -> bool:
    """Browsers send Origin (or at least Referer) on form posts; a foreign one is a forged request."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.headers.get("host", request.url.netloc)


def _local(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") else "/"


def client_of(request: Request, settings: Settings) -> str:
    """The address sign-in is throttled by: ``X-Forwarded-For`` counts only from ``EVENHAND_TRUSTED_PROXIES``."""
    peer = request.client.host if request.client else UNKNOWN
    return client_address(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)


def _wait(exc: TooManyRequests) -> HTMLResponse:
    """429 with ``Retry-After`` for scripts; a browser is sent on to the sign-in page, which says why."""
    target = "/login?error=rate"
    page = (f'<!doctype html><meta http-equiv="refresh" content="0;url={target}">'
            f'<p><a href="{target}">{escape(t(exc.message, **exc.params))}</a></p>')
    return HTMLResponse(page, status_code=429, headers={"Retry-After": str(exc.params["seconds"])})


@web.post("/auth/login", response_model=None)
def login(request: Request, session: DbSession, settings: AppSettings, username: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> RedirectResponse | HTMLResponse:
    if not same_origin(request):
        raise Forbidden("Cross-site sign-in refused.")
    try:
        user = service.authenticate(session, username=username, password=password,
                                    client=client_of(request, settings), throttle=service.Throttle.of(settings))
    except TooManyRequests as exc:
        return _wait(exc)
    if user is None:
        return RedirectResponse("/login?error=credentials", status_code=303)
    token, _ = service.open_session(session, user=user, days=settings.session_days)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_days * 86400, httponly=True,
                        samesite="lax", secure=settings.cookie_secure, path="/")
    if user.locale:
        response.set_cookie(LOCALE_COOKIE, user.locale, samesite="lax", path="/")
    return response


@web.post("/auth/logout")
def logout(request: Request, session: DbSession) -> RedirectResponse:
    if not same_origin(request):
        raise Forbidden("Cross-site sign-out refused.")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.close_session(session, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@web.get("/auth/locale/{locale}")
def switch_locale(locale: str, request: Request, next: str = "/") -> RedirectResponse:
    """Language is a display preference, not account state; a cookie is enough."""
    response = RedirectResponse(_local(next), status_code=303)
    chosen = normalise(locale)
    if chosen:
        response.set_cookie(LOCALE_COOKIE, chosen, max_age=365 * 86400, samesite="lax", path="/")
    return response


class MeRead(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role
    team_id: int | None
    supervised_team_ids: list[int]
    csrf_token: str | None = None


@api.get("/me", response_model=MeRead)
def me(principal: Reader) -> MeRead:
    """For a browser session this also hands out the CSRF token its scripts must echo on writes."""
    return MeRead(user_id=principal.user_id, username=principal.username, display_name=principal.display_name,
                  role=principal.role, team_id=principal.team_id,
                  supervised_team_ids=sorted(principal.supervised_team_ids), csrf_token=principal.csrf_token)
