"""Runs queued work synchronously in the test, through the real claim/complete/fail functions,
so an OAuth or webhook flow can be followed step by step without a worker thread."""
from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.db import Database
from service.queue.families import build_registry
from service.queue.registry import Job, PermanentError, WorkerContext

RUNNER = "test-flow-runner"


@dataclass(frozen=True)
class Ran:
    operation_type: str
    payload: dict
    error: Exception | None


def run_queued(settings: Settings, db: Database, *, rounds: int = 5) -> list[Ran]:
    """Claims and runs every due item (and what those queue in turn), up to `rounds` times."""
    registry = build_registry(settings)
    context = WorkerContext(settings=settings, db=db)
    ran: list[Ran] = []
    for _ in range(rounds):
        with db.as_service() as conn:
            rows = conn.execute(
                "select id::text, user_id::text, operation_type, payload, attempts, max_attempts"
                " from public.claim_retry_items(%s, 100)", [RUNNER]).fetchall()
        if not rows:
            break
        for row in rows:
            job = Job(row["id"], row["user_id"], row["operation_type"], row["payload"], row["attempts"],
                      row["max_attempts"], context)
            error: Exception | None = None
            try:
                registry.handlers[job.operation_type](job)
            except Exception as exc:  # recorded on the item, as the worker does
                error = exc
            with db.as_service() as conn:
                if error is None:
                    conn.execute("select public.complete_retry_item(%s, %s)", [job.id, RUNNER])
                else:
                    # A microsecond of backoff: the retry is due at once, on the next round.
                    conn.execute("select public.fail_retry_item(%s, %s, %s, %s, interval '1 microsecond',"
                                 " interval '1 microsecond')",
                                 [job.id, RUNNER, str(error), not isinstance(error, PermanentError)])
            ran.append(Ran(job.operation_type, dict(job.payload), error))
    return ran
