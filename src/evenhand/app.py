"""The application factory: REST API under /api/v1, the web UI, health, error handling and the security
headers of every answer."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evenhand import __version__, errors
from evenhand.activities.routes import router as activities_router
from evenhand.alerts import tasks as alert_tasks  # noqa: F401 - every door activities come in by judges alerts
from evenhand.alerts.routes import router as alerts_router
from evenhand.appeals.routes import router as appeals_router
from evenhand.auth.routes import api as auth_api
from evenhand.auth.routes import web as auth_web
from evenhand.board.routes import router as board_router
from evenhand.capture.dingtalk import router as dingtalk_router
from evenhand.capture.graph import router as graph_router
from evenhand.capture.telephony import router as telephony_router
from evenhand.capture.wecom import router as wecom_router
from evenhand.config import Settings, bound, get_settings
from evenhand.db import get_engine
from evenhand.honesty.routes import router as honesty_router
from evenhand.i18n import request_locale, set_locale
from evenhand.intake.routes import router as intake_router
from evenhand.leads.routes import router as leads_router
from evenhand.leads.scoring_routes import router as scoring_router
from evenhand.monitor.anomaly_routes import router as anomalies_router
from evenhand.monitor.canary_routes import router as canary_router
from evenhand.monitor.change_routes import router as changes_router
from evenhand.monitor.impact_routes import router as impact_router
from evenhand.monitor.routes import router as monitor_router
from evenhand.notify.policy import check_policies
from evenhand.notify.routes import router as notify_router
from evenhand.opportunities.routes import router as opportunities_router
from evenhand.org.routes import router as org_router
from evenhand.performance import incentives  # noqa: F401 - every period close applies the grants
from evenhand.performance.export_routes import router as scorecards_export_router
from evenhand.performance.incentive_routes import router as grants_router
from evenhand.performance.peer_routes import router as peer_router
from evenhand.performance.routes import router as scorecards_router
from evenhand.qa.routes import router as qa_router
from evenhand.reports.routes import router as reports_router
from evenhand.routing.routes import router as routing_router
from evenhand.standards.routes import router as standards_router

API_PREFIX = "/api/v1"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_CATCH_ALL = f"{API_PREFIX}/{{rest:path}}"


API_ROUTERS = (intake_router, telephony_router, wecom_router, dingtalk_router, graph_router, auth_api, org_router,
               leads_router, scoring_router, routing_router, opportunities_router, activities_router, reports_router,
               appeals_router, notify_router, honesty_router, standards_router, board_router, qa_router, alerts_router,
               peer_router, scorecards_export_router, grants_router, scorecards_router, monitor_router,
               anomalies_router, changes_router, canary_router, impact_router)


def include_api(app: FastAPI) -> None:
    """Every domain's API under /api/v1. Routes are matched in order, one by one: the high-rate doors (lead intake,
    then the connectors' webhooks) come first; each router passed costs a request about 6 µs. Each router is
    included in the app itself, not through one router holding them all: FastAPI walks every route below an included
    router each time it matches a request against it, so a request to the intake door would otherwise walk the whole
    API twice."""
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)


def allowed_methods(app: Starlette, scope: Scope) -> list[str]:
    """The methods the app's own routes serve at this path; the UI (mounted at "/", it would match every path)
    and the API's catch-all are left out."""
    routes = [r for r in app.router.routes if not isinstance(r, Mount) and getattr(r, "path", None) != _CATCH_ALL]
    return [m for m in _ALL_METHODS if any(r.matches({**scope, "method": m})[0] is Match.FULL for r in routes)]


def _refusal(allowed: list[str]) -> JSONResponse:
    if allowed:
        return JSONResponse(errors.body("method_not_allowed", "Method Not Allowed"), status_code=405,
                            headers={"Allow": ", ".join(allowed)})
    return JSONResponse(errors.body("not_found", "Not Found"), status_code=404)


