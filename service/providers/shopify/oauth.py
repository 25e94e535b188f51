"""Connecting a Shopify shop: install -> Shopify's consent -> callback, and token refresh.

- Offline, expiring access tokens (no `per-user` grant: a background service needs a token that
  outlives the browser session; expiring tokens are required for public apps from 2027).
- The callback verifies the HMAC before anything else, refuses stale timestamps, validates the
  shop, consumes the single-use state bound to user, provider and shop, then exchanges the code.
  Each failure redirects to the front end with one error code and leaves nothing half stored.
- Bound to the browser: a flow begun in the console connects only when the callback comes back
  to that signed-in console session; a flow begun through the JSON API is held at the callback
  until the user who began it confirms (POST /api/integrations/shopify/confirm).
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
from urllib.parse import urlencode

import psycopg
from flask import Blueprint, redirect, request
from pydantic import Field

from ...api import Strict, endpoint
from ...auth import Caller
from ...config import Settings
from ...console import sessions
from ...context import services
from ...errors import ApiError, BadRequest, Conflict, PermanentError, ProviderAuthError, ProviderError
from ...integrations import oauth_flow, records, tokens
from ...integrations.catalog import Refresher
from ...integrations.oauth_flow import AuthorizeUrl, ConfirmRequest, Confirmed, callback_url, front_end
from ...integrations.oauth_state import OAuthStateError, consume_oauth_state, take_confirmation
from ...integrations.records import TokenSet
from ...queue.enqueue import enqueue
from ...queue.registry import Job
from .client import NAME, ShopifyClient, normalise_shop, verify_oauth_hmac

log = logging.getLogger(__name__)
CallbackError = Literal["invalid_hmac", "stale_request", "invalid_shop", "invalid_state", "other_browser",
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
          extra_responses={302: "redirect to Shopify's consent screen"},
          description="The callback then holds the connection until the same user confirms it with "
                      "POST /api/integrations/shopify/confirm (the `confirm` value it sends the front end).")
def install(caller: Caller, query: InstallQuery):  # type: ignore[no-untyped-def]
    url = begin_install(caller.user_id, {"shop": query.shop}, None)
    return AuthorizeUrl(authorize_url=url) if query.format == "json" else redirect(url, code=302)


def begin_install(user_id: str, params: Mapping[str, str], browser_binding: bytes | None) -> str:
    """Starts a flow for `params["shop"]`; the consent screen's URL. `browser_binding`: the
    console session that must come back (None: the JSON API's flow, held for confirmation)."""
    settings = services().settings
    requested = params.get("shop") or ""
    shop = normalise_shop(requested) if INSTALL_SHOP.fullmatch(requested) else None
    if shop is None:
        raise BadRequest("shop must be a *.myshopify.com domain", code="invalid_shop")
    with services().db.as_service() as conn:
        _refuse_unless_free(conn, user_id, shop)
    shopify = client(settings)
    started = oauth_flow.start(
        user_id, NAME, as_json=True, shop=shop, metadata={"shop_domain": shop}, browser_binding=browser_binding,
        authorize_url=lambda state: shopify.authorize_url(shop, scopes=settings.shopify_scopes, state=state,
                                                          redirect_uri=callback_url(settings, NAME)))
    assert isinstance(started, AuthorizeUrl)
    return started.authorize_url


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
          description="Redirects to APP_URL/console/integrations with success=shopify_connected, "
                      "confirm=<id> (a flow begun through the JSON API: its user confirms it), or "
                      "error=invalid_hmac|stale_request|invalid_shop|invalid_state|other_browser|"
                      "token_exchange_failed|shop_info_failed|shop_in_use (another account holds the shop: said "
                      "only here, after Shopify's signed redirect shows the user administers it).")
def callback():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not configured(settings) or not settings.shopify_client_secret:
        return oauth_flow.refuse(NAME, "not_configured")
    params = list(request.args.items(multi=True))
    if not verify_oauth_hmac(params, request.args.get("hmac"), settings.shopify_client_secret):
        return oauth_flow.refuse(NAME, "invalid_hmac")
    if not fresh(settings, request.args.get("timestamp")):
        return oauth_flow.refuse(NAME, "stale_request")
    shop = normalise_shop(request.args.get("shop"))
    if shop is None:
        return oauth_flow.refuse(NAME, "invalid_shop")
    code, state = request.args.get("code"), request.args.get("state")
    if not code or not state:
        return oauth_flow.refuse(NAME, "invalid_state")
    try:
        with services().db.as_service() as conn:
            consumed = consume_oauth_state(conn, NAME, state, shop)
    except OAuthStateError as exc:
        log.warning("Shopify callback state refused (%s)", exc.reason)
        return oauth_flow.refuse(NAME, "invalid_state")
    arrival = oauth_flow.arrival(consumed)
    if arrival == "other_browser":
        return oauth_flow.other_browser(NAME, consumed)
    if arrival == "api_flow":
        return oauth_flow.hold_for_confirmation(NAME, consumed, code)
    failure = _connect(consumed.user_id, shop, code)
    if failure is not None:
        return oauth_flow.refuse(NAME, failure[0], consumed.user_id, failure[1])
    return redirect(front_end(settings, success="shopify_connected", provider=NAME), code=302)


@bp.get("/api/integrations/shopify/launch")
@endpoint("Where Shopify opens the app (the app URL): verified like the callback, then sign-in and consent",
          auth=False, status=302, produces=(), tags=("integrations",),
          description="Shopify sends shop, hmac, timestamp (and host). A verified, fresh request from a signed-in "
                      "console session goes on to Shopify's consent screen for that shop (the flow bound to this "
                      "browser); signed out, it goes to the console's sign-in first and comes back. A shop this "
                      "account already holds lands on the console's integrations page.")
