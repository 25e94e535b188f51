"""Connecting Pinterest: install -> Pinterest's consent -> callback, board sync, token refresh.

The plan has no install route, reads one page of 100 boards, upserts without a conflict target
and never refreshes. Here the authorize URL carries a single-use state; every board page is read
before the user's set is replaced in one transaction (an interrupted sync leaves the previous
complete set); a 429 retries through the queue's backoff; and the continuous refresh token
Pinterest rotates on every refresh is stored with the new access token in one transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any, Literal

import psycopg
from flask import Blueprint, redirect, request
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from ..api import Strict, endpoint
from ..app import services
from ..auth import Caller
from ..config import Settings
from ..errors import Conflict
from ..providers import ProviderAuthError, ProviderError, ProviderRejected
from ..providers.pinterest import PinterestClient
from ..queue.registry import Job, PermanentError, Registry
from . import oauth_flow, records, tokens
from .oauth_state import OAuthStateError, consume_oauth_state
from .records import TokenSet
from .oauth_flow import AuthorizeUrl, callback_url, front_end

log = logging.getLogger(__name__)
PROVIDER = "pinterest"
CallbackError = Literal["access_denied", "missing_parameters", "invalid_state", "token_exchange_failed",
                        "account_failed", "not_configured"]

bp = Blueprint("pinterest", __name__)


def client(settings: Settings) -> PinterestClient:
    if not settings.pinterest_client_id or not settings.pinterest_client_secret:
        raise Conflict("Pinterest is not configured on this server (PINTEREST_CLIENT_ID/SECRET)",
                       code="provider_not_configured")
    return PinterestClient(client_id=settings.pinterest_client_id, client_secret=settings.pinterest_client_secret,
                           api_base=settings.pinterest_api_base, oauth_url=settings.pinterest_oauth_url,
                           timeout=settings.http_timeout_seconds)


def pinterest_refresher(settings: Settings) -> tokens.Refresher | None:
    if not settings.pinterest_client_id or not settings.pinterest_client_secret:
        return None

    def refresh(refresh_token: str, row: Mapping[str, Any]) -> TokenSet:
        grant = client(settings).refresh(refresh_token)
        return TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)

    return tokens.Refresher(PROVIDER, "Pinterest", timedelta(seconds=settings.pinterest_refresh_window_seconds),
                            refresh)


class InstallQuery(Strict):
    format: Literal["redirect", "json"] = Field("redirect", description="json: answer the URL instead of redirecting")



class SyncQueued(BaseModel):
    queued: bool
    retry_item_id: str


@bp.get("/api/integrations/pinterest/install")
@endpoint("Start connecting Pinterest: redirect to (or answer) Pinterest's authorize URL",
          query=InstallQuery, response=AuthorizeUrl, errors=(409,), tags=("integrations",),
          extra_responses={302: "redirect to Pinterest's consent screen"})
def install(caller: Caller, query: InstallQuery):  # type: ignore[no-untyped-def]
    settings = services().settings
    pinterest = client(settings)
    return oauth_flow.start(
        caller.user_id, PROVIDER, as_json=query.format == "json",
        authorize_url=lambda state: pinterest.authorize_url(scopes=settings.pinterest_scopes, state=state,
                                                            redirect_uri=callback_url(settings, PROVIDER)))



@bp.get("/api/integrations/pinterest/callback")
@endpoint("Pinterest's OAuth redirect back; redirects to the front end", auth=False, status=302, produces=(),
          tags=("integrations",),
          description="Redirects to APP_URL/dashboard/settings/integrations with success=pinterest_connected or "
                      "error=access_denied|missing_parameters|invalid_state|token_exchange_failed|account_failed.")
def callback():  # type: ignore[no-untyped-def]
    settings = services().settings
    if not settings.pinterest_client_id or not settings.pinterest_client_secret:
        return oauth_flow.refuse(PROVIDER, "not_configured")
    state, code, denied = request.args.get("state"), request.args.get("code"), request.args.get("error")
    if not state or not (code or denied):
        return oauth_flow.refuse(PROVIDER, "missing_parameters")
    db = services().db
    try:
        with db.as_service() as conn:
            user_id = consume_oauth_state(conn, PROVIDER, state)
    except OAuthStateError as exc:
        log.warning("Pinterest callback state refused (%s)", exc.reason)
        return oauth_flow.refuse(PROVIDER, "invalid_state")
    if denied or not code:
        return oauth_flow.refuse(PROVIDER, "access_denied", user_id, "Pinterest access was not granted")

    pinterest = client(settings)
    try:
        grant = pinterest.exchange_code(code, callback_url(settings, PROVIDER))
    except ProviderError as exc:
        return oauth_flow.refuse(PROVIDER, "token_exchange_failed", user_id, f"Pinterest token exchange failed: {exc}")
    try:
        account = pinterest.user_account(grant.access_token)
    except ProviderError as exc:
        return oauth_flow.refuse(PROVIDER, "account_failed", user_id, f"Pinterest account query failed: {exc}")

    metadata: dict[str, Any] = {
        "account_name": account.get("business_name") or account["username"],
        "account_id": str(account.get("id") or account["username"]),
        "username": account["username"],
        "board_count": int(account.get("board_count") or 0),
    }
    if grant.refresh_token_expires_at:
        metadata["refresh_token_expires_at"] = grant.refresh_token_expires_at.isoformat()
    connected = TokenSet(grant.access_token, grant.refresh_token, grant.expires_at, grant.refresh_token_expires_at)
    with db.as_service() as conn:
        records.mark_connected(conn, user_id, PROVIDER, metadata=metadata,
                               credentials=connected.as_credentials(), token_expires_at=grant.expires_at)
        queue_sync(conn, user_id)
    log.info("Pinterest connected for user %s", user_id)
    return redirect(front_end(settings, success="pinterest_connected"), code=302)


def queue_sync(conn: psycopg.Connection[Any], user_id: str) -> str:
    row = conn.execute("select public.queue_for_retry(%s, 'pinterest.sync_boards', %s) as id",
                       [user_id, Jsonb({})]).fetchone()
    assert row is not None
    return str(row["id"])


@bp.post("/api/integrations/pinterest/sync")
@endpoint("Queue a board sync from Pinterest", response=SyncQueued, status=202, errors=(409,), tags=("integrations",))
def sync(caller: Caller) -> SyncQueued:
    with services().db.as_service() as conn:
        row = conn.execute("select status from public.integrations where user_id = %s and provider = %s",
                           [caller.user_id, PROVIDER]).fetchone()
        if row is None or row["status"] != "connected":
            raise Conflict("Pinterest is not connected", code="not_connected")
        item = queue_sync(conn, caller.user_id)
    return SyncQueued(queued=True, retry_item_id=item)


def sync_boards(job: Job) -> None:
    """Reads every page, then replaces the user's set and board_count in one transaction."""
    db, settings = job.context.db, job.context.settings
    refresher = pinterest_refresher(settings)
    if refresher is None:
        raise PermanentError("Pinterest is not configured on this server")
    access = tokens.access_token(db, refresher, job.user_id)
    try:
        boards = [asdict(board) for board in client(settings).boards(access)]
    except ProviderAuthError as refused:
        # A token we believe valid was refused: the user removed the app on Pinterest.
        with db.as_service() as conn:
            current = records.lock(conn, job.user_id, PROVIDER)
            if current is not None and current["status"] == "connected":
                records.mark_error(conn, job.user_id, PROVIDER,
                                   "Pinterest refused the access token; reconnect Pinterest", status="expired")
        raise tokens.ReconnectRequired("Pinterest refused the access token; the user must reconnect") from refused
    except ProviderRejected as rejected:
        raise PermanentError(str(rejected)) from rejected  # asking again gets the same answer
    with db.as_service() as conn:
        current = records.lock(conn, job.user_id, PROVIDER)
        if current is None or current["status"] != "connected":
            return  # disconnected while we read: its boards are gone, keep them gone
        row = conn.execute("select public.replace_pinterest_boards(%s, %s) as n",
                           [job.user_id, Jsonb(boards)]).fetchone()
        assert row is not None
        count = row["n"]
        conn.execute("update public.integrations set metadata = metadata || jsonb_build_object('board_count', %s::int)"
                     " where user_id = %s and provider = %s", [count, job.user_id, PROVIDER])


def delete_synced_boards(conn: psycopg.Connection[Any], user_id: str) -> None:
    conn.execute("delete from public.pinterest_boards where user_id = %s", [user_id])


def register(registry: Registry, settings: Settings) -> None:
    registry.handler("pinterest.sync_boards", sync_boards)
