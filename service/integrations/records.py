"""An integration's life cycle, each change in the caller's service transaction together with its
credentials and its activity-log entry, so a connection is never half made or half undone.

The one writer of `public.integrations` (and, through service/vault.py, of its credentials): a
rule about a connection's states is stated here once, as SQL states it once.

Every function takes a connection inside `db.as_service()`; the caller commits. The OAuth flows
(Shopify, Pinterest) and the token refresher reuse these:

    with db.as_service() as conn:
        mark_connected(conn, user_id, "pinterest", metadata={...},
                       credentials=tokens.as_credentials(), token_expires_at=tokens.expires_at)
    with db.as_service() as conn:          # the refresher, after a successful refresh
        store_tokens(conn, user_id, "pinterest", tokens)

No function here puts a credential value in a log line, an error, metadata or the activity log.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import vault

MODULE = "integrations"
# The public columns of an integration row: everything but ids, never a secret.
PUBLIC_COLUMNS = ("provider, status, metadata, last_error, last_error_at, token_expires_at,"
                  " last_refreshed_at, connected_at, disconnected_at, created_at, updated_at")
Row = dict[str, Any]


@dataclass(frozen=True)
class TokenSet:
    """What an OAuth grant or refresh returns. Refresh tokens rotate, so both are stored together."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None

    def as_credentials(self) -> dict[str, str]:
        credentials = {"access_token": self.access_token}
        if self.refresh_token:
            credentials["refresh_token"] = self.refresh_token
        return credentials

    def __repr__(self) -> str:  # never print the tokens
        return f"TokenSet(expires_at={self.expires_at!r})"


def log_activity(conn: psycopg.Connection[Any], user_id: str, action_type: str,
                 details: Mapping[str, Any]) -> None:
    conn.execute("select public.log_activity(%s, %s, %s, true, %s)",
                 [user_id, action_type, Jsonb(dict(details)), MODULE])


def lock(conn: psycopg.Connection[Any], user_id: str, provider: str) -> Row | None:
    """The row, locked until the transaction ends, or None."""
    return conn.execute(
        f"select {PUBLIC_COLUMNS} from public.integrations"
        " where user_id = %s and provider = %s for update",
        [user_id, provider],
    ).fetchone()


def mark_connecting(conn: psycopg.Connection[Any], user_id: str, provider: str,
                    metadata: Mapping[str, Any] | None = None) -> Row:
    """An OAuth flow has begun. A connected row stays connected until the new grant arrives."""
    row = conn.execute(
        f"""insert into public.integrations as i (user_id, provider, status, metadata)
            values (%s, %s, 'connecting', %s)
            on conflict (user_id, provider) do update
            set status = case when i.status = 'connected' then i.status else 'connecting' end,
                metadata = case when i.status = 'connected' then i.metadata else excluded.metadata end
            returning {PUBLIC_COLUMNS}""",
        [user_id, provider, Jsonb(dict(metadata or {}))],
    ).fetchone()
    assert row is not None
    return row


def mark_connected(conn: psycopg.Connection[Any], user_id: str, provider: str, *,
                   metadata: Mapping[str, Any], credentials: Mapping[str, str],
                   token_expires_at: datetime | None = None) -> Row:
    """Stores the credentials (replacing any) and marks the row connected with fresh metadata.

    The trigger on integrations completes the provider's setup step.
    """
    for credential_type, value in credentials.items():
        vault.store_credential(conn, user_id, provider, credential_type, value)
    row = conn.execute(
        f"""update public.integrations
            set status = 'connected', metadata = %s, token_expires_at = %s,
                connected_at = now(), disconnected_at = null, last_error = null, last_error_at = null
            where user_id = %s and provider = %s
            returning {PUBLIC_COLUMNS}""",
        [Jsonb(dict(metadata)), token_expires_at, user_id, provider],
    ).fetchone()
    assert row is not None, "store_credential creates the row"
    log_activity(conn, user_id, "integration_connected",
                 {"provider": provider, "metadata": dict(metadata)})
    return row