def launch():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not configured(settings) or not settings.shopify_client_secret:
        return redirect(front_end(settings, error="not_configured", provider=NAME), code=302)
    if not verify_oauth_hmac(list(request.args.items(multi=True)), request.args.get("hmac"),
                             settings.shopify_client_secret):
        return redirect(front_end(settings, error="invalid_hmac", provider=NAME), code=302)
    shop = normalise_shop(request.args.get("shop"))
    if shop is None:
        return redirect(front_end(settings, error="invalid_shop", provider=NAME), code=302)
    session = sessions.current()
    if session is None:
        return redirect("/console/sign-in?" + urlencode({"next": request.full_path}), code=302)
    if not fresh(settings, request.args.get("timestamp")):
        # Signing in took longer than Shopify's request stays fresh: the wizard's form, shop filled in.
        return redirect(f"/console/setup?step=shopify&shop={shop}", code=302)
    with services().db.as_service() as conn:
        held = conn.execute("select public.shopify_held_shop(%s) as held", [session.user_id]).fetchone()
    if held and held["held"] == shop:
        return redirect(front_end(settings, provider=NAME), code=302)
    raw = sessions.raw_id()
    assert raw is not None
    try:
        url = begin_install(session.user_id, {"shop": shop}, sessions.digest(raw))
    except ApiError as exc:
        return redirect(front_end(settings, error=exc.code, provider=NAME), code=302)
    return redirect(url, code=302)


def fresh(settings: Settings, timestamp: str | None) -> bool:
    """A signed Shopify request is recent (within SHOPIFY_CALLBACK_MAX_AGE_SECONDS)."""
    try:
        age = abs(time.time() - int(timestamp or ""))
    except ValueError:
        return False
    return age <= settings.shopify_callback_max_age_seconds


def _connect(user_id: str, shop: str, code: str) -> tuple[str, str] | None:
    """Exchanges the code and connects the shop; (error code, detail) when it cannot."""
    settings = services().settings
    db = services().db
    with db.as_service() as conn:
        held_elsewhere = _held_elsewhere(conn, user_id, shop)
    # Before any token is asked for: a link to another account's install must not move a shop.
    if held_elsewhere:
        return "shop_in_use", "that shop is connected to another account"
    shopify = client(settings)
    try:
        grant = shopify.exchange_code(shop, code)
    except ProviderError as exc:
        return "token_exchange_failed", f"Shopify token exchange failed: {exc}"
    try:
        info = shopify.shop_info(shop, grant.access_token)
    except ProviderError as exc:
        return "shop_info_failed", f"Shopify shop query failed: {exc}"

    connected = TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)
    metadata = {"shop_domain": shop, "shop_name": info["name"], "access_scopes": grant.scopes}
    if grant.refresh_token_expires_at:
        metadata["refresh_token_expires_at"] = grant.refresh_token_expires_at.isoformat()
    try:
        with db.as_service() as conn:
            records.mark_connected(conn, user_id, NAME, metadata=metadata,
                                   credentials=connected.as_credentials(), token_expires_at=grant.expires_at)
            conn.execute("select public.claim_shopify_shop(%s, %s)", [user_id, shop])
            # The shop's days (daily_metrics) are counted in its own zone; unknown here: UTC.
            zone = info.get("ianaTimezone")
            stored = conn.execute("select public.set_shopify_shop_time_zone(%s, %s) as zone",
                                  [shop, zone if isinstance(zone, str) else None]).fetchone()
            if stored is None or stored["zone"] is None:
                log.warning("Shopify shop %s: time zone %r unknown here; its days are counted in UTC", shop, zone)
            enqueue(conn, user_id, "shopify.register_webhooks", {"shop": shop})
    except psycopg.errors.ObjectNotInPrerequisiteState:  # another account connected it meanwhile
        return "shop_in_use", "that shop is connected to another account"
    log.info("Shopify shop connected for user %s", user_id)
    return None


def confirm_install(user_id: str, confirmation: str) -> str | None:
    """The user who began a JSON API flow confirms it; None once connected, else an error code."""
    with services().db.as_service() as conn:
        code, shop = take_confirmation(conn, NAME, confirmation, user_id)
    assert shop is not None
    failure = _connect(user_id, shop, code)
    if failure is None:
        return None
    with services().db.as_service() as conn:
        records.mark_error(conn, user_id, NAME, failure[1], keep_connected=True)
    return failure[0]


@bp.post("/api/integrations/shopify/confirm")
@endpoint("Confirm a Shopify connection begun through the JSON API (the callback held it)",
          body=ConfirmRequest, response=Confirmed, errors=(404, 409), tags=("integrations",),
          description=oauth_flow.CONFIRM_DESCRIPTION)
def confirm(caller: Caller, body: ConfirmRequest) -> Confirmed:
    return oauth_flow.confirm_through_api(NAME, "Shopify", confirm_install, caller.user_id, body.confirmation)


def usable_token(job: Job, *, allow_disconnected: bool = False) -> str:
    """The shop's access token for a worker job, refreshed first when it is about to expire."""
    shopify_refresher = refresher(job.context.settings)
    if shopify_refresher is None:
        raise PermanentError("Shopify is not configured on this server")
    return tokens.access_token(job.context.db, shopify_refresher, job.user_id, reader=job.operation_type,
                               allow_disconnected=allow_disconnected)
