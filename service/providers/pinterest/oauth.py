"""Connecting Pinterest: install -> Pinterest's consent -> callback, token refresh, queueing a board sync.

The plan has no install route, reads one page of 100 boards, upserts without a conflict target
and never refreshes. Here the authorize URL carries a single-use state; every board page is read
before the user's set is replaced in one transaction (an interrupted sync leaves the previous
complete set); a 429 retries through the queue's backoff; and the continuous refresh token
Pinterest rotates on every refresh is stored with the new access token in one transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

import psycopg
from flask import Blueprint, redirect, request
from pydantic import BaseModel, Field

from ...api import Strict, endpoint
from ...auth import Caller
from ...config import Settings
from ...context import services
from ...errors import Conflict, ProviderError
from ...integrations import oauth_flow, records
from ...integrations.catalog import Refresher
from ...integrations.oauth_flow import AuthorizeUrl, ConfirmRequest, Confirmed, callback_url, front_end
from ...integrations.oauth_state import OAuthStateError, consume_oauth_state, take_confirmation
from ...integrations.records import TokenSet
from ...queue.enqueue import enqueue
from .client import NAME, PinterestClient

log = logging.getLogger(__name__)
CallbackError = Literal["access_denied", "missing_parameters", "invalid_state", "other_browser",
                        "token_exchange_failed", "account_failed", "not_configured"]

bp = Blueprint("pinterest", __name__)
SYNC_BOARDS = "pinterest.sync_boards"
SYNC_DATA = "pinterest.sync_data"


def configured(settings: Settings) -> bool:
    return bool(settings.pinterest_client_id and settings.pinterest_client_secret)


def client(settings: Settings) -> PinterestClient:
    if not settings.pinterest_client_id or not settings.pinterest_client_secret:
        raise Conflict("Pinterest is not configured on this server (PINTEREST_CLIENT_ID/SECRET)",
                       code="provider_not_configured")
    return PinterestClient(client_id=settings.pinterest_client_id, client_secret=settings.pinterest_client_secret,
                           api_base=settings.pinterest_api_base, oauth_url=settings.pinterest_oauth_url,
                           timeout=settings.http_timeout_seconds)


def refresher(settings: Settings) -> Refresher | None:
    if not configured(settings):
        return None

    def refresh(refresh_token: str, row: Mapping[str, Any]) -> TokenSet:
        grant = client(settings).refresh(refresh_token)
        return TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)

    return Refresher(NAME, "Pinterest", timedelta(seconds=settings.pinterest_refresh_window_seconds), refresh)


class InstallQuery(Strict):
    format: Literal["redirect", "json"] = Field("redirect", description="json: answer the URL instead of redirecting")



class SyncQuery(Strict):
    what: Literal["boards", "data"] = Field(
        "boards", description="boards: the board sync; data: boards, pins, their daily metrics, the account's "
                              "daily figures and ad accounts (pinterest.sync_data)")


class SyncQueued(BaseModel):
    queued: bool
    retry_item_id: str
    already_queued: bool = Field(False, description="a sync was pending already: this is its item, and no "
                                                    "second one was queued")


@bp.get("/api/integrations/pinterest/install")
@endpoint("Start connecting Pinterest: redirect to (or answer) Pinterest's authorize URL",
          query=InstallQuery, response=AuthorizeUrl, errors=(409,), tags=("integrations",),
          extra_responses={302: "redirect to Pinterest's consent screen"},
          description="The callback then holds the connection until the same user confirms it with "
                      "POST /api/integrations/pinterest/confirm (the `confirm` value it sends the front end).")
def install(caller: Caller, query: InstallQuery):  # type: ignore[no-untyped-def]
    url = begin_install(caller.user_id, {}, None)
    return AuthorizeUrl(authorize_url=url) if query.format == "json" else redirect(url, code=302)


def begin_install(user_id: str, params: Mapping[str, str], browser_binding: bytes | None) -> str:
    """Starts a flow; the consent screen's URL. `browser_binding`: the console session that must
    come back (None: the JSON API's flow, held for confirmation)."""
    settings = services().settings
    pinterest = client(settings)
    started = oauth_flow.start(
        user_id, NAME, as_json=True, browser_binding=browser_binding,
        authorize_url=lambda state: pinterest.authorize_url(scopes=settings.pinterest_scopes, state=state,
                                                            redirect_uri=callback_url(settings, NAME)))
    assert isinstance(started, AuthorizeUrl)
    return started.authorize_url


@bp.get("/api/integrations/pinterest/callback")
@endpoint("Pinterest's OAuth redirect back; redirects to the front end", auth=False, status=302, produces=(),
          tags=("integrations",),
          description="Redirects to APP_URL/console/integrations with success=pinterest_connected, "
                      "confirm=<id> (a flow begun through the JSON API: its user confirms it) or "
                      "error=access_denied|missing_parameters|invalid_state|other_browser|"
                      "token_exchange_failed|account_failed.")
def callback():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not configured(settings):
        return oauth_flow.refuse(NAME, "not_configured")
    state, code, denied = request.args.get("state"), request.args.get("code"), request.args.get("error")
    if not state or not (code or denied):
        return oauth_flow.refuse(NAME, "missing_parameters")
    try:
        with services().db.as_service() as conn:
            consumed = consume_oauth_state(conn, NAME, state)
    except OAuthStateError as exc:
        log.warning("Pinterest callback state refused (%s)", exc.reason)
        return oauth_flow.refuse(NAME, "invalid_state")
    arrival = oauth_flow.arrival(consumed)
    if arrival == "other_browser":
        return oauth_flow.other_browser(NAME, consumed)
    if denied or not code:
        return oauth_flow.refuse(NAME, "access_denied", consumed.user_id, "Pinterest access was not granted")
    if arrival == "api_flow":
        return oauth_flow.hold_for_confirmation(NAME, consumed, code)
    failure = _connect(consumed.user_id, code)
    if failure is not None:
        return oauth_flow.refuse(NAME, failure[0], consumed.user_id, failure[1])
    return redirect(front_end(settings, success="pinterest_connected", provider=NAME), code=302)


def _connect(user_id: str, code: str) -> tuple[str, str] | None:
    """Exchanges the code and connects the account; (error code, detail) when it cannot."""
    settings = services().settings
    pinterest = client(settings)
    try:
        grant = pinterest.exchange_code(code, callback_url(settings, NAME))
    except ProviderError as exc:
        return "token_exchange_failed", f"Pinterest token exchange failed: {exc}"
    try:
        account = pinterest.user_account(grant.access_token)
    except ProviderError as exc:
        return "account_failed", f"Pinterest account query failed: {exc}"

    metadata: dict[str, Any] = {
        "account_name": account.get("business_name") or account["username"],
        "account_id": str(account.get("id") or account["username"]),
        "username": account["username"],
        "board_count": int(account.get("board_count") or 0),
    }
    if grant.refresh_token_expires_at:
        metadata["refresh_token_expires_at"] = grant.refresh_token_expires_at.isoformat()
    connected = TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)
    with services().db.as_service() as conn:
        records.mark_connected(conn, user_id, NAME, metadata=metadata,
                               credentials=connected.as_credentials(), token_expires_at=grant.expires_at)
        queue_sync(conn, user_id)
    log.info("Pinterest connected for user %s", user_id)
    return None


