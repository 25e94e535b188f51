"""The worker's sweep of exports whose stream died with its process.

A stream holds an advisory lock until its outcome is recorded (service/exports/stream.py);
`public.fail_orphaned_exports()` marks failed the `streaming` rows whose lock is free, so the
user's history never shows an export as running for ever after a crash or a deploy.
"""
from __future__ import annotations

import logging

from ..config import Settings
from ..queue.registry import Registry, WorkerContext

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 60.0


def fail_orphaned_exports(context: WorkerContext) -> None:
    with context.db.as_service() as conn:
        row = conn.execute("select public.fail_orphaned_exports() as failed").fetchone()
    if row and row["failed"]:
        log.warning("marked %d export(s) failed: the service streaming them stopped", row["failed"])


def register(registry: Registry, settings: Settings) -> None:
    registry.periodic("exports.fail_orphans", SWEEP_EVERY_SECONDS, fail_orphaned_exports)
