"""Connecting a Shopify shop: install -> Shopify's consent -> callback, and what follows.

- Offline, expiring access tokens (no `per-user` grant: a background service needs a token that
  outlives the browser session; expiring tokens are required for public apps from 2027).
- The callback verifies the HMAC before anything else, refuses stale timestamps, validates the
  shop, consumes the single-use state bound to user, provider and shop, then exchanges the code.
  Each failure redirects to the front end with one error code and leaves nothing half stored.
- Webhook registration and, on disconnect, subscription deletion run as queued operations, so a
  Shopify hiccup is retried with backoff instead of being logged and forgotten.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

import psycopg
from flask import Blueprint, redirect, request
from psycopg.types.json import Jsonb
from pydantic import Field

from ..api import Strict, endpoint
from ..app import services
from ..auth import Caller
from ..config import Settings
from ..db import Database
from ..errors import BadRequest, Conflict
from ..providers import ProviderAuthError, ProviderError
from ..providers.shopify import ShopifyClient, normalise_shop, topic_enum, verify_oauth_hmac
from ..queue.registry import Job, PermanentError, Registry
from . import oauth_flow, records, tokens
from .oauth_state import OAuthStateError, consume_oauth_state
from .records import TokenSet
from .oauth_flow import AuthorizeUrl, callback_url, front_end

log = logging.getLogger(__name__)
PROVIDER = "shopify"
# The plan's topics. The three privacy topics are configured in the app's settings on Shopify's
# side (the API cannot create them) and arrive at the same receiver.
WEBHOOK_TOPICS = ("orders/create", "orders/updated", "checkouts/create", "checkouts/update",
                  "customers/create", "customers/update", "products/update", "app/uninstalled")
CallbackError = Literal["invalid_hmac", "stale_request", "invalid_shop", "invalid_state",
                        "token_exchange_failed", "shop_info_failed", "not_configured"]

bp = Blueprint("shopify", __name__)


def client(settings: Settings) -> ShopifyClient:
    if not settings.shopify_client_id or not settings.shopify_client_secret:
        raise Conflict("Shopify is not configured on this server (SHOPIFY_CLIENT_ID/SECRET)",
                       code="provider_not_configured")
    return ShopifyClient(client_id=settings.shopify_client_id, client_secret=settings.shopify_client_secret,
                         api_version=settings.shopify_api_version, base_url_template=settings.shopify_base_url,
                         timeout=settings.http_timeout_seconds)


def webhook_address(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/api/webhooks/shopify"


def shopify_refresher(settings: Settings) -> tokens.Refresher | None:
    if not settings.shopify_client_id or not settings.shopify_client_secret:
        return None

    def refresh(refresh_token: str, row: Mapping[str, Any]) -> TokenSet:
        shop = (row.get("metadata") or {}).get("shop_domain")
        if not shop:
            raise ProviderAuthError(PROVIDER, "the integration names no shop")
        grant = client(settings).refresh(shop, refresh_token)
        return TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)

    return tokens.Refresher(PROVIDER, "Shopify", timedelta(seconds=settings.shopify_refresh_window_seconds), refresh)


class InstallQuery(Strict):
    shop: str = Field(description="The shop's myshopify.com domain")
    format: Literal["redirect", "json"] = Field("redirect", description="json: answer the URL instead of redirecting")



@bp.get("/api/integrations/shopify/install")
@endpoint("Start connecting a Shopify shop: redirect to (or answer) Shopify's authorize URL",
          query=InstallQuery, response=AuthorizeUrl, errors=(400, 409), tags=("integrations",),
          extra_responses={302: "redirect to Shopify's consent screen"})
def install(caller: Caller, query: InstallQuery):  # type: ignore[no-untyped-def]
    settings = services().settings
    shop = normalise_shop(query.shop)
    if shop is None:
        raise BadRequest("shop must be a *.myshopify.com domain", code="invalid_shop")
    with services().db.as_service() as conn:
        _refuse_unless_free(conn, caller.user_id, shop)
    shopify = client(settings)
    return oauth_flow.start(
        caller.user_id, PROVIDER, as_json=query.format == "json", shop=shop, metadata={"shop_domain": shop},
        authorize_url=lambda state: shopify.authorize_url(shop, scopes=settings.shopify_scopes, state=state,
                                                          redirect_uri=callback_url(settings, PROVIDER)))


def _refuse_unless_free(conn: psycopg.Connection[Any], user_id: str, shop: str) -> None:
    """One shop per account, one account per shop: a switch or a transfer goes through a disconnect."""
    row = conn.execute("select public.shopify_held_shop(%s) as held,"
                       " public.shopify_shop_held_elsewhere(%s, %s) as taken", [user_id, user_id, shop]).fetchone()
    assert row is not None
    if row["held"] and row["held"] != shop:
        raise Conflict(f"this account holds {row['held']}: disconnect it before connecting {shop}",
                       code="another_shop_connected")
    if row["taken"]:
        raise Conflict(f"{shop} is connected to another account; it must be disconnected there first",
                       code="shop_in_use")


def _held_elsewhere(conn: psycopg.Connection[Any], user_id: str, shop: str) -> bool:
    row = conn.execute("select public.shopify_shop_held_elsewhere(%s, %s) as held", [user_id, shop]).fetchone()
    return bool(row and row["held"])


@bp.get("/api/integrations/shopify/callback")
@endpoint("Shopify's OAuth redirect back (HMAC-verified); redirects to the front end",
          auth=False, status=302, produces=(), tags=("integrations",),
          description="Redirects to APP_URL/dashboard/settings/integrations with success=shopify_connected "
                      "or error=invalid_hmac|stale_request|invalid_shop|invalid_state|"
                      "token_exchange_failed|shop_info_failed|shop_in_use (another account holds the shop).")
def callback():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not settings.shopify_client_secret or not settings.shopify_client_id:
        return oauth_flow.refuse(PROVIDER, "not_configured")
    params = list(request.args.items(multi=True))
    if not verify_oauth_hmac(params, request.args.get("hmac"), settings.shopify_client_secret):
        return oauth_flow.refuse(PROVIDER, "invalid_hmac")
    try:
        age = abs(time.time() - int(request.args.get("timestamp", "")))
    except ValueError:
        return oauth_flow.refuse(PROVIDER, "stale_request")
    if age > settings.shopify_callback_max_age_seconds:
        return oauth_flow.refuse(PROVIDER, "stale_request")
    shop = normalise_shop(request.args.get("shop"))
    if shop is None:
        return oauth_flow.refuse(PROVIDER, "invalid_shop")
    code, state = request.args.get("code"), request.args.get("state")
    if not code or not state:
        return oauth_flow.refuse(PROVIDER, "invalid_state")
    db = services().db
    try:
        with db.as_service() as conn:
            user_id = consume_oauth_state(conn, PROVIDER, state, shop)
            held_elsewhere = _held_elsewhere(conn, user_id, shop)
    except OAuthStateError as exc:
        log.warning("Shopify callback state refused (%s)", exc.reason)
        return oauth_flow.refuse(PROVIDER, "invalid_state")
    # Before any token is asked for: a link to another account's install must not move a shop.
    if held_elsewhere:
        return oauth_flow.refuse(PROVIDER, "shop_in_use", user_id, "that shop is connected to another account")

    shopify = client(settings)
    try:
        grant = shopify.exchange_code(shop, code)
    except ProviderError as exc:
        return oauth_flow.refuse(PROVIDER, "token_exchange_failed", user_id, f"Shopify token exchange failed: {exc}")
    try:
        info = shopify.shop_info(shop, grant.access_token)
    except ProviderError as exc:
        return oauth_flow.refuse(PROVIDER, "shop_info_failed", user_id, f"Shopify shop query failed: {exc}")

    connected = TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)
    metadata = {"shop_domain": shop, "shop_name": info["name"], "access_scopes": grant.scopes}
    if grant.refresh_token_expires_at:
        metadata["refresh_token_expires_at"] = grant.refresh_token_expires_at.isoformat()
    try:
        with db.as_service() as conn:
            records.mark_connected(conn, user_id, PROVIDER, metadata=metadata,
                                   credentials=connected.as_credentials(), token_expires_at=grant.expires_at)
            conn.execute("select public.claim_shopify_shop(%s, %s)", [user_id, shop])
            queue(conn, user_id, "shopify.register_webhooks", {"shop": shop})
    except psycopg.errors.ObjectNotInPrerequisiteState:  # another account connected it meanwhile
        return oauth_flow.refuse(PROVIDER, "shop_in_use", user_id, "that shop is connected to another account")
    log.info("Shopify shop connected for user %s", user_id)
    return redirect(front_end(settings, success="shopify_connected"), code=302)


def queue(conn: psycopg.Connection[Any], user_id: str, operation: str, payload: Mapping[str, Any]) -> None:
    """Queues work for the worker; payloads carry ids and domains, never a token."""
    conn.execute("select public.queue_for_retry(%s, %s, %s)", [user_id, operation, Jsonb(dict(payload))])


def _usable_token(db: Database, settings: Settings, user_id: str, *, allow_disconnected: bool = False) -> str:
    refresher = shopify_refresher(settings)
    if refresher is None:
        raise PermanentError("Shopify is not configured on this server")
    return tokens.access_token(db, refresher, user_id, allow_disconnected=allow_disconnected)


def register_webhooks(job: Job) -> None:
    """Subscribes every topic once; topics already registered (here or on Shopify) are kept.

    Each subscription is recorded as soon as Shopify confirms it, so a retry after a failure
    continues where this attempt stopped.
    """
    db, settings = job.context.db, job.context.settings
    shop = str(job.payload["shop"])
    with db.as_service() as conn:
        row = conn.execute("select status, metadata from public.integrations where user_id = %s and provider = %s",
                           [job.user_id, PROVIDER]).fetchone()
        # Rows of a shop held before (a clean-up that never ran) do not count for this one.
        known = {r["topic"] for r in conn.execute(
            "select topic from public.shopify_webhooks where user_id = %s and shop_domain = %s", [job.user_id, shop])}
    if row is None or row["status"] != "connected" or (row["metadata"] or {}).get("shop_domain") != shop:
        return  # disconnected or reconnected to another shop since: nothing to register
    access = _usable_token(db, settings, job.user_id)
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
                           [job.user_id, PROVIDER]).fetchone()
        subscriptions = [r["shopify_webhook_id"] for r in conn.execute(
            "select shopify_webhook_id from public.shopify_webhooks where user_id = %s", [job.user_id])]
    if row is None or row["status"] != "disconnected":
        return
    shop = str(job.payload["shop"])
    try:
        access = _usable_token(db, settings, job.user_id, allow_disconnected=True)
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
        still = records.lock(conn, job.user_id, PROVIDER)
        if still is not None and still["status"] == "disconnected":
            conn.execute("delete from public.shopify_webhooks where user_id = %s", [job.user_id])
            conn.execute("select public.delete_credentials(%s, %s)", [job.user_id, PROVIDER])
            conn.execute("update public.integrations set metadata = '{}', token_expires_at = null"
                         " where user_id = %s and provider = %s",
                         [job.user_id, PROVIDER])


def queue_disconnect_cleanup(conn: psycopg.Connection[Any], user_id: str, integration: Mapping[str, Any]) -> bool:
    """Called by DELETE /api/integrations/shopify; True: the queued job deletes the credentials."""
    shop = (integration.get("metadata") or {}).get("shop_domain")
    if not shop:
        return False
    queue(conn, user_id, "shopify.disconnect_cleanup", {"shop": shop})
    return True


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("shopify.register_webhooks", register_webhooks)
    registry.handler("shopify.disconnect_cleanup", disconnect_cleanup)
