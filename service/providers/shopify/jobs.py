"""The Shopify worker jobs: register the shop's webhook subscriptions, delete them after a
disconnect, apply a recorded delivery through SQL, and prune handled deliveries once nothing can
redeliver them."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg

from ...config import Settings
from ...errors import PermanentError, ProviderAuthError, ProviderError, sqlstate_of
from ...integrations import records, tokens
from ...queue.enqueue import enqueue
from ...queue.maintenance import prune
from ...queue.registry import Job, Registry, WorkerContext
from . import admin, imports
from .client import NAME, topic_enum
from .oauth import client, usable_token

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0
# The plan's topics, the catalog's (kept in sync after the import) and the end of a bulk operation
# (the import's loads start on it; polling is the fallback). The three privacy topics are
# configured in the app's settings on Shopify's side (the API cannot create them) and arrive at
# the same receiver.
WEBHOOK_TOPICS = ("orders/create", "orders/updated", "checkouts/create", "checkouts/update",
                  "customers/create", "customers/update", "products/create", "products/update",
                  "products/delete", "collections/create", "collections/update", "collections/delete",
                  "bulk_operations/finish", "app/uninstalled")


def webhook_address(settings: Settings) -> str:
    return f"{settings.public_base_url}/api/webhooks/shopify"


def register_webhooks(job: Job) -> None:
    """Subscribes every topic once; topics already registered (here or on Shopify) are kept.

    Each subscription is recorded as soon as Shopify confirms it, so a retry after a failure
    continues where this attempt stopped.
    """
    db, settings = job.context.db, job.context.settings
    shop = str(job.payload["shop"])
    with db.as_service() as conn:
        row = conn.execute("select status, metadata from public.integrations where user_id = %s and provider = %s",
                           [job.user_id, NAME]).fetchone()
        # Rows of a shop held before (a clean-up that never ran) do not count for this one.
        known = {r["topic"] for r in conn.execute(
            "select topic from public.shopify_webhooks where user_id = %s and shop_domain = %s", [job.user_id, shop])}
    if row is None or row["status"] != "connected" or (row["metadata"] or {}).get("shop_domain") != shop:
        return  # disconnected or reconnected to another shop since: nothing to register
    access = usable_token(job)
    shopify, address = client(settings), webhook_address(settings)
    remote = {w["topic"]: w["id"] for w in shopify.list_webhooks(shop, access) if w["uri"] == address}
    for topic in WEBHOOK_TOPICS:
        if topic in known:
            continue
        subscription_id = remote.get(topic_enum(topic))
        if subscription_id is None:
            subscription_id = shopify.create_webhook(shop, access, topic, address)
        with db.as_service() as conn:
            conn.execute(
                "insert into public.shopify_webhooks (user_id, shop_domain, shopify_webhook_id, topic, address)"
                " values (%s, %s, %s, %s, %s) on conflict (user_id, topic) do update"
                " set shop_domain = excluded.shop_domain, shopify_webhook_id = excluded.shopify_webhook_id,"
                " address = excluded.address, created_at = now()",
                [job.user_id, shop, subscription_id, topic, address])


def disconnect_cleanup(job: Job) -> None:
    """After a disconnect: delete the shop's subscriptions with the token, then the token.

    Runs only while the integration is still disconnected (a reconnect in between owns the
    token and the subscriptions again). On its last attempt it deletes the credentials anyway.
    """
    db, settings = job.context.db, job.context.settings
    with db.as_service() as conn:
        row = conn.execute("select status from public.integrations where user_id = %s and provider = %s",
                           [job.user_id, NAME]).fetchone()
        subscriptions = [r["shopify_webhook_id"] for r in conn.execute(
            "select shopify_webhook_id from public.shopify_webhooks where user_id = %s", [job.user_id])]
    if row is None or row["status"] != "disconnected":
        return
    shop = str(job.payload["shop"])
    try:
        access = usable_token(job, allow_disconnected=True)
        shopify = client(settings)
        for subscription_id in subscriptions:
            shopify.delete_webhook(shop, access, subscription_id)
            with db.as_service() as conn:
                conn.execute("delete from public.shopify_webhooks where user_id = %s and shopify_webhook_id = %s",
                             [job.user_id, subscription_id])
    except (ProviderAuthError, tokens.ReconnectRequired, tokens.NotConnected):
        pass  # the token is dead (app uninstalled): Shopify dropped the subscriptions with it
    except (ProviderError, PermanentError):
        if job.attempt < job.max_attempts:
            raise
        log.warning("Shopify subscriptions of user %s may remain: giving up after %d attempts",
                    job.user_id, job.attempt)
    with db.as_service() as conn:
        still = records.lock(conn, job.user_id, NAME)
        if still is not None and still["status"] == "disconnected":
            conn.execute("delete from public.shopify_webhooks where user_id = %s", [job.user_id])
            records.finish_disconnect(conn, job.user_id, NAME)


def queue_disconnect_cleanup(conn: psycopg.Connection[Any], user_id: str, integration: Mapping[str, Any]) -> bool:
    """The disconnect hook (DELETE /api/integrations/shopify): Shopify holds webhook subscriptions
    that only the shop's token can delete, so the queued clean-up deletes them and then the token;
    it queues the shop domain, never the token. True: that job deletes the credentials."""
    shop = (integration.get("metadata") or {}).get("shop_domain")
    if not shop:
        return False
    enqueue(conn, user_id, "shopify.disconnect_cleanup", {"shop": shop})
    return True


def process_webhook(job: Job) -> None:
    event_id = str(job.payload["event_id"])
    try:
        with job.context.db.as_service() as conn:
            conn.execute("select public.process_shopify_webhook(%s)", [event_id])
    except psycopg.Error as exc:
        meaning = sqlstate_of(exc)
        if meaning is None or not meaning.bad_input:
            raise
        with job.context.db.as_service() as conn:
            conn.execute("select public.finish_shopify_webhook(%s, 'failed', %s)",
                         [event_id, exc.diag.message_primary or exc.sqlstate])
        raise PermanentError(f"delivery {event_id} cannot be applied: {exc.diag.message_primary}") from None


def prune_handled_deliveries(context: WorkerContext) -> None:
    prune(context, "select public.prune_shopify_webhook_events(make_interval(days => %s)) as pruned",
          [context.settings.shopify_keep_webhook_days], "handled Shopify webhook deliveries")


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("shopify.register_webhooks", register_webhooks)
    registry.handler("shopify.disconnect_cleanup", disconnect_cleanup)
    registry.handler("shopify.process_webhook", process_webhook)
    registry.periodic("shopify.prune_webhook_events", PRUNE_EVERY_SECONDS, prune_handled_deliveries)
    # Products and the shop's time zone (issue 14; service/providers/shopify/admin.py).
    registry.handler(admin.CREATE_PRODUCT, admin.run_create_product)
    registry.handler(admin.UPDATE_PRODUCT, admin.run_update_product)
    registry.handler(admin.SYNC_SHOP_TIME_ZONE, admin.run_sync_shop_time_zone)
    # The initial import through Bulk Operations (imports.py).
    registry.handler("shopify.import_start", imports.import_start)
    registry.handler("shopify.import_check", imports.import_check)
    registry.periodic("shopify.poll_imports", settings.shopify_import_poll_seconds, imports.poll_imports)
