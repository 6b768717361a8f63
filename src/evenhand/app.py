"""The application factory: REST API under /api/v1, the web UI, health and error handling."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from evenhand import __version__, errors
from evenhand.activities.routes import router as activities_router
from evenhand.appeals.routes import router as appeals_router
from evenhand.auth.routes import api as auth_api
from evenhand.auth.routes import web as auth_web
from evenhand.config import Settings, get_settings
from evenhand.db import get_engine
from evenhand.i18n import request_locale, set_locale
from evenhand.leads.routes import router as leads_router
from evenhand.leads.scoring_routes import router as scoring_router
from evenhand.notify.routes import router as notify_router
from evenhand.opportunities.routes import router as opportunities_router
from evenhand.org.routes import router as org_router
from evenhand.reports.routes import router as reports_router
from evenhand.routing.routes import router as routing_router

API_PREFIX = "/api/v1"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    for router in (auth_api, org_router, leads_router, scoring_router, routing_router, opportunities_router,
                   activities_router, reports_router, appeals_router, notify_router):
        api.include_router(router)
    return api


def _unmatched_api(app: FastAPI) -> Any:
    """Unknown API paths answer JSON 404, known paths with the wrong method 405 — never the UI's HTML."""

    def allowed_methods(scope: dict[str, Any]) -> list[str]:
        allowed = []
        for method in _ALL_METHODS:
            probe = {**scope, "method": method}
            for route in app.router.routes:
                if isinstance(route, Mount) or getattr(route, "endpoint", None) is handler:
                    continue  # the UI is mounted at "/" and would match every path
                if route.matches(probe)[0] is Match.FULL:
                    allowed.append(method)
                    break
        return allowed

    async def handler(request: Request, rest: str) -> JSONResponse:
        allowed = allowed_methods(dict(request.scope))
        if allowed:
            return JSONResponse(errors.body("method_not_allowed", "Method Not Allowed"), status_code=405,
                                headers={"Allow": ", ".join(allowed)})
        return JSONResponse(errors.body("not_found", "Not Found"), status_code=404)

    return handler


class LanguageMiddleware:
    """Sets the request's language (cookie, then Accept-Language) before anything renders text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            set_locale(request_locale(cookie_parser(headers.get("cookie", "")), headers.get("accept-language")))
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, ui: bool = True) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="evenhand", version=__version__, docs_url="/docs", openapi_url="/openapi.json",
                  description="Fair lead routing, process monitoring and performance evaluation for sales teams.")
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.db_url)
    errors.install(app)
    app.add_middleware(LanguageMiddleware)

    app.include_router(api_router())
    app.include_router(auth_web)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str | int]:
        """Also names the answering process, so an operator behind a load balancer can tell them apart."""
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "process": os.getpid()}

    app.add_api_route(f"{API_PREFIX}/{{rest:path}}", _unmatched_api(app), methods=_ALL_METHODS,
                      include_in_schema=False)
    if ui:
        from evenhand.web.shell import mount

        mount(app, settings)
    return app
