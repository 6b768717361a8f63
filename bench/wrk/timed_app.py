"""evenhand's ASGI app (``evenhand.asgi:app``) with timers around the parts of ``POST /api/v1/leads``, for
bench/bench_intake_http_overhead.py. Nothing here is in ``src/``: the timers wrap functions from outside, and
the app is wrapped by one more ASGI layer that keeps the figures and answers ``GET /__timings`` with them (and
starts counting afresh).

Per request (a ``ContextVar``, which AnyIO copies into the worker threads) each timer adds its inclusive time:

- ``request``: the whole ASGI call, from the server handing the request in to the last body chunk sent;
- ``in thread: read_writer``: the authentication where a request signs in before its group (``deps.read_writer`` in
  its worker thread: the read-only transaction, the token lookup and the close), and ``signing in (group)`` where
  the group's transaction signs its senders in (``deps.authenticate`` called by ``intake.arrivals``); of either,
  ``token lookup`` is ``auth.service.from_api_token``;
- ``group commit``: ``Arrivals.take`` or ``take_async`` (queue, transaction, hand-off), of which ``transaction`` is
  ``GroupCommit._write`` (session, take_in, commit), ``take_in`` is ``intake.flows.take_in`` and ``commit`` is
  ``Session.commit`` (every one in the request: the read-only session's too);
- ``response model``: ``LeadIntakeRead.model_validate`` in the handler, and ``response serialization``:
  FastAPI's ``serialize_response`` (validating the returned model against ``response_model`` and dumping it);
- ``thread hop: <function>``: for each call sent to AnyIO's worker threads (by FastAPI: a synchronous dependency,
  a synchronous endpoint and its response's validation; by the group commit of a tree before its own writer
  threads: a group's writer), the time between asking and the thread starting plus between the thread finishing and
  the event loop resuming; ``in thread: <function>`` is the time the call ran there. A group written on the group
  commit's own writer threads is no AnyIO call: its hand-off falls in ``group commit``, less its ``transaction``.

    EVENHAND_DATABASE_URL=sqlite:///… uvicorn --app-dir bench/wrk timed_app:app
"""

from __future__ import annotations

import functools
import gc
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import anyio.to_thread
import fastapi.routing as fastapi_routing
from sqlalchemy.orm import Session

from evenhand.asgi import app as evenhand_app
from evenhand.auth import service as auth_service
from evenhand.intake import arrivals, flows
from evenhand.kit import groupcommit
from evenhand.leads.schemas import LeadIntakeRead

_SPANS: ContextVar[dict[str, float] | None] = ContextVar("bench_spans", default=None)
_done: list[dict[str, float]] = []


def _add(name: str, seconds: float) -> None:
    spans = _SPANS.get()
    if spans is not None:
        spans[name] = spans.get(name, 0.0) + seconds


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(name, time.perf_counter() - began)
    return timed


def _timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            _add(name, time.perf_counter() - began)
    return timed


def _name(func: Callable[..., Any]) -> str:
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", "call").lstrip("_")


def _hops(run_sync: Callable[..., Any]) -> Callable[..., Any]:
    """Every call sent to AnyIO's worker threads (FastAPI's synchronous dependencies and endpoints, an older tree's
    group commit writer): the time in the thread, and the time getting there and back."""
    async def hopped(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        marks: dict[str, float] = {}

        def inner(*inner_args: Any) -> Any:
            marks["in"] = time.perf_counter()
            try:
                return func(*inner_args)
            finally:
                marks["out"] = time.perf_counter()

        asked = time.perf_counter()
        try:
            return await run_sync(inner, *args, **kwargs)
        finally:
            back = time.perf_counter()
            if "in" in marks:
                name = _name(func)
                _add(f"thread hop: {name}", (marks["in"] - asked) + (back - marks["out"]))
                _add(f"in thread: {name}", marks["out"] - marks["in"])
    return hopped


auth_service.from_api_token = _timed("token lookup", auth_service.from_api_token)
flows.take_in = _timed("take_in", flows.take_in)
if hasattr(arrivals, "authenticate"):  # a tree whose group signs its senders in
    arrivals.authenticate = _timed("signing in (group)", arrivals.authenticate)
arrivals.Arrivals.take = _timed("group commit", arrivals.Arrivals.take)  # type: ignore[method-assign]
if hasattr(arrivals.Arrivals, "take_async"):  # a tree whose endpoint waits on the event loop
    arrivals.Arrivals.take_async = _timed_async("group commit", arrivals.Arrivals.take_async)
groupcommit.GroupCommit._write = _timed("transaction", groupcommit.GroupCommit._write)  # type: ignore[method-assign]
Session.commit = _timed("commit", Session.commit)  # type: ignore[method-assign]
LeadIntakeRead.model_validate = classmethod(  # type: ignore[method-assign, assignment]
    _timed("response model", LeadIntakeRead.model_validate.__func__))  # type: ignore[attr-defined]
fastapi_routing.serialize_response = _timed_async("response serialization", fastapi_routing.serialize_response)
anyio.to_thread.run_sync = _hops(anyio.to_thread.run_sync)  # type: ignore[assignment]


_collecting: dict[int, float] = {}
_collections: dict[str, float] = {}


def _collector(phase: str, info: dict[str, Any]) -> None:
    """The garbage collector's passes, in whatever thread they fall: how many per generation, and their time."""
    generation = info["generation"]
    if phase == "start":
        _collecting[generation] = time.perf_counter()
    elif generation in _collecting:
        took = time.perf_counter() - _collecting.pop(generation)
        _collections[f"gen{generation} passes"] = _collections.get(f"gen{generation} passes", 0) + 1
        _collections[f"gen{generation} ms"] = _collections.get(f"gen{generation} ms", 0.0) + took * 1000


gc.callbacks.append(_collector)


_cpu_since = [time.process_time()]


def summary(done: list[dict[str, float]]) -> dict[str, Any]:
    """Mean milliseconds per request of each span, over the requests counted, the process's CPU time per request
    (every thread's, so a shared machine's load shows much less in it than in the spans), and the collector's
    passes."""
    names = sorted({name for spans in done for name in spans})
    count = len(done)
    cpu, _cpu_since[0] = time.process_time() - _cpu_since[0], time.process_time()
    return {"requests": count, "cpu_ms_per_request": round(cpu / max(count, 1) * 1000, 3),
            "mean_ms": {name: round(sum(s.get(name, 0.0) for s in done) / max(count, 1) * 1000, 3) for name in names},
            "gc": {name: round(value, 3) for name, value in _collections.items()},
            "gc_frozen": gc.get_freeze_count()}


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] == "http" and scope["path"] == "/__timings":
        body = json.dumps(summary(_done)).encode()
        _done.clear()
        _collections.clear()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    counted = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/api/v1/leads"
    if not counted:
        await evenhand_app(scope, receive, send)
        return
    spans: dict[str, float] = {}
    token = _SPANS.set(spans)
    began = time.perf_counter()
    try:
        await evenhand_app(scope, receive, send)
    finally:
        spans["request"] = time.perf_counter() - began
        _SPANS.reset(token)
        _done.append(spans)