def store_tokens(conn: psycopg.Connection[Any], user_id: str, provider: str, tokens: TokenSet) -> Row:
    """After a token refresh: access token, rotated refresh token and expiry in one transaction.

    A disconnected row stays disconnected: its clean-up may refresh the token it is about to use
    one last time, and must not bring the connection back.
    """
    for credential_type, value in tokens.as_credentials().items():
        vault.store_credential(conn, user_id, provider, credential_type, value)
    refresh_expiry = tokens.refresh_token_expires_at.isoformat() if tokens.refresh_token_expires_at else None
    row = conn.execute(
        f"""update public.integrations
            set status = case when status = 'disconnected' then status else 'connected' end,
                token_expires_at = %s, last_refreshed_at = now(),
                last_error = null, last_error_at = null,
                metadata = case when %s::text is null then metadata
                                else metadata || jsonb_build_object('refresh_token_expires_at', %s::text) end
            where user_id = %s and provider = %s
            returning {PUBLIC_COLUMNS}""",
        [tokens.expires_at, refresh_expiry, refresh_expiry, user_id, provider],
    ).fetchone()
    assert row is not None
    return row


def mark_error(conn: psycopg.Connection[Any], user_id: str, provider: str, message: str, *,
               status: str = "error", keep_connected: bool = False) -> Row:
    """Records a failure (status `error`, or `expired` for a dead grant) without touching credentials.

    `keep_connected`: a failed attempt to replace a working connection (a mistyped new key)
    records the error but leaves the connection as it was.
    """
    row = conn.execute(
        f"""insert into public.integrations as i (user_id, provider, status, last_error, last_error_at)
            values (%s, %s, %s, %s, now())
            on conflict (user_id, provider) do update
            set status = case when %s and i.status = 'connected' then i.status else excluded.status end,
                last_error = excluded.last_error, last_error_at = excluded.last_error_at
            returning {PUBLIC_COLUMNS}""",
        [user_id, provider, status, message, keep_connected],
    ).fetchone()
    assert row is not None
    log_activity(conn, user_id, "integration_error", {"provider": provider, "error": message})
    return row


def mark_disconnected(conn: psycopg.Connection[Any], user_id: str, provider: str, *,
                      delete_credentials: bool = True) -> Row | None:
    """Marks the row disconnected and deletes its credentials (and their Vault secrets).

    `delete_credentials=False`: a queued provider clean-up still needs them (and the metadata
    naming the remote account) and clears both itself.
    """
    if delete_credentials:
        vault.delete_credentials(conn, user_id, provider)
    row = conn.execute(
        f"""update public.integrations
            set status = 'disconnected', metadata = case when %s then '{{}}'::jsonb else metadata end,
                token_expires_at = case when %s then null else token_expires_at end,
                disconnected_at = now(), last_error = null, last_error_at = null
            where user_id = %s and provider = %s
            returning {PUBLIC_COLUMNS}""",
        [delete_credentials, delete_credentials, user_id, provider],
    ).fetchone()
    if row is not None:
        log_activity(conn, user_id, "integration_disconnected", {"provider": provider})
    return row


def finish_disconnect(conn: psycopg.Connection[Any], user_id: str, provider: str) -> None:
    """A provider's clean-up after a disconnect is done: its credentials and the metadata naming
    the remote account go too. The caller holds the row lock and has seen it still disconnected."""
    vault.delete_credentials(conn, user_id, provider)
    conn.execute("update public.integrations set metadata = '{}', token_expires_at = null"
                 " where user_id = %s and provider = %s", [user_id, provider])


def merge_metadata(conn: psycopg.Connection[Any], user_id: str, provider: str, changes: Mapping[str, Any]) -> None:
    """Sets some metadata keys (e.g. a synced count), keeping the others."""
    conn.execute("update public.integrations set metadata = metadata || %s where user_id = %s and provider = %s",
                 [Jsonb(dict(changes)), user_id, provider])