def confirm_install(user_id: str, confirmation: str) -> str | None:
    """The user who began a JSON API flow confirms it; None once connected, else an error code."""
    with services().db.as_service() as conn:
        code, _ = take_confirmation(conn, NAME, confirmation, user_id)
    failure = _connect(user_id, code)
    if failure is None:
        return None
    with services().db.as_service() as conn:
        records.mark_error(conn, user_id, NAME, failure[1], keep_connected=True)
    return failure[0]


@bp.post("/api/integrations/pinterest/confirm")
@endpoint("Confirm a Pinterest connection begun through the JSON API (the callback held it)",
          body=ConfirmRequest, response=Confirmed, errors=(404, 409), tags=("integrations",),
          description=oauth_flow.CONFIRM_DESCRIPTION)
def confirm(caller: Caller, body: ConfirmRequest) -> Confirmed:
    return oauth_flow.confirm_through_api(NAME, "Pinterest", confirm_install, caller.user_id, body.confirmation)


def queue_sync(conn: psycopg.Connection[Any], user_id: str, operation_type: str = SYNC_BOARDS) -> tuple[str, bool]:
    """Queues a board sync (or a data sync) unless one is pending already: (its item id, whether
    it is new).

    At most one pending sync per user: a second would do exactly what the first does, and 300 calls
    would otherwise queue 300. The caller holds the integration row's lock, so two requests cannot
    both find none pending. A sync already running (processing) may have read its pages, so a new
    request queues one more."""
    pending = conn.execute("select id::text from public.retry_queue where user_id = %s and operation_type = %s"
                           " and status = 'pending' order by created_at limit 1", [user_id, operation_type]).fetchone()
    if pending is not None:
        return pending["id"], False
    return enqueue(conn, user_id, operation_type), True


@bp.post("/api/integrations/pinterest/sync")
@endpoint("Queue a board sync, or a data sync, from Pinterest (at most one of each pending per user)",
          query=SyncQuery, response=SyncQueued, status=202, errors=(409,), tags=("integrations",),
          description="202 with the queue item: `?what=boards` (the default) syncs the boards, `?what=data` "
                      "boards, pins, their daily metrics, the account's daily figures and ad accounts (the worker "
                      "also runs it every PINTEREST_SYNC_EVERY_SECONDS). While a sync of that kind is pending "
                      "already, no second one is queued: the answer is that item, with already_queued true. "
                      "409 `not_connected`.")
def sync(caller: Caller, query: SyncQuery) -> SyncQueued:
    with services().db.as_service() as conn:
        row = records.lock(conn, caller.user_id, NAME)
        if row is None or row["status"] != "connected":
            raise Conflict("Pinterest is not connected", code="not_connected")
        item, new = queue_sync(conn, caller.user_id, SYNC_DATA if query.what == "data" else SYNC_BOARDS)
    return SyncQueued(queued=True, retry_item_id=item, already_queued=not new)
