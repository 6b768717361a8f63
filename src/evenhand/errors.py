"""Domain errors carry their HTTP status; one handler renders them as ``{"error": {...}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from evenhand.i18n import N_, t
from evenhand.kit.yamldoc import DocumentError, Problem

# Pydantic's messages are English; these cover the common kinds so a zh-CN user reads Chinese.
_PYDANTIC: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Unknown field"),
    "string_pattern_mismatch": N_("Has the wrong format"),
    "string_too_short": N_("Too short"),
    "string_too_long": N_("Too long (at most {max_length} characters)"),
    "int_parsing": N_("Must be a whole number"),
    "int_type": N_("Must be a whole number"),
    "float_parsing": N_("Must be a number"),
    "decimal_parsing": N_("Must be a number"),
    "bool_parsing": N_("Must be true or false"),
    "greater_than_equal": N_("Must be at least {ge}"),
    "less_than_equal": N_("Must be at most {le}"),
    "enum": N_("Must be one of: {expected}"),
    "literal_error": N_("Must be one of: {expected}"),
    "datetime_parsing": N_("Must be a date and time like 2026-11-27T09:30:00+08:00"),
    "timezone_aware": N_("Must include a time zone, like +08:00"),
    "date_from_datetime_parsing": N_("Must be a date like 2026-11-27"),
    "too_long": N_("Too many items (at most {max_length})"),
    "too_short": N_("Too few items (at least {min_length})"),
    "list_type": N_("Must be a list"),
    "dict_type": N_("Must be an object"),
    "model_attributes_type": N_("Must be an object"),
    "json_invalid": N_("Not valid JSON"),
}


def describe(error: Any) -> str:
    """One pydantic error as a sentence in the current language."""
    if error.get("type") == "value_error" and "error" in (error.get("ctx") or {}):
        return t(str(error["ctx"]["error"]))
    template = _PYDANTIC.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg", ""))
    try:
        params: dict[str, Any] = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float)}
        return t(template, **params)
    except (KeyError, IndexError):
        return str(error.get("msg", ""))


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, details: list[dict[str, Any]] | None = None,
                 **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.params = params


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Invalid(DomainError):
    status, code = 422, "invalid"


class TooManyRequests(DomainError):
    status, code = 429, "rate_limited"


WHOLE_DOCUMENT = "—"  # ``where`` of a problem with the document itself (its syntax); a command names the file


def invalid_document(exc: DocumentError, message: str, messages: dict[str, str]) -> Invalid:
    """A YAML document's problems as one ``Invalid``: ``field`` and ``details`` name each path and line.

    ``message`` has the placeholders ``{where}``, ``{line}`` and ``{problem}``; ``messages`` is the
    document's own table of problem texts (pydantic's kinds are described by ``describe``).
    """
    def text(p: Problem) -> str:
        if p.type in messages:
            return t(messages[p.type], **p.params)
        return describe({"type": p.type, "msg": p.message, "ctx": p.params})

    details: list[dict[str, Any]] = [{"field": p.path, "line": p.line, "message": text(p)} for p in exc.problems]
    first = exc.problems[0]
    return Invalid(message, field=first.path or "body", details=details, where=first.path or WHOLE_DOCUMENT,
                   line=first.line or "?", problem=details[0]["message"])


def body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    details = [{"field": _field(tuple(e.get("loc", ()))), "message": describe(e)} for e in errors]
    field = _field(tuple(first.get("loc", ())))
    message = f"{field}: {describe(first)}" if field else describe(first)
    return JSONResponse(body("invalid", message, field, details=details), status_code=422)


def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    extra = {"details": exc.details} if exc.details is not None else {}
    return JSONResponse(body(exc.code, t(exc.message, **exc.params), exc.field, **extra), status_code=exc.status,
                        headers=headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def _data(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (the last line of defence; validation should have caught it)."""
    return JSONResponse(body("invalid", t("A value could not be stored.")), status_code=422)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(body("internal", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(Exception, _unexpected)
