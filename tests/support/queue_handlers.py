"""A handler family for worker tests run as separate processes (`haven worker --family tests.support.queue_handlers`).

`test.block` holds its item until the test lets it go: it waits for a shared advisory lock that
the test holds exclusively. Killing the worker ends the wait with its connection. It is
idempotent, as every handler must be: running it twice does no harm.
"""
from __future__ import annotations

from service.config import Settings
from service.queue.registry import Job, Registry


def run_block(job: Job) -> None:
    with job.context.db.as_service() as conn:
        conn.execute("select pg_advisory_xact_lock_shared(%s)", [int(job.payload["lock"])])


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("test.block", run_block)
