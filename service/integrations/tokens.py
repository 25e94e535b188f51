"""Keeping expiring OAuth tokens alive: ahead of time in the worker, and on demand before a call.

One mechanism for every provider whose tokens expire (Shopify about an hour, Pinterest 30 days;
both rotate the refresh token on every refresh). A refresh locks the integration row, so two
workers never refresh the same integration and a rotated refresh token is never spent twice:
the periodic job skips rows someone else holds, a caller about to use a token waits for them
and then finds the token fresh. The new access token, the rotated refresh token and the expiry
are stored in the transaction that holds the lock. A refused refresh marks the integration
`expired` so the wizard asks the user to reconnect.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from .. import vault
from ..config import Settings
from ..db import Database
from ..errors import PermanentError, ProviderAuthError, ProviderError
from ..queue.registry import Registry, WorkerContext
from . import records
from .catalog import Refresher

log = logging.getLogger(__name__)


REFRESH_JOB = "tokens.refresh"


class ReconnectRequired(PermanentError):
    """The provider refused the refresh: the integration is `expired` until the user reconnects."""

    code = "reconnect_required"


class NotConnected(PermanentError):
    """There is no usable connection (never connected, disconnected, or no token stored)."""

    code = "not_connected"


def _due(row: Mapping[str, Any], window: timedelta) -> bool:
    expires = row.get("token_expires_at")
    return expires is not None and expires < datetime.now(timezone.utc) + window


def _refresh_locked(conn: Any, refresher: Refresher, user_id: str, row: Mapping[str, Any],
                    reader: str) -> ProviderAuthError | None:
    """Refreshes while the caller holds the row lock; returns the refusal, if the provider refused."""
    refresh_token = vault.get_credential(conn, user_id, refresher.provider, "refresh_token", reader=reader,
                                         purpose=f"refresh the {refresher.name} access token")
    if not refresh_token:
        raise NotConnected(f"{refresher.name}: no refresh token stored; reconnect")
    try:
        tokens = refresher.refresh(refresh_token, row)
    except ProviderAuthError as exc:
        if row["status"] != "disconnected":  # a disconnected row has nobody left to reconnect
            records.mark_error(conn, user_id, refresher.provider,
                               f"{refresher.name} refused to refresh the access token; reconnect {refresher.name}",
                               status="expired")
        return exc
    records.store_tokens(conn, user_id, refresher.provider, tokens)
    return None


def access_token(db: Database, refresher: Refresher, user_id: str, *, reader: str,
                 allow_disconnected: bool = False) -> str:
    """A usable access token, refreshed first when it expires within the provider's window.

    `reader`: the part of the service that will call the provider with it (the credential-read
    audit names it). `allow_disconnected`: clean-up after a disconnect still needs the token it
    is about to delete.
    """
    with db.as_service() as conn:
        row = records.lock(conn, user_id, refresher.provider)  # waits for a refresh under way
        usable = {"connected", "disconnected"} if allow_disconnected else {"connected"}
        if row is None or row["status"] not in usable:
            raise NotConnected(f"{refresher.name} is not connected")
        refused = _refresh_locked(conn, refresher, user_id, row, reader) if _due(row, refresher.window) else None
        token = None if refused else vault.get_credential(conn, user_id, refresher.provider, "access_token",
                                                          reader=reader, purpose=f"call {refresher.name}")
    if refused is not None:
        raise ReconnectRequired(f"{refresher.name} refused the refresh; the user must reconnect") from refused
    if not token:
        raise NotConnected(f"{refresher.name}: no access token stored")
    return token


def refresh_if_due(db: Database, refresher: Refresher, user_id: str) -> str:
    """The periodic path: skips a row another worker holds; returns what happened."""
    with db.as_service() as conn:
        row = conn.execute(
            "select status, token_expires_at, metadata from public.integrations"
            " where user_id = %s and provider = %s for update skip locked",
            [user_id, refresher.provider],
        ).fetchone()
        if row is None:
            return "busy"
        if row["status"] != "connected" or not _due(row, refresher.window):
            return "not due"
        refused = _refresh_locked(conn, refresher, user_id, row, REFRESH_JOB)
    return "expired" if refused else "refreshed"


def refresh_due_tokens(context: WorkerContext) -> None:
    for refresher in context.providers.refreshers(context.settings):
        with context.db.as_service() as conn:
            due = [str(r["user_id"]) for r in conn.execute(
                "select public.integrations_due_for_refresh(%s, make_interval(secs => %s)) as user_id",
                [refresher.provider, refresher.window.total_seconds()])]
        for user_id in due:
            try:
                outcome = refresh_if_due(context.db, refresher, user_id)
            except Exception as exc:  # noqa: BLE001 - one user's trouble must not cost the others their refresh
                _record_failure(context.db, refresher, user_id, exc)
                continue
            log.info("%s token for user %s: %s", refresher.name, user_id, outcome)


def _record_failure(db: Database, refresher: Refresher, user_id: str, exc: Exception) -> None:
    """The next run tries again, after the healthy rows (integrations_due_for_refresh)."""
    # Provider errors are written to be shown; anything else is named by its type only.
    error = f"token refresh failed: {exc}" if isinstance(exc, (ProviderError, PermanentError)) \
        else f"token refresh failed: {type(exc).__name__}"
    log.warning("%s %s for user %s", refresher.name, error, user_id,
                exc_info=not isinstance(exc, (ProviderError, PermanentError, psycopg.Error)))
    try:
        with db.as_service() as conn:
            conn.execute("select public.record_refresh_failure(%s, %s, %s)", [user_id, refresher.provider, error])
    except psycopg.Error as db_error:
        log.warning("could not record the failure: %s", type(db_error).__name__)


def register(registry: Registry, settings: Settings) -> None:
    registry.periodic(REFRESH_JOB, settings.token_refresh_every_seconds, refresh_due_tokens)