def _unmatched_api(app: FastAPI) -> Any:
    """Unknown API paths answer JSON 404, known paths with the wrong method 405 — never the UI's HTML."""

    async def handler(request: Request, rest: str) -> JSONResponse:
        return _refusal(allowed_methods(app, request.scope))

    return handler


class UnknownMethods:
    """A method served nowhere (TRACE, CONNECT, PROPFIND, …) answers 405 JSON with ``Allow``, on the UI's paths
    too (which serve GET and HEAD) instead of its HTML 404; an unknown API path answers 404 JSON, as it does
    for every method."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _ALL_METHODS:
            await self.app(scope, receive, send)
            return
        allowed = allowed_methods(scope["app"], scope)
        on_api = scope["path"] == API_PREFIX or scope["path"].startswith(f"{API_PREFIX}/")
        await _refusal(allowed or ([] if on_api else ["GET", "HEAD"]))(scope, receive, send)


def _policy(**sources: str) -> bytes:
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in sources.items()).encode()


# NiceGUI starts from inline scripts and renders with Vue's runtime template compiler (eval: without it the pages
# stay blank), Quasar and Tailwind inject styles, Quasar draws some images as data: URLs, and the page's
# WebSocket goes to its own origin, which 'self' covers (CSP Level 3). Everything else comes from 'self'.
CSP = _policy(default_src="'self'", script_src="'self' 'unsafe-inline' 'unsafe-eval'",
              style_src="'self' 'unsafe-inline'", img_src="'self' data:", connect_src="'self'",
              frame_ancestors="'none'", base_uri="'self'", form_action="'self'", object_src="'none'")
# The OpenAPI pages load Swagger UI and ReDoc from their CDN, as FastAPI serves them.
DOCS_CSP = _policy(default_src="'self'", script_src="'self' 'unsafe-inline' https://cdn.jsdelivr.net",
                   style_src="'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
                   img_src="'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
                   font_src="'self' https://fonts.gstatic.com", worker_src="'self' blob:", connect_src="'self'",
                   frame_ancestors="'none'", base_uri="'self'", form_action="'self'", object_src="'none'")
_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin")]


def _secure(cookie: bytes) -> bytes:
    attributes = {part.strip().lower() for part in cookie.split(b";")[1:]}
    return cookie if b"secure" in attributes else cookie + b"; Secure"


class SecurityHeaders:
    """Every HTTP answer (pages, API, static files, errors) may not be framed, sniffed or leak its URL to other
    sites, and carries the content security policy. Cookies are ``Secure`` when the request came over HTTPS
    (``scope["scheme"]``, read as the response starts, after any proxy handling) or ``cookie_secure`` is set."""

    def __init__(self, app: ASGIApp, docs_paths: set[str]) -> None:
        self.app, self.docs_paths = app, docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = getattr(scope["app"].state, "settings", None)
        always_secure = bool(settings and settings.cookie_secure)
        policy = DOCS_CSP if scope["path"] in self.docs_paths else CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure = always_secure or scope.get("scheme") == "https"
                raw = [(k, _secure(v) if secure and k.lower() == b"set-cookie" else v) for k, v in message["headers"]]
                present = {k.lower() for k, _ in raw}
                extra = [(k, v) for k, v in [(b"content-security-policy", policy), *_HEADERS] if k not in present]
                message = {**message, "headers": raw + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


class Evenhand(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Around Starlette's error middleware as well, so that an unexpected 500 carries the headers too.
        docs = {self.docs_url, self.redoc_url, self.swagger_ui_oauth2_redirect_url}
        return SecurityHeaders(super().build_middleware_stack(), {path for path in docs if path})


class RequestContext:
    """Binds the serving app's settings (``config.get_settings`` reads them) and sets the request's language
    (cookie, then Accept-Language) before anything renders text."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings if "app" in scope else self.settings
        with bound(settings or self.settings):
            headers = Headers(scope=scope)
            set_locale(request_locale(cookie_parser(headers.get("cookie", "")), headers.get("accept-language")))
            await self.app(scope, receive, send)


