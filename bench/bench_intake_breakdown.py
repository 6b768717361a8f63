"""The routed intake of one lead, in process, on SQLite: its median (intake, score, route, audit, outbox and the
durable commit, one lead per transaction) and where the time goes, step by step.

The organisation is bench/routed_org.py (120 online reps in 15 teams, 20,000 leads of history, the shipped
default policy). Each lead is validated before the clock starts (the HTTP layer's work) and taken in through
``intake.flows.take_in`` in a transaction of its own, as ``POST /api/v1/leads`` does for a group of one.

Two passes over fresh leads: the first times each transaction alone (the median and p99 reported); the second
wraps the steps below and charges each call its own time, less the time of the steps it calls (a flush falls to
the step that triggers it). ``other`` is what no step covers: the flow's glue, the session, the leftover flushes.
The wrappers cost about a microsecond a call, so the second pass's total runs a little above the first's.

The alert scan's marks are registered as the server registers them (``alerts.tasks``): each flush that writes a
lead leaves one. Another tree (an earlier commit, to compare) is measured by putting its ``src`` first on
``PYTHONPATH``; the figures name the package measured. A step that tree lacks is left out.
"""

from __future__ import annotations

import functools
import importlib
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from routed_org import build, lead_payload, take_one

import evenhand
import evenhand.alerts.tasks  # the alert marks every flush leaves, registered as in the server
from evenhand.leads.schemas import LeadCreate

WARM = 100
TIMED = 1500
BROKEN_DOWN = 1500

# (step, module, attribute): a module function, or ``Class.method``. A name a version of the code lacks is skipped.
STEPS = (
    ("regions", "evenhand.intake.flows", "_regions"),
    ("intake (lead rows, dedup)", "evenhand.leads.service", "intake_many"),
    # Routing's own work around the steps below: since new leads are routed before they are stored, inside
    # ``intake_many``; before, after it.
    ("routing (the rest)", "evenhand.routing.flows", "route_new"),
    ("routing (the rest)", "evenhand.routing.flows", "NewLeads.place"),
    ("routing (the rest)", "evenhand.routing.flows", "NewLeads.finish"),
    ("scoring", "evenhand.leads.scoring_service", "score_leads"),
    ("scoring", "evenhand.leads.scoring_service", "score_arriving"),
    ("configuration revision", "evenhand.kit.revision", "current"),
    ("policy and canary", "evenhand.routing.router", "active"),  # before the cache: read for every router
    ("policy and canary", "evenhand.routing.canary", "Arms.__init__"),
    ("policy and canary", "evenhand.routing.router", "arms"),  # through the cache
    ("roster", "evenhand.routing.snapshot", "Roster._roster"),
    ("member counts", "evenhand.routing.snapshot", "Roster.count"),
    ("pool state", "evenhand.routing.router", "lock_pool_state"),
    ("pool state", "evenhand.routing.router", "save_pool_state"),
    ("decision itself", "evenhand.routing.engine", "decide"),
    ("applying it", "evenhand.routing.router", "place"),
    ("decision record", "evenhand.routing.router", "record"),  # before the batch's rows went through the connection
    ("decision record", "evenhand.routing.router", "_store"),
    ("audit entries", "evenhand.kit.audit", "append"),
    ("audit entries", "evenhand.kit.audit", "append_many"),
    ("notification", "evenhand.notify.service", "leads_assigned"),
    ("commit", "sqlalchemy.orm", "Session.commit"),
)


class _Clock:
    """Exclusive time per step: a wrapped call is charged its duration minus that of the wrapped calls inside."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._inner: list[float] = []

    def wrap(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - began
                inner = self._inner.pop()
                self.spent[step] += took - inner
                if self._inner:
                    self._inner[-1] += took
        return timed


@contextmanager
def _wrapped(clock: _Clock) -> Iterator[None]:
    undo = []
    for step, module_name, name in STEPS:
        try:
            owner: Any = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        original = getattr(owner, attr, None) if owner is not None else None
        if original is None:
            continue
        setattr(owner, attr, clock.wrap(step, original))
        undo.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


class _Door:
    def __init__(self, engine: Any) -> None:
        self.engine, self.next = engine, 0

    def lead(self) -> LeadCreate:
        self.next += 1
        return LeadCreate.model_validate(lead_payload(self.next))

    def take(self, lead: LeadCreate) -> None:
        take_one(self.engine, lead)


def _timed(door: _Door, count: int) -> tuple[list[float], list[float]]:
    """Each lead's wall time and this process's CPU time (SQLite runs in it; a shared machine's load shows in the
    first, much less in the second)."""
    wall, cpu = [], []
    for _ in range(count):
        lead = door.lead()
        began, used = time.perf_counter(), time.process_time()
        door.take(lead)
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


def _broken_down(door: _Door) -> tuple[dict[str, float], float]:
    clock = _Clock()
    total = 0.0
    with _wrapped(clock):
        for _ in range(BROKEN_DOWN):
            lead = door.lead()
            began = time.perf_counter()
            door.take(lead)
            total += time.perf_counter() - began
    steps = {step: round(spent / BROKEN_DOWN * 1000, 3) for step, spent in clock.spent.items()}
    steps["other"] = round(total / BROKEN_DOWN * 1000 - sum(steps.values()), 3)
    return steps, round(total / BROKEN_DOWN * 1000, 3)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = build(f"sqlite:///{Path(tmp) / 'routed.sqlite'}")
        try:
            door = _Door(engine)
            _timed(door, WARM)
            latencies, cpu = _timed(door, TIMED)
            steps, mean = _broken_down(door)
        finally:
            engine.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    return {"routed_intake_p50_ms": round(cuts[49], 3), "routed_intake_p99_ms": round(cuts[98], 3),
            "routed_intake_cpu_p50_ms": round(statistics.median(cpu), 3), "mean_ms_broken_down": mean,
            "steps_ms_mean": dict(sorted(steps.items(), key=lambda kv: -kv[1])),
            "aim_p50_ms": 2.0, "package": str(Path(evenhand.__file__).parent)}


if __name__ == "__main__":
    print(run())
