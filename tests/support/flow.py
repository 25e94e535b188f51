"""Runs queued work synchronously in the test, through the real claim/complete/fail functions,
so an OAuth or webhook flow can be followed step by step without a worker thread."""
from __future__ import annotations

from dataclasses import dataclass

from service import providers
from service.config import Settings
from service.db import Database
from service.errors import retryable
from service.queue.families import build_registry
from service.queue.registry import Job, Registry, WorkerContext
from service.queue.worker import error_text

RUNNER = "test-flow-runner"


@dataclass(frozen=True)
class Ran:
    operation_type: str
    payload: dict
    error: Exception | None


def worker_context(settings: Settings, db: Database) -> WorkerContext:
    """What the worker hands its handlers: these settings, this database, every provider."""
    return WorkerContext(settings, db, providers.catalog())


def registry_for(settings: Settings) -> Registry:
    """Every family a worker loads."""
    return build_registry(settings, providers.catalog())


def run_due_items(context: WorkerContext, registry: Registry, *, runner: str = RUNNER,
                  retry_at_once: bool = True) -> list[tuple[Job, Exception | None]]:
    """One round, as the worker does it: claims every due item, runs it, completes or fails it.

    `retry_at_once`: a failure's retry is due at once (a microsecond of backoff), for the next
    round; otherwise the queue's own backoff applies.
    """
    with context.db.as_service() as conn:
        rows = conn.execute(
            "select id::text, user_id::text, operation_type, payload, attempts, max_attempts"
            " from public.claim_retry_items(%s, 100)", [runner]).fetchall()
    results: list[tuple[Job, Exception | None]] = []
    for row in rows:
        job = Job(row["id"], row["user_id"], row["operation_type"], row["payload"], row["attempts"],
                  row["max_attempts"], context)
        error: Exception | None = None
        try:
            registry.handlers[job.operation_type](job)
        except Exception as exc:  # recorded on the item, as the worker does
            error = exc
        with context.db.as_service() as conn:
            if error is None:
                conn.execute("select public.complete_retry_item(%s, %s)", [job.id, runner])
            else:
                backoff = ", interval '1 microsecond', interval '1 microsecond'" if retry_at_once else ""
                conn.execute(f"select public.fail_retry_item(%s, %s, %s, %s{backoff})",
                             [job.id, runner, error_text(error), retryable(error)])
        results.append((job, error))
    return results


def run_queued(settings: Settings, db: Database, *, rounds: int = 5) -> list[Ran]:
    """Claims and runs every due item (and what those queue in turn), up to `rounds` times."""
    context = worker_context(settings, db)
    registry = build_registry(settings, context.providers)
    ran: list[Ran] = []
    for _ in range(rounds):
        results = run_due_items(context, registry)
        if not results:
            break
        ran.extend(Ran(job.operation_type, dict(job.payload), error) for job, error in results)
    return ran
