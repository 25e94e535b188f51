"""Connecting a Shopify shop: install -> Shopify's consent -> callback, and token refresh.

- Offline, expiring access tokens (no `per-user` grant: a background service needs a token that
  outlives the browser session; expiring tokens are required for public apps from 2027).
- The callback verifies the HMAC before anything else, refuses stale timestamps, validates the
  shop, consumes the single-use state bound to user, provider and shop, then exchanges the code.
  Each failure redirects to the front end with one error code and leaves nothing half stored.
- Webhook registration (service/providers/shopify/jobs.py) is queued in the callback's
  transaction, so a Shopify hiccup is retried with backoff instead of being logged and forgotten.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

import psycopg
from flask import Blueprint, redirect, request
from pydantic import Field

from ...api import Strict, endpoint
from ...auth import Caller
from ...config import Settings
from ...context import services
from ...errors import BadRequest, Conflict, ProviderAuthError, ProviderError
from ...integrations import oauth_flow, records
from ...integrations.catalog import Refresher
from ...integrations.oauth_flow import AuthorizeUrl, callback_url, front_end
from ...integrations.oauth_state import OAuthStateError, consume_oauth_state
from ...integrations.records import TokenSet
from ...queue.enqueue import enqueue
from .client import NAME, ShopifyClient, normalise_shop, verify_oauth_hmac

log = logging.getLogger(__name__)
CallbackError = Literal["invalid_hmac", "stale_request", "invalid_shop", "invalid_state",
                        "token_exchange_failed", "shop_info_failed", "not_configured"]

bp = Blueprint("shopify", __name__)


def configured(settings: Settings) -> bool:
    return bool(settings.shopify_client_id and settings.shopify_client_secret)


def client(settings: Settings) -> ShopifyClient:
    if not settings.shopify_client_id or not settings.shopify_client_secret:
        raise Conflict("Shopify is not configured on this server (SHOPIFY_CLIENT_ID/SECRET)",
                       code="provider_not_configured")
    return ShopifyClient(client_id=settings.shopify_client_id, client_secret=settings.shopify_client_secret,
                         api_version=settings.shopify_api_version, base_url_template=settings.shopify_base_url,
                         timeout=settings.http_timeout_seconds)


def refresher(settings: Settings) -> Refresher | None:
    if not configured(settings):
        return None

    def refresh(refresh_token: str, row: Mapping[str, Any]) -> TokenSet:
        shop = (row.get("metadata") or {}).get("shop_domain")
        if not shop:
            raise ProviderAuthError(NAME, "the integration names no shop")
        grant = client(settings).refresh(shop, refresh_token)
        return TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)

    return Refresher(NAME, "Shopify", timedelta(seconds=settings.shopify_refresh_window_seconds), refresh)


# What the install takes, as its schema says: a myshopify.com domain in any case, nothing around it.
INSTALL_SHOP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*\.[Mm][Yy][Ss][Hh][Oo][Pp][Ii][Ff][Yy]\.[Cc][Oo][Mm]$")


class InstallQuery(Strict):
    shop: str = Field(description="The shop's myshopify.com domain (any case: it is lower-cased)",
                      json_schema_extra={"pattern": INSTALL_SHOP.pattern})
    format: Literal["redirect", "json"] = Field("redirect", description="json: answer the URL instead of redirecting")



@bp.get("/api/integrations/shopify/install")
@endpoint("Start connecting a Shopify shop: redirect to (or answer) Shopify's authorize URL",
          query=InstallQuery, response=AuthorizeUrl, errors=(400, 409), tags=("integrations",),
          extra_responses={302: "redirect to Shopify's consent screen"})
def install(caller: Caller, query: InstallQuery):  # type: ignore[no-untyped-def]
    settings = services().settings
    shop = normalise_shop(query.shop) if INSTALL_SHOP.fullmatch(query.shop) else None
    if shop is None:
        raise BadRequest("shop must be a *.myshopify.com domain", code="invalid_shop")
    with services().db.as_service() as conn:
        _refuse_unless_free(conn, caller.user_id, shop)
    shopify = client(settings)
    return oauth_flow.start(
        caller.user_id, NAME, as_json=query.format == "json", shop=shop, metadata={"shop_domain": shop},
        authorize_url=lambda state: shopify.authorize_url(shop, scopes=settings.shopify_scopes, state=state,
                                                          redirect_uri=callback_url(settings, NAME)))


def _refuse_unless_free(conn: psycopg.Connection[Any], user_id: str, shop: str) -> None:
    """One shop per account: a switch goes through a disconnect. Whether another account holds the
    shop is not said here, to anyone who can type a domain: the callback refuses it (shop_in_use)
    once Shopify has shown that the caller administers the shop."""
    row = conn.execute("select public.shopify_held_shop(%s) as held", [user_id]).fetchone()
    assert row is not None
    if row["held"] and row["held"] != shop:
        raise Conflict(f"this account holds {row['held']}: disconnect it before connecting {shop}",
                       code="another_shop_connected")


def _held_elsewhere(conn: psycopg.Connection[Any], user_id: str, shop: str) -> bool:
    row = conn.execute("select public.shopify_shop_held_elsewhere(%s, %s) as held", [user_id, shop]).fetchone()
    return bool(row and row["held"])


@bp.get("/api/integrations/shopify/callback")
@endpoint("Shopify's OAuth redirect back (HMAC-verified); redirects to the front end",
          auth=False, status=302, produces=(), tags=("integrations",),
          description="Redirects to APP_URL/dashboard/settings/integrations with success=shopify_connected "
                      "or error=invalid_hmac|stale_request|invalid_shop|invalid_state|"
                      "token_exchange_failed|shop_info_failed|shop_in_use (another account holds the shop: said "
                      "only here, after Shopify's signed redirect shows the user administers it).")
def callback():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not configured(settings) or not settings.shopify_client_secret:
        return oauth_flow.refuse(NAME, "not_configured")
    params = list(request.args.items(multi=True))
    if not verify_oauth_hmac(params, request.args.get("hmac"), settings.shopify_client_secret):
        return oauth_flow.refuse(NAME, "invalid_hmac")
    try:
        age = abs(time.time() - int(request.args.get("timestamp", "")))
    except ValueError:
        return oauth_flow.refuse(NAME, "stale_request")
    if age > settings.shopify_callback_max_age_seconds:
        return oauth_flow.refuse(NAME, "stale_request")
    shop = normalise_shop(request.args.get("shop"))
    if shop is None:
        return oauth_flow.refuse(NAME, "invalid_shop")
    code, state = request.args.get("code"), request.args.get("state")
    if not code or not state:
        return oauth_flow.refuse(NAME, "invalid_state")
    db = services().db
    try:
        with db.as_service() as conn:
            user_id = consume_oauth_state(conn, NAME, state, shop)
            held_elsewhere = _held_elsewhere(conn, user_id, shop)
    except OAuthStateError as exc:
        log.warning("Shopify callback state refused (%s)", exc.reason)
        return oauth_flow.refuse(NAME, "invalid_state")
    # Before any token is asked for: a link to another account's install must not move a shop.
    if held_elsewhere:
        return oauth_flow.refuse(NAME, "shop_in_use", user_id, "that shop is connected to another account")

    shopify = client(settings)
    try:
        grant = shopify.exchange_code(shop, code)
    except ProviderError as exc:
        return oauth_flow.refuse(NAME, "token_exchange_failed", user_id, f"Shopify token exchange failed: {exc}")
    try:
        info = shopify.shop_info(shop, grant.access_token)
    except ProviderError as exc:
        return oauth_flow.refuse(NAME, "shop_info_failed", user_id, f"Shopify shop query failed: {exc}")

    connected = TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)
    metadata = {"shop_domain": shop, "shop_name": info["name"], "access_scopes": grant.scopes}
    if grant.refresh_token_expires_at:
        metadata["refresh_token_expires_at"] = grant.refresh_token_expires_at.isoformat()
    try:
        with db.as_service() as conn:
            records.mark_connected(conn, user_id, NAME, metadata=metadata,
                                   credentials=connected.as_credentials(), token_expires_at=grant.expires_at)
            conn.execute("select public.claim_shopify_shop(%s, %s)", [user_id, shop])
            enqueue(conn, user_id, "shopify.register_webhooks", {"shop": shop})
    except psycopg.errors.ObjectNotInPrerequisiteState:  # another account connected it meanwhile
        return oauth_flow.refuse(NAME, "shop_in_use", user_id, "that shop is connected to another account")
    log.info("Shopify shop connected for user %s", user_id)
    return redirect(front_end(settings, success="shopify_connected"), code=302)
