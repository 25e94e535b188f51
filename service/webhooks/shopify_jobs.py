"""Worker jobs for Shopify deliveries: apply a recorded delivery through SQL, and prune the
handled ones once nothing can redeliver them."""
from __future__ import annotations

import logging

import psycopg

from ..config import Settings
from ..queue.registry import Job, PermanentError, Registry, WorkerContext

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0

# Payload problems no retry can fix: the delivery is marked failed (its body kept) and stops.
UNFIXABLE_SQLSTATES = {"22023", "22P02", "22007", "22008", "22003"}


def process_webhook(job: Job) -> None:
    event_id = str(job.payload["event_id"])
    try:
        with job.context.db.as_service() as conn:
            conn.execute("select public.process_shopify_webhook(%s)", [event_id])
    except psycopg.Error as exc:
        if exc.sqlstate not in UNFIXABLE_SQLSTATES:
            raise
        with job.context.db.as_service() as conn:
            conn.execute("select public.finish_shopify_webhook(%s, 'failed', %s)",
                         [event_id, exc.diag.message_primary or exc.sqlstate])
        raise PermanentError(f"delivery {event_id} cannot be applied: {exc.diag.message_primary}") from None


def prune_handled_deliveries(context: WorkerContext) -> None:
    with context.db.as_service() as conn:
        row = conn.execute("select public.prune_shopify_webhook_events(make_interval(days => %s)) as pruned",
                           [context.settings.shopify_keep_webhook_days]).fetchone()
    if row and row["pruned"]:
        log.info("pruned %d handled Shopify webhook deliveries", row["pruned"])


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("shopify.process_webhook", process_webhook)
    registry.periodic("shopify.prune_webhook_events", PRUNE_EVERY_SECONDS, prune_handled_deliveries)