def _pages() -> list[Callable[[], None]]:
    """Every domain's UI, in the order the pages register (NiceGUI is imported only when the UI is served)."""
    from evenhand.activities import pages as activity_pages
    from evenhand.alerts import home_pages as alert_home_pages
    from evenhand.alerts import pages as alert_pages
    from evenhand.appeals import home_pages as appeal_home_pages
    from evenhand.appeals import pages as appeal_pages
    from evenhand.board import home_pages as board_home_pages
    from evenhand.board import pages as board_pages
    from evenhand.capture import pages as capture_pages
    from evenhand.honesty import pages as honesty_pages
    from evenhand.leads import pages as lead_pages
    from evenhand.leads import scoring_pages
    from evenhand.monitor import canary_pages, change_pages, impact_pages, kpi_pages
    from evenhand.monitor import home_pages as monitor_home_pages
    from evenhand.monitor import pages as monitor_pages
    from evenhand.notify import ops_pages as notify_ops_pages
    from evenhand.notify import pages as notify_pages
    from evenhand.opportunities import pages as opportunity_pages
    from evenhand.org import home_pages as org_home_pages
    from evenhand.org import pages as org_pages
    from evenhand.performance import home_pages as performance_home_pages
    from evenhand.performance import incentive_pages, peer_pages
    from evenhand.performance import pages as performance_pages
    from evenhand.performance import template_pages as scorecard_template_pages
    from evenhand.qa import home_pages as qa_home_pages
    from evenhand.qa import pages as qa_pages
    from evenhand.reports import home_pages as report_home_pages
    from evenhand.reports import pages as report_pages
    from evenhand.routing import editor_pages as policy_pages
    from evenhand.routing import home_pages as routing_home_pages
    from evenhand.routing import pages as routing_pages
    from evenhand.routing import presence_pages
    from evenhand.standards import home_pages as standards_home_pages
    from evenhand.standards import pages as standards_pages

    return [module.register for module in (
        org_pages, lead_pages, scoring_pages, routing_pages, report_pages, policy_pages, appeal_pages, notify_pages,
        notify_ops_pages, presence_pages, report_home_pages, org_home_pages, activity_pages, opportunity_pages,
        honesty_pages, capture_pages, standards_pages, board_pages, qa_pages, alert_pages, routing_home_pages,
        standards_home_pages, alert_home_pages, appeal_home_pages, qa_home_pages, board_home_pages, incentive_pages,
        performance_pages, performance_home_pages,
        scorecard_template_pages, peer_pages, kpi_pages, monitor_pages, monitor_home_pages, change_pages, canary_pages,
        impact_pages)]


def _ping(engine: Engine) -> None:
    # read-only: on SQLite a deferred BEGIN, so the check never queues behind a writer for the write lock
    with engine.execution_options(evenhand_readonly=True).connect() as conn:
        conn.execute(text("SELECT 1"))


def create_app(settings: Settings | None = None, engine: Engine | None = None, *, ui: bool = True) -> FastAPI:
    settings = settings or get_settings()
    check_policies(settings.notify_policies)  # a bad escalation policy stops the start, naming kind and field
    app = Evenhand(title="evenhand", version=__version__, docs_url="/docs", openapi_url="/openapi.json",
                   description="Fair lead routing, process monitoring and performance evaluation for sales teams.")
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.db_url)
    errors.install(app)
    app.add_middleware(RequestContext, settings=settings)
    app.add_middleware(UnknownMethods)

    # First: routes are matched one by one, and the API's are many (a probe should not walk them all).
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str | int]:
        """Also names the answering process, so an operator behind a load balancer can tell them apart."""
        await anyio.to_thread.run_sync(_ping, app.state.engine)  # one worker thread for the query, none for the rest
        return {"status": "ok", "version": __version__, "process": os.getpid()}

    include_api(app)
    app.include_router(auth_web)
    app.add_api_route(_CATCH_ALL, _unmatched_api(app), methods=_ALL_METHODS,
                      include_in_schema=False)
    if ui:
        from evenhand.web.shell import mount

        mount(app, settings, _pages())
    return app
