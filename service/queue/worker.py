"""`haven worker`: drains the retry queue.

One main thread talks to the database over its own connection (claims, batch completions,
failures, heartbeats, periodic job claims) and waits on a LISTEN connection, a wake-up socket
that handler threads poke when enough of them have finished, and a poll timer. Handlers run in a
thread pool; each claimed item has a thread waiting for it, so no item sits claimed behind a slow
one. What finished since the last round trip is recorded, and the freed threads' next items
claimed, in one round trip (a pipeline of complete, fail and claim statements).

On stop (SIGTERM/SIGINT) the worker claims nothing more, finishes the items it is running and
records their outcome, then exits; a second signal exits at once, and the items it held are
rescued by another worker after the rescue timeout.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import re
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..config import Settings
from ..db import Database
from ..errors import HavenError, PermanentError, retry_delay, retryable
from ..integrations.catalog import Catalog
from .registry import Job, Registry, WorkerContext

log = logging.getLogger(__name__)

CHANNEL = "retry_queue"
MAX_ERROR_CHARS = 2000
RECONNECT_DELAY_SECONDS = 2.0
# While items run, finished ones are recorded (and their threads given new items) at the latest
# this long after they finish; sooner once half the threads are free. A wake-up per finished item
# would cost a round trip per item.
FLUSH_SECONDS = 0.005
# A query string can carry a token (OAuth codes, API keys): errors keep URLs without it.
_URL_QUERY = re.compile(r"(https?://[^\s?#]+)\?[^\s'\"]*")


def error_text(exc: BaseException) -> str:
    """What the queue records about a failure, URLs without query: our own errors' messages are
    written to be shown; anything else is named by its type too."""
    message = str(exc) if isinstance(exc, HavenError) else f"{type(exc).__name__}: {exc}"
    return _URL_QUERY.sub(r"\1?…", message)[:MAX_ERROR_CHARS]


# retry_backoff() spreads a delay over [0.8, 1.2] of its nominal value: a base this much larger
# than a provider's wait is never shorter than the wait.
_JITTER_FLOOR = 0.8


def backoff_bounds(exc: BaseException, attempt: int, settings: Settings) -> tuple[float, float]:
    """The backoff base and cap for attempt `attempt` of an item that failed with `exc`: the
    settings', raised just enough that the next try (retry_backoff: least(cap, base * 2^(attempt-1))
    times the jitter) comes no sooner than a rate-limited provider asked (`retry_delay`)."""
    base, cap = settings.queue_backoff_base_seconds, settings.queue_backoff_cap_seconds
    wait = retry_delay(exc)
    if wait is not None:
        least_nominal = wait / _JITTER_FLOOR
        base = max(base, least_nominal / 2 ** min(max(attempt, 1) - 1, 62))
        cap = max(cap, least_nominal, base)
    return base, cap


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int
    batch: int
    poll_seconds: float
    heartbeat_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        return cls(settings.worker_concurrency, settings.worker_batch, settings.worker_poll_seconds,
                   settings.worker_heartbeat_seconds)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch < 1:
            raise ValueError("concurrency and batch must be at least 1")
        if self.poll_seconds <= 0 or self.heartbeat_seconds <= 0:
            raise ValueError("poll and heartbeat intervals must be positive")


@dataclass(frozen=True)
class Outcome:
    job: Job
    error: Exception | None


class HandlerThreads:
    """`size` threads that each take one item at a time from a shared queue and run it. An item
    costs a put and a get (no future, no executor bookkeeping); a thread that finishes finds the
    next waiting item without sleeping."""

    def __init__(self, size: int, run: Callable[[Job], None]) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # Daemons: a worker told twice to stop exits at once, whatever its handlers are doing.
        self._threads = [threading.Thread(target=self._serve, args=(run,), name=f"haven-job-{n}", daemon=True)
                         for n in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def take_unstarted(self) -> list[Job]:
        """Items no thread has taken yet, taken back."""
        unstarted = []
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return unstarted
            if job is not None:
                unstarted.append(job)

    def shutdown(self) -> None:
        """Lets each thread finish its item, then ends it."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self, run: Callable[[Job], None]) -> None:
        while (job := self._jobs.get()) is not None:
            run(job)


