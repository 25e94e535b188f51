"""The queue's own periodic jobs: rescue items of dead workers, prune old resolved items."""
from __future__ import annotations

import logging
from typing import Any

from ..config import Settings
from .registry import Registry, WorkerContext

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0


def rescue_stale_items(context: WorkerContext) -> None:
    settings = context.settings
    with context.db.as_service() as conn:
        row = conn.execute(
            "select public.rescue_stale_retry_items(make_interval(secs => %s), make_interval(secs => %s),"
            " make_interval(secs => %s)) as rescued",
            [settings.queue_rescue_timeout_seconds, settings.queue_backoff_base_seconds,
             settings.queue_backoff_cap_seconds],
        ).fetchone()
    if row and row["rescued"]:
        log.warning("rescued %d item(s) from workers that stopped heart-beating", row["rescued"])


def prune(context: WorkerContext, statement: str, params: list[Any], what: str) -> int:
    """Runs one pruning function (its result named `pruned`) as the service; logs what went."""
    with context.db.as_service() as conn:
        row = conn.execute(statement, params).fetchone()
    pruned = int(row["pruned"]) if row and row["pruned"] else 0
    if pruned:
        log.info("pruned %d %s", pruned, what)
    return pruned


def prune_resolved_items(context: WorkerContext) -> None:
    prune(context, "select public.prune_retry_queue(make_interval(days => %s)) as pruned",
          [context.settings.queue_keep_resolved_days], "resolved item(s)")


def register(registry: Registry, settings: Settings) -> None:
    registry.periodic("retry_queue.rescue", settings.queue_rescue_every_seconds, rescue_stale_items)
    registry.periodic("retry_queue.prune", PRUNE_EVERY_SECONDS, prune_resolved_items)
