"""Credentials in Supabase Vault, through the SQL functions only.

`store_credential`, `get_credential` (every read audited) and `delete_credentials` are
executable by `service_role` alone, so these calls belong in `db.as_service()` transactions.
Storing again replaces the value in place; deleting an integration or a user deletes its secrets
(SQL triggers).
"""
from __future__ import annotations

from typing import Any

import psycopg

from .config import Settings
from .queue.maintenance import prune
from .queue.registry import Registry, WorkerContext

PRUNE_READS_EVERY_SECONDS = 24 * 3600.0


def store_credential(conn: psycopg.Connection[Any], user_id: str, provider: str,
                     credential_type: str, value: str) -> None:
    conn.execute("select public.store_credential(%s, %s, %s, %s)",
                 [user_id, provider, credential_type, value])


def get_credential(conn: psycopg.Connection[Any], user_id: str, provider: str, credential_type: str, *,
                   reader: str, purpose: str) -> str | None:
    """The credential, or None. The read is audited in public.credential_reads: `reader` names
    the part of the service (an operation type, a route), `purpose` why it needs the value."""
    row = conn.execute("select public.get_credential(%s, %s, %s, %s, %s) as value",
                       [user_id, provider, credential_type, reader, purpose]).fetchone()
    return None if row is None else row["value"]


def delete_credentials(conn: psycopg.Connection[Any], user_id: str, provider: str) -> None:
    conn.execute("select public.delete_credentials(%s, %s)", [user_id, provider])


def prune_credential_reads(context: WorkerContext) -> None:
    prune(context, "select public.prune_credential_reads(make_interval(days => %s)) as pruned",
          [context.settings.keep_credential_reads_days], "credential read(s) past the retention")


def register(registry: Registry, settings: Settings) -> None:
    registry.periodic("credentials.prune_reads", PRUNE_READS_EVERY_SECONDS, prune_credential_reads)