class Worker:
    def __init__(self, settings: Settings, registry: Registry, providers: Catalog, database_url: str,
                 options: WorkerOptions | None = None, worker_id: str | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.providers = providers
        self.url = database_url
        self.options = options or WorkerOptions.from_settings(settings)
        self.worker_id = worker_id or new_worker_id()
        self._stopping = threading.Event()
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._inflight: dict[str, Job] = {}  # claimed, outcome not yet recorded
        # Handler threads wake the main thread once this many outcomes wait (set before it sleeps).
        self._wake_at = 1
        self._periodic_runs: dict[str, Future[None]] = {}
        self._periodic_next_check: dict[str, float] = {}
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._listener: psycopg.Connection[Any] | None = None
        self.processed = 0

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming, finish what is running, return from run(). Safe from signal handlers."""
        self._stopping.set()
        self._wake()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake (buffer full) or shutting down

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> None:
        db = Database(self.url, min_size=0, max_size=self.options.concurrency + 1, check_connections=True)
        context = WorkerContext(self.settings, db, self.providers)
        handlers = HandlerThreads(self.options.concurrency, self._execute)
        periodic = ThreadPoolExecutor(1, thread_name_prefix="haven-periodic")
        log.info("worker %s: %d thread(s), batch %d, handlers: %s", self.worker_id, self.options.concurrency,
                 self.options.batch, ", ".join(sorted(self.registry.handlers)) or "none")
        try:
            while not self.stopping:
                try:
                    self._connect()
                    self._loop(handlers, periodic, context)
                except psycopg.OperationalError as exc:
                    log.error("worker %s lost the database (%s); reconnecting", self.worker_id, exc)
                    self._disconnect()
                    self._stopping.wait(RECONNECT_DELAY_SECONDS)
            self._drain(handlers)
            self._say_stopped()
        finally:
            handlers.shutdown()
            periodic.shutdown(wait=True, cancel_futures=True)
            self._disconnect()
            db.close()
            self._wake_reader.close()
            self._wake_writer.close()
            log.info("worker %s stopped after %d item(s)", self.worker_id, self.processed)

    def _loop(self, handlers: HandlerThreads, periodic: ThreadPoolExecutor, context: WorkerContext) -> None:
        self._heartbeat()
        next_heartbeat = time.monotonic() + self.options.heartbeat_seconds
        next_poll = 0.0  # claim at once on start
        maybe_due = True
        # Claim for at least this many free threads while others run (or at the flush deadline):
        # one round trip for many items rather than one per finished item.
        enough = max(1, min(self.options.batch, self.options.concurrency) // 2)
        while not self.stopping:
            now = time.monotonic()
            if now >= next_heartbeat:
                self._heartbeat()
                next_heartbeat = now + self.options.heartbeat_seconds
            next_periodic = self._run_due_periodic_jobs(periodic, context, now)
            if now >= next_poll:
                maybe_due = True
                next_poll = now + self.options.poll_seconds
            outcomes = self._take_outcomes()
            running = len(self._inflight) - len(outcomes)
            free = self.options.concurrency - running
            wanted = min(self.options.batch, free) if maybe_due and free > 0 else 0
            if outcomes or wanted:
                jobs = self._record_and_claim(outcomes, wanted, context)
                for job in jobs:
                    self._inflight[job.id] = job
                    handlers.submit(job)
                if wanted:
                    maybe_due = len(jobs) == wanted  # a full batch: there may be more
                    if maybe_due and len(jobs) < free:
                        continue
            running = len(self._inflight)
            self._wake_at = max(1, min(enough, running))
            deadline = min(next_heartbeat, next_poll, next_periodic)
            if running:
                deadline = min(deadline, time.monotonic() + FLUSH_SECONDS)
            if self._outcomes.qsize() >= self._wake_at:
                continue  # enough finished while we were busy: no need to sleep
            if self._wait(deadline - time.monotonic()):
                maybe_due = True

    def _drain(self, handlers: HandlerThreads) -> None:
        """On stop: give back what has not started, finish and record what has."""
        unstarted = [job.id for job in handlers.take_unstarted()]
        if self._conn is None or self._conn.closed:
            return  # no database: what we hold is rescued after the timeout
        try:
            if unstarted:
                released = self._call("select public.release_retry_items(%s, %s::uuid[]) as id",
                                      [self.worker_id, unstarted])
                for item_id in unstarted:
                    self._inflight.pop(item_id, None)
                log.info("released %d unstarted item(s)", len(released))
            next_heartbeat = time.monotonic() + self.options.heartbeat_seconds
            while self._inflight:
                self._wake_at = 1
                if not self._outcomes.qsize():
                    self._wait(next_heartbeat - time.monotonic())
                self._record_and_claim(self._take_outcomes(), 0, None)
                if time.monotonic() >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = time.monotonic() + self.options.heartbeat_seconds
        except psycopg.OperationalError as exc:
            log.error("worker %s lost the database while stopping (%s); its items will be rescued",
                      self.worker_id, exc)

    # -- database ------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self._conn is not None and not self._conn.closed:
            return
        name = f"haven worker {self.worker_id}"[:63]
        self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, application_name=name)
        # The worker's own connection acts as service_role for its whole session, one round trip
        # per queue call (db.as_service() would add three per transaction).
        self._conn.execute("select set_config('role', 'service_role', false),"
                           " set_config('request.jwt.claims', %s, false)",
                           [json.dumps({"role": "service_role"})])
        self._listener = psycopg.connect(self.url, autocommit=True, application_name=name)
        self._listener.execute(f"listen {CHANNEL}")

    def _disconnect(self) -> None:
        for conn in (self._conn, self._listener):
            if conn is not None:
                try:
                    conn.close()
                except psycopg.Error:
                    pass
        self._conn = self._listener = None

    def _call(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        assert self._conn is not None
        return self._conn.execute(sql, params).fetchall()

    def _say_stopped(self) -> None:
        if self._conn is None or self._conn.closed:
            return  # its row ages out instead
        try:
            self._call("select public.record_worker_stopped(%s)", [self.worker_id])
        except psycopg.OperationalError:
            pass

    def _heartbeat(self) -> None:
        # Alive even when idle: "no worker runs" and "nothing to do" look different (ops, /metrics).
        self._call("select public.record_worker_alive(%s)", [self.worker_id])
        if self._inflight:
            self._call("select public.heartbeat_retry_items(%s)", [self.worker_id])

    def _take_outcomes(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while True:
            try:
                outcomes.append(self._outcomes.get_nowait())
            except queue.Empty:
                return outcomes

    def _record_and_claim(self, outcomes: list[Outcome], wanted: int, context: WorkerContext | None) -> list[Job]:
        """One round trip: complete the successes, fail the failures, claim `wanted` more items."""
        assert self._conn is not None
        succeeded = [o.job.id for o in outcomes if o.error is None]
        failed = [o for o in outcomes if o.error is not None]
        try:
            with self._conn.pipeline():
                completing = self._conn.execute(
                    "select id::text from public.complete_retry_items(%s, %s::uuid[]) as id",
                    [self.worker_id, succeeded]) if succeeded else None
                failing = [self._conn.execute(
                    "select public.fail_retry_item(%s, %s, %s, %s, make_interval(secs => %s),"
                    " make_interval(secs => %s)) as status",
                    [o.job.id, self.worker_id, error_text(o.error), retryable(o.error),
                     *backoff_bounds(o.error, o.job.attempt, self.settings)])
                    for o in failed if o.error is not None]
                claiming = self._conn.execute(
                    "select id::text, user_id::text, operation_type, payload, attempts, max_attempts"
                    " from public.claim_retry_items(%s, %s)", [self.worker_id, wanted]) if wanted else None
            completed = {row["id"] for row in completing.fetchall()} if completing is not None else set()
            statuses = [cursor.fetchone() for cursor in failing]
            claimed = claiming.fetchall() if claiming is not None else []
        except psycopg.OperationalError:
            # Not recorded: keep them for after the reconnect (a repeated call changes nothing).
            for outcome in outcomes:
                self._outcomes.put(outcome)
            raise
        for item_id in set(succeeded) - completed:
            log.warning("item %s finished after it was taken from this worker; outcome dropped", item_id)
        for outcome, row in zip(failed, statuses):
            status = row["status"] if row else None
            if status is None:
                log.warning("item %s failed after it was taken from this worker; outcome dropped", outcome.job.id)
            else:
                log.info("item %s (%s) attempt %d/%d failed, now %s: %s", outcome.job.id, outcome.job.operation_type,
                         outcome.job.attempt, outcome.job.max_attempts, status, error_text(outcome.error))
        for outcome in outcomes:
            self._inflight.pop(outcome.job.id, None)
        self.processed += len(outcomes)
        assert context is not None or not claimed
        return [Job(row["id"], row["user_id"], row["operation_type"], row["payload"], row["attempts"],
                    row["max_attempts"], context) for row in claimed]  # type: ignore[arg-type]

    # -- periodic jobs -------------------------------------------------------------------------

    def _run_due_periodic_jobs(self, pool: ThreadPoolExecutor, context: WorkerContext, now: float) -> float:
        """Claims and starts the periodic jobs due now; returns when to look again."""
        next_check = now + self.options.poll_seconds
        for job in self.registry.periodic_jobs.values():
            check_at = self._periodic_next_check.get(job.name, 0.0)
            running = self._periodic_runs.get(job.name)
            if now >= check_at and (running is None or running.done()):
                claimed = self._call("select public.claim_periodic_job(%s, %s, make_interval(secs => %s)) as ok",
                                     [job.name, self.worker_id, job.every_seconds])[0]["ok"]
                if claimed:
                    self._periodic_runs[job.name] = pool.submit(self._run_periodic, job.name, job.run, context)
                # Not ours this time: another worker ran it; look again within the interval.
                check_at = now + (job.every_seconds if claimed else min(job.every_seconds, self.options.poll_seconds))
                self._periodic_next_check[job.name] = check_at
            next_check = min(next_check, max(check_at, now + 0.05))
        return next_check

    @staticmethod
    def _run_periodic(name: str, run: Any, context: WorkerContext) -> None:
        try:
            run(context)
        except Exception:
            log.exception("periodic job %s failed", name)

    # -- handler threads -----------------------------------------------------------------------

    def _execute(self, job: Job) -> None:
        handler = self.registry.handlers.get(job.operation_type)
        error: Exception | None = None
        try:
            if handler is None:
                raise PermanentError(f"no handler for operation_type {job.operation_type!r}")
            handler(job)
        except Exception as exc:  # every failure is recorded on the item, never lost
            error = exc
        self._outcomes.put(Outcome(job, error))
        if self._outcomes.qsize() >= self._wake_at:
            self._wake()

    # -- waiting -------------------------------------------------------------------------------

    def _wait(self, timeout: float) -> bool:
        """Sleeps until a NOTIFY, a finished handler, stop() or the timeout; True on a NOTIFY."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_reader, selectors.EVENT_READ)
            if self._listener is not None:
                selector.register(self._listener.fileno(), selectors.EVENT_READ)
            ready = selector.select(max(timeout, 0.0))
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass
        notified = False
        if self._listener is not None and any(key.fileobj != self._wake_reader for key, _ in ready):
            notified = bool(list(self._listener.notifies(timeout=0)))
        return notified
