"""The worker: carries the outbox, takes due escalation steps and runs the periodic jobs, in a loop.

``evenhand worker`` runs one in its own process (as many as you like on PostgreSQL); ``evenhand serve``
on the embedded SQLite database runs one in a background thread. SIGTERM (or SIGINT) lets the batch in
hand finish and be recorded, then stops. A worker killed outright loses nothing: its claimed rows are
sent again by whoever claims them after the lease, under the same idempotency keys.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from evenhand.config import Settings, bound
from evenhand.kit.clock import utcnow
from evenhand.notify import escalation, health, jobs, outbox, wakeup
from evenhand.notify.channels import AppriseSender, Outcome, Sender
from evenhand.notify.outbound import Allowed
from evenhand.notify.policy import policies

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.02
Clock = Callable[[], datetime]


@dataclass
class Tick:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0
    escalated: int = 0
    jobs: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Something happened, so more may be waiting right now."""
        return bool(self.claimed or self.cancelled or self.escalated)


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, sender: Sender | None = None, name: str | None = None,
                 clock: Clock = utcnow, rng: random.Random | None = None) -> None:
        self.engine, self.settings, self.clock, self.rng = engine, settings, clock, rng
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.sender = sender or AppriseSender(settings.notify_send_timeout_seconds,
                                              Allowed.parse(settings.outbound_allowed_hosts))
        self.policies = policies(settings.notify_policies)
        self.pool = ThreadPoolExecutor(settings.notify_threads, thread_name_prefix="notify-send")
        self.stopping = threading.Event()
        self._report_lock = threading.Lock()
        jobs.register("notify.health", settings.notify_health_every_seconds,
                      lambda session, now: health.check(session, now, settings))

    # --- one synchronous round (tests, --once) -------------------------------------------------------

    def tick(self) -> Tick:
        """One round: a batch of due deliveries, the due escalation steps, the due jobs."""
        tick = Tick()
        if outbox.has_due(self.engine, self.clock()):
            batch = outbox.claim(self.engine, worker=self.name, now=self.clock(), settings=self.settings)
            tick.claimed = sum(len(s.rows) for s in batch.sends)
            tick.cancelled, tick.deferred = batch.cancelled, batch.deferred
            results = list(self.pool.map(self._send, batch.sends))
            tick.delivered, tick.failed = outbox.record(self.engine, worker=self.name, results=results,
                                                        settings=self.settings, rng=self.rng)
        tick.escalated, tick.jobs = self._schedule()
        return tick

    def _schedule(self) -> tuple[int, list[str]]:
        with bound(self.settings):  # an escalation step or a job reads the worker's settings, not the process's
            escalated = escalation.run_due(self.engine, now=self.clock(), policies=self.policies)
            ran = jobs.run_due(self.engine, worker=self.name, now=self.clock(),
                               lease_seconds=self.settings.notify_lease_seconds)
        return escalated, ran

    def _send(self, send: outbox.Send) -> tuple[outbox.Send, Outcome, datetime, datetime]:
        started = self.clock()
        try:
            outcome = self.sender.send(send.envelope)
        except Exception as exc:  # a sender bug fails this send, not the batch
            log.exception("sender failed on %s", send.envelope.idempotency_key)
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}"[:500])
        return send, outcome, started, self.clock()

    # --- the long-running loop --------------------------------------------------------------------------

    def run(self, *, once: bool = False, on_tick: Callable[[Tick], None] | None = None) -> None:
        """Work until ``stop()``; with ``once``, until a round finds nothing to do.

        Running, deliveries flow through the thread pool continuously (a slow channel holds up only its own
        sends), while a second thread takes escalation steps and runs jobs on time."""
        report = self._reporter(on_tick)
        try:
            if once:
                self._rounds(report)
                return
            scheduler = threading.Thread(target=self._schedule_loop, args=(report,), name="evenhand-escalations",
                                         daemon=True)
            scheduler.start()
            self._deliver_loop(report)
            scheduler.join()
        finally:
            self.pool.shutdown(wait=True)

    def _reporter(self, on_tick: Callable[[Tick], None] | None) -> Callable[[Tick], None]:
        def report(tick: Tick) -> None:
            if on_tick is not None:
                with self._report_lock:
                    on_tick(tick)

        return report

    def _rounds(self, report: Callable[[Tick], None]) -> None:
        while not self.stopping.is_set():
            tick = self.tick()
            report(tick)
            if not tick.busy:
                return

    def _guarded(self, step: Callable[[], bool]) -> bool:
        """One step of a loop; a failure (the database away, say) is logged and retried after a pause."""
        try:
            return step()
        except Exception:
            log.exception("worker step failed; trying again")
            self.stopping.wait(self.settings.notify_poll_seconds)
            return False

    def _schedule_loop(self, report: Callable[[Tick], None]) -> None:
        def step() -> bool:
            escalated, ran = self._schedule()
            report(Tick(escalated=escalated, jobs=ran))
            return escalated > 0

        while not self.stopping.is_set():
            if not self._guarded(step):
                self.stopping.wait(self.settings.notify_poll_seconds)

    def _deliver_loop(self, report: Callable[[Tick], None]) -> None:
        """Keep a batch of sends in flight: record what finished, claim more while there is room."""
        flight: dict[Future[tuple[outbox.Send, Outcome, datetime, datetime]], outbox.Send] = {}
        room = max(2 * self.settings.notify_threads, self.settings.notify_batch_size)
        while not (self.stopping.is_set() and not flight):
            finished = [f for f in flight if f.done()]
            # Unrecorded answers are kept and recorded later; when stopping they are dropped, and their rows go
            # out again after the lease, under the same keys.
            if finished and (self._guarded(partial(self._record, finished, report)) or self.stopping.is_set()):
                for f in finished:
                    del flight[f]
            if not self.stopping.is_set() and len(flight) <= room // 2:  # claim in sizeable batches
                self._guarded(partial(self._claim, flight, room - len(flight), report))
            if flight:
                wait(list(flight), timeout=self.settings.notify_poll_seconds, return_when=FIRST_COMPLETED)
                wait(list(flight), timeout=GATHER_SECONDS)  # a moment more, so one transaction records several
            elif not self.stopping.is_set():
                wakeup.wake.wait(self.settings.notify_poll_seconds)
                wakeup.wake.clear()

    def _claim(self, flight: dict[Any, outbox.Send], room: int, report: Callable[[Tick], None]) -> bool:
        if not outbox.has_due(self.engine, self.clock()):
            return False
        batch = outbox.claim(self.engine, worker=self.name, now=self.clock(), settings=self.settings,
                             limit=min(room, self.settings.notify_batch_size))
        for send in batch.sends:
            flight[self.pool.submit(self._send, send)] = send
        report(Tick(claimed=sum(len(s.rows) for s in batch.sends), cancelled=batch.cancelled,
                    deferred=batch.deferred))
        return True

    def _record(self, finished: list[Future[tuple[outbox.Send, Outcome, datetime, datetime]]],
                report: Callable[[Tick], None]) -> bool:
        delivered, failed = outbox.record(self.engine, worker=self.name, results=[f.result() for f in finished],
                                          settings=self.settings, rng=self.rng)
        report(Tick(delivered=delivered, failed=failed))
        return True

    def stop(self) -> None:
        self.stopping.set()
        wakeup.wake.set()


def stop_on_signals(worker: Worker) -> None:
    """SIGTERM and SIGINT finish the batch in hand, then stop (main thread only)."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after this round", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@dataclass
class Background:
    worker: Worker
    thread: threading.Thread

    def stop(self, timeout: float = 30.0) -> None:
        self.worker.stop()
        self.thread.join(timeout)
        # Said in the server's log (uvicorn's logger), where an operator watching ``serve`` looks.
        logging.getLogger("uvicorn.error").info("In-process worker stopped%s.",
                                                " (a send was still running)" if self.thread.is_alive() else "")


def start_in_background(engine: Engine, settings: Settings) -> Background:
    """The worker of ``serve`` on the embedded database: a daemon thread in the server's process."""
    jobs.load_tasks()
    worker = Worker(engine, settings)
    thread = threading.Thread(target=worker.run, name="evenhand-worker", daemon=True)
    thread.start()
    return Background(worker, thread)
